/**
 * The operator's side of an export (docs/api.md "Moving factors out and in"): the server encrypts
 * each page to the age recipients of TOTP_EXPORT_RECIPIENTS, and only here, with the operator's
 * identity, is it opened. age-encryption (age's reference TypeScript implementation, by its
 * author) does the cryptography; it is loaded by `export --identity` only.
 *
 * An identity file is what `age-keygen -o key.txt` writes: `AGE-SECRET-KEY-1…` lines, with #
 * comments. No message here repeats a line of it.
 */
import { readFile } from 'node:fs/promises';
import type { Stanza } from 'age-encryption';
import { CliFailure, usageError } from './errors.js';
import { ExportSyntaxError } from './json-factors.js';

export const MAKE_IDENTITY = 'make one with `age-keygen -o key.txt` (or `totp-admin export-key --out key.txt`), and give the server its recipient (`age-keygen -y key.txt` prints it) in TOTP_EXPORT_RECIPIENTS';

export interface Identities {
  readonly file: string;
  /** The identities' recipients (age1…), for messages. */
  readonly recipients: readonly string[];
  /** Decrypt one armored page to its plaintext, or throw the CliFailure that says why not. */
  decrypt(armored: string, page: number): Promise<string>;
}

/** The AGE-SECRET-KEY lines of an identity file; anything else is refused without repeating it. */
export async function readIdentityFile(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw usageError(`cannot read the identity ${file}: ${(error as Error).message}`, MAKE_IDENTITY);
  }
  if (text.includes('-----BEGIN AGE ENCRYPTED FILE-----') || text.startsWith('age-encryption.org/')) {
    throw usageError(`${file} is an encrypted file, not an identity`, 'decrypt a passphrase-protected identity first (`age -d key.txt.age > key.txt`), or pass the identity itself');
  }
  const keys: string[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (!/^AGE-SECRET-KEY-(PQ-)?1[0-9A-Z]+$/.test(line)) {
      throw usageError(`${file} line ${i + 1} is not an age identity (AGE-SECRET-KEY-1…; plugin and SSH identities are not supported)`, MAKE_IDENTITY);
    }
    keys.push(line);
  }
  if (keys.length === 0) throw usageError(`${file} holds no age identity`, MAKE_IDENTITY);
  return keys;
}

/** Load the identities of `file` and the means to open pages with them. */
export async function loadIdentities(file: string): Promise<Identities> {
  const keys = await readIdentityFile(file);
  const age = await import('age-encryption');
  let recipients: string[];
  try {
    recipients = await Promise.all(keys.map((k) => age.identityToRecipient(k)));
  } catch {
    throw usageError(`${file} holds an identity that is not valid`, MAKE_IDENTITY);
  }
  const decrypter = new age.Decrypter();
  for (const k of keys) decrypter.addIdentity(k);
  // Tried last, when none of the file's identities matched: it only notes what the page was encrypted to.
  let stanzas: string[] = [];
  decrypter.addIdentity({
    unwrapFileKey: (found: Stanza[]) => {
      stanzas = found.map((s: Stanza) => s.args[0] ?? '?');
      return null;
    },
  });
  return {
    file,
    recipients,
    decrypt: async (armored, page) => {
      let bytes: Uint8Array;
      try {
        bytes = age.armor.decode(armored);
      } catch (error) {
        throw new CliFailure(`page ${page} of the export is not an armored age file: ${(error as Error).message}`, { code: 'BAD_EXPORT' });
      }
      stanzas = [];
      try {
        return await decrypter.decrypt(bytes, 'text');
      } catch (error) {
        if (stanzas.length > 0) throw wrongIdentity(file, recipients, stanzas);
        throw new CliFailure(`page ${page} of the export cannot be decrypted: ${(error as Error).message}`, { code: 'BAD_EXPORT', hint: 'export again; the page may have been damaged in transit' });
      }
    },
  };
}

/**
 * age files do not name their recipients (by design), so the message says how many there were,
 * of which kind, and which recipient the identity has: the operator compares it with the server's
 * TOTP_EXPORT_RECIPIENTS.
 */
function wrongIdentity(file: string, recipients: readonly string[], stanzas: readonly string[]): CliFailure {
  const kinds = [...new Set(stanzas)].join(', ');
  const mine = recipients.length === 1 ? `its recipient is ${recipients[0]}` : `its recipients are ${recipients.join(', ')}`;
  const to = stanzas.length === 1 ? `1 ${kinds} recipient (the server's TOTP_EXPORT_RECIPIENTS), which is not` : `${stanzas.length} ${kinds} recipients (the server's TOTP_EXPORT_RECIPIENTS), none of them`;
  return new CliFailure(
    `this identity cannot open the export: it was encrypted to ${to} the identity in ${file} (${mine})`,
    { code: 'WRONG_IDENTITY', hint: "pass the identity whose recipient (`age-keygen -y FILE` prints it) is in the server's TOTP_EXPORT_RECIPIENTS; nothing was written" },
  );
}

const BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
const END = '-----END AGE ENCRYPTED FILE-----';

/**
 * The plaintext of a file of armored pages (what `export` writes without --identity), one page at
 * a time: each page is decrypted as soon as its END line arrives. Text outside the pages, or a
 * page cut short, is the whole file's error.
 */
export async function* decryptedPages(chunks: AsyncIterable<string>, identities: Identities): AsyncGenerator<string> {
  let page: string[] | null = null;
  let number = 0;
  let line = 0;
  let rest = '';
  const take = async function* (text: string): AsyncGenerator<string> {
    line++;
    const trimmed = text.trim();
    if (page === null) {
      if (trimmed === BEGIN) page = [trimmed];
      else if (trimmed !== '') throw new ExportSyntaxError(line, `text outside the encrypted pages (${BEGIN} … ${END})`);
      return;
    }
    page.push(trimmed);
    if (trimmed === END) {
      const armored = `${page.join('\n')}\n`;
      page = null;
      yield await identities.decrypt(armored, ++number);
    }
  };
  for await (const chunk of chunks) {
    const parts = (rest + chunk).split(/\r?\n/);
    rest = parts.pop()!;
    for (const text of parts) yield* take(text);
  }
  if (rest !== '') yield* take(rest);
  if (page !== null) throw new ExportSyntaxError(line, `the input ends inside encrypted page ${number + 1} (is the file cut short?)`);
  if (number === 0) throw new ExportSyntaxError(line, `no encrypted page in the input (${BEGIN})`);
}
