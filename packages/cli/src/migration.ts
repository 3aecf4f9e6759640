/**
 * Google Authenticator's transfer export: each line `otpauth-migration://offline?data=…` holds a
 * base64 MigrationPayload (proto/google-authenticator-migration.proto), decoded here with
 * protobufjs. Each account in it becomes one import row: TOTP accounts are imported, HOTP ones
 * skipped (the service does TOTP only; importing one as TOTP would give codes that never match),
 * and an account the service cannot hold (MD5, a type the export leaves out) is that row's problem.
 * protobufjs and the schema are loaded on the first line, never at start-up.
 */
import { readFile } from 'node:fs/promises';
import type { Type } from 'protobufjs';
import type { TotpAlgorithm } from './operations.js';
import { splitLabel, UriProblem, type UserFrom } from './otpauth-uri.js';

const SCHEMA = new URL('../proto/google-authenticator-migration.proto', import.meta.url);

/** One account of a payload, as the schema declares it (enums as their numbers). */
export interface OtpParameters {
  readonly secret: Uint8Array;
  readonly name: string;
  readonly issuer: string;
  readonly algorithm: number;
  readonly digits: number;
  readonly type: number;
  readonly counter: string;
}

export interface MigrationPayload {
  readonly otpParameters: readonly OtpParameters[];
  readonly version: number;
  readonly batchSize: number;
  readonly batchIndex: number;
  readonly batchId: number;
}

// MigrationPayload's enums. Google's app writes 0 (unspecified) for its defaults in older exports.
const ALGORITHMS: Readonly<Record<number, TotpAlgorithm | undefined>> = { 0: 'SHA1', 1: 'SHA1', 2: 'SHA256', 3: 'SHA512' };
const ALGORITHM_NAMES: Readonly<Record<number, string>> = { 4: 'MD5' };
const DIGITS: Readonly<Record<number, number | undefined>> = { 0: 6, 1: 6, 2: 8 };
const OTP_TYPE = { HOTP: 1, TOTP: 2 } as const;

let payloadType: Promise<Type> | undefined;

/** The MigrationPayload type, parsed from the .proto file once. */
function loadPayloadType(): Promise<Type> {
  payloadType ??= Promise.all([import('protobufjs'), readFile(SCHEMA, 'utf8')]).then(([{ default: protobuf }, proto]) =>
    protobuf.parse(proto, { keepCase: false }).root.lookupType('MigrationPayload'),
  );
  return payloadType;
}

/**
 * The data parameter as bytes: percent-decoded, standard or URL-safe base64, padding optional. A
 * character outside base64 is a problem rather than something to skip (as Buffer.from would).
 */
export function payloadBytes(line: string): Uint8Array {
  const match = /^otpauth-migration:\/\/offline\/?\?(.*)$/i.exec(line.trim());
  if (!match) throw new UriProblem('not an otpauth-migration://offline?data=… line');
  const data = match[1]!.split('&').find((p) => p.startsWith('data='))?.slice(5);
  if (data === undefined || data === '') throw new UriProblem('no data parameter');
  let base64: string;
  try {
    base64 = decodeURIComponent(data);
  } catch {
    throw new UriProblem('the data parameter has a broken %-escape');
  }
  // '+' read as a space by some copy-and-paste path: put it back.
  base64 = base64.replaceAll(' ', '+').replaceAll('-', '+').replaceAll('_', '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.replace(/=+$/, '').length % 4 === 1) {
    throw new UriProblem('the data parameter is not base64');
  }
  return Buffer.from(base64, 'base64');
}

/** Decode one line's payload; a line that is not one is a UriProblem naming what is wrong. */
export async function decodeMigrationLine(line: string): Promise<MigrationPayload> {
  const bytes = payloadBytes(line);
  const type = await loadPayloadType();
  let payload: MigrationPayload;
  try {
    payload = type.toObject(type.decode(bytes), { enums: Number, longs: String, defaults: true, arrays: true }) as MigrationPayload;
  } catch (error) {
    throw new UriProblem(`the data is not a Google Authenticator export (cut short or damaged: ${(error as Error).message})`);
  }
  if (payload.otpParameters.length === 0) throw new UriProblem('the data holds no accounts');
  return payload;
}

/** What one account of a payload becomes: a row to import, one to skip, or a problem. */
export type MigrationAccount =
  | { readonly kind: 'totp'; readonly userId: string; readonly secret: Uint8Array; readonly accountName: string; readonly issuer?: string; readonly algorithm: TotpAlgorithm; readonly digits: number }
  | { readonly kind: 'skip'; readonly userId: string | null; readonly reason: string }
  | { readonly kind: 'problem'; readonly userId: string | null; readonly reason: string };

/** Map one account (Google's enums to the service's parameters; Google's codes last 30 s). */
export function migrationAccount(p: OtpParameters, userFrom: UserFrom): MigrationAccount {
  const label = p.name.trim() === '' ? undefined : splitLabel(p.name);
  const userId = label === undefined ? null : userFrom === 'label' ? label.label : label.accountName;
  if (p.type === OTP_TYPE.HOTP) return { kind: 'skip', userId, reason: `an HOTP (counter-based) account, counter ${p.counter}: the service does TOTP only` };
  if (p.type !== OTP_TYPE.TOTP) return { kind: 'problem', userId, reason: `an account of unknown type ${p.type} (neither TOTP nor HOTP)` };
  if (label === undefined || userId === null || userId.trim() === '') return { kind: 'problem', userId, reason: 'an account without a name' };
  const algorithm = ALGORITHMS[p.algorithm];
  if (algorithm === undefined) return { kind: 'problem', userId, reason: `algorithm ${ALGORITHM_NAMES[p.algorithm] ?? p.algorithm} is not supported (SHA1, SHA256 or SHA512)` };
  const digits = DIGITS[p.digits];
  if (digits === undefined) return { kind: 'problem', userId, reason: `digit count ${p.digits} is not one Google Authenticator writes` };
  const issuer = p.issuer.trim() !== '' ? p.issuer : label.issuer;
  return { kind: 'totp', userId, secret: p.secret, accountName: label.accountName, algorithm, digits, ...(issuer ? { issuer } : {}) };
}
