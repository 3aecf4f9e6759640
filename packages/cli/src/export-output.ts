/**
 * Where `export` writes: stdout, or --out FILE. A file holds every secret, so it is created with
 * mode 0600 under a temporary name beside the target and given its name only once the export is
 * complete; an export that fails (a wrong identity, the server gone) or is interrupted leaves no
 * file behind. An existing file is never replaced without --force, also when one appears while
 * the export runs.
 */
import { randomBytes } from 'node:crypto';
import { constants, existsSync, unlinkSync } from 'node:fs';
import { link, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CliFailure } from './errors.js';

export interface Output {
  /** The file written, or null for stdout. */
  readonly path: string | null;
  write(text: string): Promise<void>;
  /** Give the file its name (or flush stdout). */
  commit(): Promise<void>;
  /** Remove what was written (a file only). */
  abort(): Promise<void>;
}

function exists(path: string): CliFailure {
  return new CliFailure(`${path} exists; nothing was written`, {
    code: 'OUT_EXISTS',
    hint: 'pass --force to replace it, or name another file with --out',
  });
}

/** The reader of stdout went away (`export … | head`): the export stops without a word, as `cat` does. */
export class OutputClosed extends Error {
  override readonly name = 'OutputClosed';
}

/** stdout, respecting back-pressure (a slow pipe holds the export back rather than memory). */
function stdoutOutput(): Output {
  let closed = false;
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    closed = true;
  });
  const write = (text: string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (closed) return reject(new OutputClosed('stdout was closed'));
      const done = (error?: Error | null): void => {
        if (!error) return;
        closed ||= (error as NodeJS.ErrnoException).code === 'EPIPE';
        reject(closed ? new OutputClosed('stdout was closed') : error);
      };
      if (process.stdout.write(text, done)) resolve();
      else process.stdout.once('drain', resolve);
    });
  return { path: null, write, commit: () => write(''), abort: async () => undefined };
}

/** Open --out (or stdout for none or -): refused at once if the file exists and --force is not given. */
export async function openOutput(path: string | undefined, force: boolean): Promise<Output> {
  if (path === undefined || path === '-') return stdoutOutput();
  if (!force && existsSync(path)) throw exists(path);
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.part`);
  let handle: FileHandle;
  try {
    handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  } catch (error) {
    throw new CliFailure(`cannot write ${path}: ${(error as Error).message}`, { code: 'WRITE_FAILED', hint: 'choose a directory you can write to' });
  }
  // Ctrl-C mid-export: no partial file stays behind (the handlers below run synchronously).
  const interrupted = (signal: NodeJS.Signals): void => {
    try {
      unlinkSync(temporary);
    } finally {
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  const forget = (): void => void process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
  return {
    path,
    write: async (text) => void (await handle.write(text)),
    commit: async () => {
      await handle.sync();
      await handle.close();
      forget();
      await place(temporary, path, force);
    },
    abort: async () => {
      forget();
      await handle.close().catch(() => undefined);
      await unlink(temporary).catch(() => undefined);
    },
  };
}

/** Rename the finished file into place; without --force, link() refuses a file that appeared meanwhile. */
async function place(temporary: string, path: string, force: boolean): Promise<void> {
  try {
    if (force) await rename(temporary, path);
    else {
      await link(temporary, path);
      await unlink(temporary);
    }
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw exists(path);
    throw new CliFailure(`cannot write ${path}: ${(error as Error).message}`, { code: 'WRITE_FAILED' });
  }
}
