/**
 * otpauth:// URIs (Google Authenticator's Key Uri Format, the format every authenticator app
 * scans) read into import rows: the label gives the account name (after an optional `Issuer:`
 * prefix), the `issuer` parameter (else the prefix) the issuer, and `--user-from` decides whether
 * the userId is the whole label or the account name. A URI the service cannot use as it is (HOTP,
 * a period other than 30 or 60, a secret given twice) is the row's problem; no message repeats
 * the secret.
 */
import { parseAlgorithm, parseChoice } from './flags.js';
import type { ImportTotpInput } from './operations.js';

/** Where the userId of a URI (or of a Google Authenticator entry) comes from. */
export type UserFrom = 'label' | 'account';

/** A label split as apps show it: `ACME Co:alice@example.com` → issuer `ACME Co`, account `alice@example.com`. */
export interface Label {
  readonly label: string;
  readonly issuer: string | undefined;
  readonly accountName: string;
}

/** The problem of a row that is not a usable URI; thrown by parseKeyUri. */
export class UriProblem extends Error {
  override readonly name = 'UriProblem';
}

const KNOWN = ['secret', 'issuer', 'algorithm', 'digits', 'period'] as const;

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new UriProblem(`the ${what} has a broken %-escape`);
  }
}

/**
 * Split a label at its first colon (literal, or %3A when the producer escaped it): the issuer
 * prefix and the account name, without the spaces the format allows after the colon.
 */
export function splitLabel(label: string, rawLabel?: string): Label {
  const raw = rawLabel ?? label;
  const literal = raw.indexOf(':');
  if (literal !== -1 && rawLabel !== undefined) {
    const issuer = decode(raw.slice(0, literal), 'label');
    return { label, issuer, accountName: decode(raw.slice(literal + 1), 'label').replace(/^ +/, '') };
  }
  const colon = label.indexOf(':');
  if (colon === -1) return { label, issuer: undefined, accountName: label };
  return { label, issuer: label.slice(0, colon), accountName: label.slice(colon + 1).replace(/^ +/, '') };
}

/** The query's parameters, each at most once (a second `secret=` is a problem, not a choice). */
function parameters(query: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const [rawName, value] of new URLSearchParams(query)) {
    const name = rawName.toLowerCase();
    if (!(KNOWN as readonly string[]).includes(name)) continue;
    if (found.has(name)) throw new UriProblem(`the parameter ${name} is given twice`);
    found.set(name, value);
  }
  return found;
}

/** The row's input (userId, secret, labels, parameters) from one `otpauth://totp/…` URI. */
export function parseKeyUri(text: string, userFrom: UserFrom): ImportTotpInput {
  const match = /^otpauth:\/\/([^/?#]*)\/([^?#]*)(?:\?([^#]*))?(?:#.*)?$/i.exec(text.trim());
  if (!match) throw new UriProblem('not an otpauth:// URI (otpauth://totp/Issuer:account?secret=…)');
  const type = match[1]!.toLowerCase();
  if (type === 'hotp') throw new UriProblem('an HOTP (counter-based) URI: the service does TOTP only');
  if (type !== 'totp') throw new UriProblem(`otpauth type ${JSON.stringify(match[1])}: only totp can be imported`);
  const rawLabel = match[2]!;
  const label = splitLabel(decode(rawLabel, 'label'), rawLabel);
  if (label.accountName.trim() === '') throw new UriProblem('the label has no account name (otpauth://totp/Issuer:account?…)');
  const params = parameters(match[3] ?? '');
  const secret = params.get('secret');
  if (secret === undefined || secret.trim() === '') throw new UriProblem('no secret parameter');
  const input: ImportTotpInput = {
    userId: userFrom === 'label' ? label.label : label.accountName,
    secret: secret.trim(),
    accountName: label.accountName,
  };
  const issuer = params.get('issuer') ?? label.issuer;
  if (issuer !== undefined && issuer.trim() !== '') input.issuer = issuer;
  const algorithm = params.get('algorithm');
  const digits = params.get('digits');
  const period = params.get('period');
  try {
    if (algorithm !== undefined) input.algorithm = parseAlgorithm(algorithm, 'algorithm');
    if (digits !== undefined) input.digits = parseChoice(digits, 'digits', [6, 7, 8]);
    if (period !== undefined) input.period = parseChoice(period, 'period', [30, 60]);
  } catch (error) {
    throw new UriProblem((error as Error).message);
  }
  return input;
}
