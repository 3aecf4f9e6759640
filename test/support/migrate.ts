/**
 * What the export and import tests share (test/cli-migrate*.e2e.test.ts): age identities made by
 * age-keygen, codes made by oathtool at a given time (also test/rekey-race.e2e.test.ts), and the
 * admin environment of a server.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export interface AgeIdentity {
  /** The identity file age-keygen wrote. */
  readonly file: string;
  /** Its recipient, as age-keygen -y prints it (what TOTP_EXPORT_RECIPIENTS takes). */
  readonly recipient: string;
}

/** A new identity from age-keygen, in `dir`. */
export function ageIdentity(ageKeygen: string, dir: string, name: string): AgeIdentity {
  const file = join(dir, `${name}.txt`);
  execFileSync(ageKeygen, ['-o', file], { stdio: 'ignore' });
  return { file, recipient: execFileSync(ageKeygen, ['-y', file], { encoding: 'utf8' }).trim() };
}

export interface CodeParams {
  readonly algorithm?: string;
  readonly digits?: number;
  readonly period?: number;
}

/** The code of a base32 secret at `atMs` (default now), from oathtool: an implementation other than the service's. */
export function oathCode(oathtool: string, secret: string, p: CodeParams = {}, atMs = Date.now()): string {
  const args = [`--totp=${(p.algorithm ?? 'SHA1').toLowerCase()}`, '-d', String(p.digits ?? 6), '-s', String(p.period ?? 30), '-b', secret, '-N', `@${Math.floor(atMs / 1000)}`];
  return execFileSync(oathtool, args, { encoding: 'utf8' }).trim();
}

/** The start of the step that holds `atMs`, and of the one after it. */
export function stepStart(atMs: number, period = 30): number {
  return Math.floor(atMs / (period * 1000)) * period * 1000;
}
