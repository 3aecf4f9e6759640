/**
 * A progress line on stderr for long exports: a bar redrawn in place on a terminal, nothing at all
 * when stderr is not one (a pipe, a log file, a script), so that output stays clean there.
 */
const WIDTH = 24;

export class Progress {
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    /** About how many items there are (an estimate), or null when unknown. */
    private readonly estimate: number | null,
    private readonly noun: string,
  ) {}

  get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  /** Redraw after a page: `[██████░░░░]  3000 of ~10000 factors, 3 pages`. */
  update(done: number, pages: number): void {
    if (!this.enabled) return;
    const total = this.estimate === null ? null : Math.max(this.estimate, done);
    const filled = total ? Math.min(WIDTH, Math.floor((done / Math.max(total, 1)) * WIDTH)) : (pages % WIDTH) + 1;
    const bar = total ? `${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}` : `${'░'.repeat(filled - 1)}█${'░'.repeat(WIDTH - filled)}`;
    const count = total ? `${done} of ~${total}` : `${done}`;
    this.stream.write(`\r\u001b[2K[${bar}]  ${count} ${this.noun}, ${pages} page${pages === 1 ? '' : 's'}`);
    this.drawn = true;
  }

  /** Clear the line, so that what follows starts on a clean one. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\u001b[2K');
    this.drawn = false;
  }
}
