/**
 * Reads an export's plaintext (docs/api.md "Moving factors out and in": `{"version": 1,
 * "factors": [...]}`) as it arrives, one factor at a time, so that an export of any size is never
 * held whole. Each factor's text is handed out with the line it starts on and parsed on its own
 * by JSON.parse; this scanner only finds the document's frame. Several documents one after the
 * other (the pages of an export, each decrypted with `age -d`) read as one.
 */

/** One element of a document's `factors`, as text, with where it starts. */
export interface FactorText {
  readonly line: number;
  /** 1-based, across every document of the input. */
  readonly index: number;
  readonly text: string;
}

/** The input is not an export's plaintext: the whole file is refused. */
export class ExportSyntaxError extends Error {
  override readonly name = 'ExportSyntaxError';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

/** The export version this CLI reads and writes. */
export const EXPORT_VERSION = 1;
/** No factor comes near this (a 128-byte secret and 256-character labels are under 2 KiB). */
const MAX_VALUE_CHARS = 64 * 1024;
const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const EXPECTED = 'an export is {"version": 1, "factors": [...]}';

type State = 'top' | 'key' | 'colon' | 'value' | 'element' | 'afterElement' | 'afterMember';

/** A JSON value being copied out: an object, array, string or a bare word (number, true, null). */
class Capture {
  text: string;
  /** A bare word ends at the first character that cannot be part of it, which the caller sees. */
  readonly bare: boolean;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(
    readonly line: number,
    first: string,
  ) {
    this.text = first;
    if (first === '{' || first === '[') this.depth = 1;
    else if (first === '"') this.inString = true;
    this.bare = this.depth === 0 && !this.inString;
  }

  /** Take one character; true when it completed the value (a bare word is ended by the caller). */
  add(ch: string): boolean {
    this.text += ch;
    if (this.text.length > MAX_VALUE_CHARS) throw new ExportSyntaxError(this.line, `a value longer than ${MAX_VALUE_CHARS} characters`);
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (ch === '\\') this.escaped = true;
      else if (ch === '"') this.inString = false;
      return !this.inString && this.depth === 0;
    }
    if (ch === '"') this.inString = true;
    else if (ch === '{' || ch === '[') this.depth++;
    else if (ch === '}' || ch === ']') this.depth--;
    return this.depth === 0;
  }
}

/** Feed text with push() and take the factors it completes; end() checks that the input ended whole. */
export class FactorScanner {
  private state: State = 'top';
  private line = 1;
  private index = 0;
  private key: Capture | null = null;
  private value: Capture | null = null;
  private member = '';
  private seen = { version: false, factors: false };
  private documents = 0;
  private out: FactorText[] = [];

  push(text: string): FactorText[] {
    for (const ch of text) {
      this.char(ch);
      if (ch === '\n') this.line++;
    }
    const done = this.out;
    this.out = [];
    return done;
  }

  end(): void {
    if (this.value?.bare) this.valueDone();
    if (this.state !== 'top') throw new ExportSyntaxError(this.line, 'the input ends inside the export (is the file cut short?)');
    if (this.documents === 0) throw new ExportSyntaxError(this.line, `no export in the input (${EXPECTED})`);
  }

  private char(ch: string): void {
    if (this.key) {
      if (this.key.add(ch)) this.keyDone();
      return;
    }
    if (this.value) {
      if (!this.value.bare || !/[\s,}\]]/.test(ch)) {
        if (this.value.add(ch) && !this.value.bare) this.valueDone();
        return;
      }
      this.valueDone();
    }
    if (WHITESPACE.has(ch)) return;
    this.structural(ch);
  }

  private structural(ch: string): void {
    switch (this.state) {
      case 'top':
        if (ch === '-') throw new ExportSyntaxError(this.line, 'an encrypted export (-----BEGIN AGE ENCRYPTED FILE-----): pass --identity FILE to decrypt it');
        return this.expect(ch === '{', ch, () => {
          this.seen = { version: false, factors: false };
          this.state = 'key';
        });
      case 'key':
        if (ch === '}') return this.endDocument();
        return this.expect(ch === '"', ch, () => (this.key = new Capture(this.line, ch)));
      case 'colon':
        return this.expect(ch === ':', ch, () => (this.state = 'value'));
      case 'value':
        if (this.member === 'factors') {
          return this.expect(ch === '[', ch, () => {
            this.seen.factors = true;
            this.state = 'element';
          }, '"factors" must be a list');
        }
        this.value = new Capture(this.line, ch);
        return;
      case 'element':
        if (ch === ']') return void (this.state = 'afterMember');
        this.value = new Capture(this.line, ch);
        return;
      case 'afterElement':
        if (ch === ']') return void (this.state = 'afterMember');
        return this.expect(ch === ',', ch, () => (this.state = 'element'));
      case 'afterMember':
        if (ch === '}') return this.endDocument();
        return this.expect(ch === ',', ch, () => (this.state = 'key'));
    }
  }

  private expect(ok: boolean, ch: string, then: () => void, why = EXPECTED): void {
    if (!ok) throw new ExportSyntaxError(this.line, `unexpected ${JSON.stringify(ch)}: ${why}`);
    then();
  }

  private keyDone(): void {
    const key = this.key!;
    this.key = null;
    this.member = parseJson(key.text, key.line) as string;
    this.state = 'colon';
  }

  private valueDone(): void {
    const value = this.value!;
    this.value = null;
    if (this.state === 'element') {
      this.index++;
      this.out.push({ line: value.line, index: this.index, text: value.text });
      this.state = 'afterElement';
      return;
    }
    if (this.member === 'version') {
      const version = parseJson(value.text, value.line);
      if (version !== EXPORT_VERSION) {
        throw new ExportSyntaxError(value.line, `export version ${JSON.stringify(version)}: this totp-admin reads version ${EXPORT_VERSION} (upgrade it)`);
      }
      this.seen.version = true;
    }
    this.state = 'afterMember';
  }

  private endDocument(): void {
    for (const member of ['version', 'factors'] as const) {
      if (!this.seen[member]) throw new ExportSyntaxError(this.line, `an export without "${member}" (${EXPECTED})`);
    }
    this.documents++;
    this.state = 'top';
  }
}

function parseJson(text: string, line: number): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text, which may be a secret: say only where.
    throw new ExportSyntaxError(line, 'not JSON');
  }
}

/** The factors of an input that arrives in chunks, as they complete; throws ExportSyntaxError. */
export async function* factorTexts(chunks: AsyncIterable<string>): AsyncGenerator<FactorText> {
  const scanner = new FactorScanner();
  let first = true;
  for await (const chunk of chunks) {
    yield* scanner.push(first && chunk.startsWith('\uFEFF') ? chunk.slice(1) : chunk);
    first = false;
  }
  scanner.end();
}
