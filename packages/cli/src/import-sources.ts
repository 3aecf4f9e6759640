/**
 * The formats `import` reads, each as a stream of rows (src/import-rows.ts) from a stream of
 * text, so that a file of any length is read a chunk at a time:
 *   csv                one factor per record (src/import-rows.ts)
 *   json               the plaintext of `export` (src/json-factors.ts): devices, lastUsedAt; with
 *                      an identity, the pages `export` wrote encrypted (src/age.ts)
 *   uri                one otpauth://totp/ URI per line (src/otpauth-uri.ts)
 *   otpauth-migration  Google Authenticator's transfer lines (src/migration.ts)
 * In the line formats, blank lines and lines starting with # are skipped. An error thrown while
 * reading (CsvSyntaxError, ExportSyntaxError, a usage error) is the whole file's.
 */
import { createInterface } from 'node:readline';
import { decryptedPages, type Identities } from './age.js';
import { Readable } from 'node:stream';
import { csvImportRows, PENDING_SKIP, type ImportRow } from './import-rows.js';
import type { SecretFunctions } from './import-check.js';
import { factorTexts, type FactorText } from './json-factors.js';
import { decodeMigrationLine, migrationAccount } from './migration.js';
import type { ImportTotpInput } from './operations.js';
import { parseAlgorithm, parseChoice } from './flags.js';
import { parseKeyUri, UriProblem, type UserFrom } from './otpauth-uri.js';

export const FORMATS = ['csv', 'json', 'uri', 'otpauth-migration'] as const;
export type ImportFormat = (typeof FORMATS)[number];

export interface SourceOptions {
  readonly userFrom: UserFrom;
  readonly secrets: SecretFunctions;
  /** json: the input is the encrypted pages of an export, opened with these identities. */
  readonly identities?: Identities | undefined;
}

/** The rows of `chunks` read as `format`. */
export function importSource(format: ImportFormat, chunks: AsyncIterable<string>, options: SourceOptions): AsyncIterable<ImportRow> {
  switch (format) {
    case 'csv':
      return csvImportRows(chunks);
    case 'json':
      return jsonRows(options.identities ? decryptedPages(chunks, options.identities) : chunks);
    case 'uri':
      return uriRows(chunks, options);
    case 'otpauth-migration':
      return migrationRows(chunks, options);
  }
}

/** Non-blank lines that are not # comments, with their numbers (CRLF or LF). */
async function* lines(chunks: AsyncIterable<string>, what: string): AsyncGenerator<{ line: number; text: string }> {
  const reader = createInterface({ input: Readable.from(chunks), crlfDelay: Infinity });
  let line = 0;
  let found = 0;
  for await (const raw of reader) {
    line++;
    const text = (line === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
    if (text === '' || text.startsWith('#')) continue;
    found++;
    yield { line, text };
  }
  if (found === 0) throw new Error(`no ${what} lines to import (blank lines and # comments are skipped)`);
}

async function* uriRows(chunks: AsyncIterable<string>, options: SourceOptions): AsyncGenerator<ImportRow> {
  for await (const { line, text } of lines(chunks, 'otpauth://totp/')) {
    try {
      const input = parseKeyUri(text, options.userFrom);
      yield { line, userId: input.userId, input };
    } catch (error) {
      if (!(error instanceof UriProblem)) throw error;
      yield { line, userId: null, problem: error.message };
    }
  }
}

async function* migrationRows(chunks: AsyncIterable<string>, options: SourceOptions): AsyncGenerator<ImportRow> {
  for await (const { line, text } of lines(chunks, 'otpauth-migration://')) {
    let payload;
    try {
      payload = await decodeMigrationLine(text);
    } catch (error) {
      if (!(error instanceof UriProblem)) throw error;
      yield { line, userId: null, problem: error.message };
      continue;
    }
    for (const [i, parameters] of payload.otpParameters.entries()) {
      const entry = i + 1;
      const account = migrationAccount(parameters, options.userFrom);
      if (account.kind === 'skip') yield { line, entry, userId: account.userId, skip: account.reason };
      else if (account.kind === 'problem') yield { line, entry, userId: account.userId, problem: account.reason };
      else {
        const { userId, accountName, algorithm, digits } = account;
        const secret = options.secrets.encodeBase32(account.secret);
        const input: ImportTotpInput = { userId, secret, accountName, algorithm, digits, period: 30 };
        if (account.issuer !== undefined) input.issuer = account.issuer;
        yield { line, entry, userId, input };
      }
    }
  }
}

async function* jsonRows(chunks: AsyncIterable<string>): AsyncGenerator<ImportRow> {
  for await (const factor of factorTexts(chunks)) yield jsonRow(factor);
}

/** One factor of an export: its fields checked for type, a PENDING device skipped. */
export function jsonRow(factor: FactorText): ImportRow {
  const { line } = factor;
  let value: unknown;
  try {
    value = JSON.parse(factor.text);
  } catch {
    return { line, userId: null, problem: `factor ${factor.index} is not JSON` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { line, userId: null, problem: `factor ${factor.index} is not an object` };
  const f = value as Record<string, unknown>;
  const userId = typeof f.userId === 'string' && f.userId !== '' ? f.userId : null;
  if (userId === null) return { line, userId, problem: 'no userId' };
  if (f.status === 'PENDING') return { line, userId, skip: PENDING_SKIP };
  if (typeof f.secret !== 'string' || f.secret === '') return { line, userId, problem: 'no secret' };
  const input: ImportTotpInput = { userId, secret: f.secret };
  try {
    if (f.status !== undefined && f.status !== 'ACTIVE') throw new Error(`status ${JSON.stringify(f.status)} must be ACTIVE or PENDING`);
    for (const name of ['issuer', 'accountName', 'deviceName', 'lastUsedAt'] as const) {
      const field = f[name];
      if (field === undefined || field === null) continue;
      if (typeof field !== 'string') throw new Error(`${name} must be a string`);
      input[name] = field;
    }
    if (f.algorithm !== undefined) input.algorithm = parseAlgorithm(scalar(f.algorithm), 'algorithm');
    if (f.digits !== undefined) input.digits = parseChoice(scalar(f.digits), 'digits', [6, 7, 8]);
    if (f.period !== undefined) input.period = parseChoice(scalar(f.period), 'period', [30, 60]);
  } catch (error) {
    return { line, userId, problem: (error as Error).message };
  }
  return { line, userId, input };
}

/** A JSON value as the text that a flag parser reads (a number as its digits, anything else as JSON). */
function scalar(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : JSON.stringify(value);
}
