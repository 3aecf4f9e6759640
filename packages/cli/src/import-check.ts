/**
 * The checks an import makes on each row before sending it (and all that `import --dry-run` can
 * make without writing): the server's own rules for ids, labels, device names, secrets and
 * lastUsedAt (docs/api.md "Behaviour that the schema cannot show"), and one device imported twice
 * by the same file. The server stays the judge; these turn its refusals into a line of the report
 * that names the row before anything is written. No message repeats a secret.
 */
import type * as Core from '@totp-service/core';
import type { ImportTotpInput } from './operations.js';

export type SecretFunctions = Pick<typeof Core, 'parseBase32Secret' | 'encodeBase32' | 'buildKeyUri'>;

/** The core's secret functions, loaded by the commands that need them (never at start-up). */
export function loadSecrets(): Promise<SecretFunctions> {
  return import('@totp-service/core');
}

const CONTROL = /\p{Cc}/u;
/** The server accepts a lastUsedAt up to a minute ahead of its clock. */
const FUTURE_SLACK_MS = 60_000;

function checkText(value: string | undefined, what: string, max: number): string | null {
  if (value === undefined) return null;
  if (value.trim() === '') return `${what} is empty`;
  if (value.length > max) return `${what} is longer than ${max} characters`;
  if (!value.isWellFormed() || CONTROL.test(value)) return `${what} holds control characters or broken Unicode`;
  return null;
}

function checkUserId(userId: string): string | null {
  if (userId.length === 0) return 'the userId is empty';
  if (Buffer.byteLength(userId, 'utf8') > 256) return 'the userId is longer than 256 bytes of UTF-8';
  if (!userId.isWellFormed() || CONTROL.test(userId)) return 'the userId holds control characters or broken Unicode';
  return null;
}

function checkLastUsed(lastUsedAt: string | undefined, now: number): string | null {
  if (lastUsedAt === undefined) return null;
  const t = Date.parse(lastUsedAt);
  if (!/^\d{4}-\d\d-\d\dT/.test(lastUsedAt) || Number.isNaN(t)) return `lastUsedAt ${JSON.stringify(lastUsedAt)} is not an ISO time`;
  if (t > now + FUTURE_SLACK_MS) return `lastUsedAt ${lastUsedAt} is in the future`;
  return null;
}

/** The row's problem, or null when the server should accept it (as far as can be known here). */
export function checkInput(input: ImportTotpInput, now: number, secrets: SecretFunctions): string | null {
  const problem =
    checkUserId(input.userId) ??
    checkText(input.issuer, 'the issuer', 256) ??
    checkText(input.accountName, 'the account name', 256) ??
    checkText(input.deviceName, 'the device name', 64) ??
    checkLastUsed(input.lastUsedAt, now);
  if (problem) return problem;
  try {
    secrets.parseBase32Secret(input.secret, 'the secret').fill(0);
  } catch (error) {
    return (error as Error).message;
  }
  return null;
}

/**
 * The devices a file imports, by user and name: the second row for the same device would be
 * refused (ALREADY_ENROLLED), so it is reported at once, naming the row that came first.
 */
export class SeenDevices {
  private readonly first = new Map<string, number>();

  /** The problem of this row if an earlier one imports the same device, else null (and remember it). */
  check(userId: string, deviceName: string | undefined, line: number): string | null {
    const name = deviceName ?? 'default';
    const id = `${userId}\u0000${name}`;
    const earlier = this.first.get(id);
    if (earlier !== undefined) return `line ${earlier} already imports the device "${name}" of this user`;
    this.first.set(id, line);
    return null;
  }
}
