/**
 * verifyRecoveryCode brute-forced against the built server: two processes on one Redis, attacked
 * with aliases, hundreds of parallel requests split between them and mixed with verifyTotp
 * guesses on the same user, and two uses of one code at once, one on each server. "Evaluated" is
 * proven from outside: the user's audit stream in Redis (attempts that compared a code) and the
 * servers' /metrics must both show exactly the budget, which the two kinds share.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { counter, evaluated, oathCode, userEvents, wrongCodes } from './support/inspect.js';
import { APP_TOKEN, encryptionKey, startServer, type ServerProcess } from './support/server.js';
import { requireTool } from './support/tools.js';
import { tally } from './support/tally.js';

const redisUrl = inject('redisUrl');
const oathtool = requireTool('oathtool');
const MAX_FAILURES = 5;
const MAX_ALIASES = 15;
const BOTH = ['VERIFY', 'RECOVERY_CODE_USED'];

const RECOVER = 'mutation($u: ID!, $c: String!) { verifyRecoveryCode(userId: $u, code: $c) { outcome remainingAttempts } }';
const VERIFY = 'mutation($u: ID!, $c: String!) { verifyTotp(userId: $u, code: $c) { outcome } }';
const STATUS = 'query($u: ID!) { totpStatus(userId: $u) { failedAttempts recoveryCodesRemaining } }';

type Answer = { outcome: string; remainingAttempts?: number | null };

describe.skipIf(!redisUrl || !oathtool)('recovery codes brute-forced on two servers sharing one Redis', () => {
  const prefix = `bfr${randomBytes(3).toString('hex')}:`;
  let a: ServerProcess;
  let b: ServerProcess;
  beforeAll(async () => {
    const env = { REDIS_URL: redisUrl!, TOTP_ENCRYPTION_KEYS: encryptionKey(), TOTP_KEY_PREFIX: prefix, LOG_LEVEL: 'warn' };
    [a, b] = await Promise.all([startServer({ env }), startServer({ env })]);
  });
  afterAll(async () => {
    expect(await a.stop()).toBe(0);
    expect(await b.stop()).toBe(0);
    expect(a.stderr() + b.stderr()).toBe('');
  });

  /** Enroll on one server, confirm with oathtool's code, make recovery codes; and wrong guesses. */
  async function activate(userId: string) {
    const e = await a.gql<{ enrollTotp: { secret: string } }>('mutation($u: ID!) { enrollTotp(input: { userId: $u }) { secret } }', { u: userId }, APP_TOKEN);
    const secret = e.data!.enrollTotp.secret;
    expect((await verifyTotp(b, userId, oathCode(oathtool!, secret))).outcome).toBe('ACCEPTED');
    const made = await b.gql<{ generateRecoveryCodes: { codes: string[] } }>('mutation($u: ID!) { generateRecoveryCodes(userId: $u) { codes } }', { u: userId }, APP_TOKEN);
    const codes = made.data!.generateRecoveryCodes.codes;
    const wrongRecovery = Array.from({ length: 500 }, (_, i) => `${String(i).padStart(4, '0')}-0000-0000`).filter((c) => !codes.includes(c));
    return { secret, codes, wrongRecovery, wrongTotp: wrongCodes(oathtool!, secret, 500) };
  }
  const recover = async (server: ServerProcess, userId: string, code: string) =>
    (await server.gql<{ verifyRecoveryCode: Answer }>(RECOVER, { u: userId, c: code }, APP_TOKEN)).data!.verifyRecoveryCode;
  const verifyTotp = async (server: ServerProcess, userId: string, code: string) =>
    (await server.gql<{ verifyTotp: Answer }>(VERIFY, { u: userId, c: code }, APP_TOKEN)).data!.verifyTotp;
  const status = async (userId: string) =>
    (await a.gql<{ totpStatus: { failedAttempts: number; recoveryCodesRemaining: number } }>(STATUS, { u: userId }, APP_TOKEN)).data!.totpStatus;
  /** INVALID_CODE answers both servers have counted, of the given kinds. */
  const invalid = async (kinds = ['totp', 'recovery']) => {
    let sum = 0;
    for (const s of [a, b]) for (const kind of kinds) sum += await counter(s.base, 'totp_verify_total', { outcome: 'INVALID_CODE', kind });
    return sum;
  };

  it('refuses hundreds of aliases, and evaluates only the budget of the aliases within the cap', async () => {
    const u = await activate('aliases');
    const field = (c: string, i: number) => `g${i}: verifyRecoveryCode(userId: "aliases", code: "${c}") { outcome }`;
    for (const [server, n, limit] of [[a, 300, 'tokens'], [b, MAX_ALIASES + 1, 'aliases']] as const) {
      const r = await server.gql(`mutation { ${u.wrongRecovery.slice(0, n).map(field).join(' ')} }`, {}, APP_TOKEN);
      expect(r.status).toBe(400);
      expect(r.errors!.map((e) => e.extensions)).toEqual([{ code: 'QUERY_TOO_COMPLEX', limit }]);
    }
    expect(evaluated(await userEvents(redisUrl!, prefix, 'aliases'), ['RECOVERY_CODE_USED'])).toBe(0);

    const before = await invalid(['recovery']);
    // four requests of fifteen at once, on both servers; the right code is among them
    const guesses = [...u.wrongRecovery.slice(0, 4 * MAX_ALIASES - 1), u.codes[0]!];
    const doc = (k: number) => `mutation { ${guesses.slice(k * MAX_ALIASES, (k + 1) * MAX_ALIASES).map(field).join(' ')} }`;
    const pages = await Promise.all([0, 1, 2, 3].map((k) => (k % 2 ? b : a).gql(doc(k), {}, APP_TOKEN)));
    const outcomes = pages.flatMap((p) => Object.values(p.data!).map((v) => (v as Answer).outcome));
    expect(tally(outcomes)).toEqual({ INVALID_CODE: MAX_FAILURES, LOCKED: 4 * MAX_ALIASES - MAX_FAILURES });
    expect(evaluated(await userEvents(redisUrl!, prefix, 'aliases'), ['RECOVERY_CODE_USED'])).toBe(MAX_FAILURES);
    expect((await invalid(['recovery'])) - before).toBe(MAX_FAILURES);
    expect(await status('aliases')).toEqual({ failedAttempts: MAX_FAILURES, recoveryCodesRemaining: 10 });
  });

  it('evaluates exactly the budget of 400 parallel guesses of both kinds, split between the servers', async () => {
    const u = await activate('mixed');
    const before = await invalid();
    const answers = await Promise.all(Array.from({ length: 400 }, (_, i) => {
      const server = i % 4 < 2 ? a : b;
      return i % 2 ? recover(server, 'mixed', u.wrongRecovery[i >> 1]!) : verifyTotp(server, 'mixed', u.wrongTotp[i >> 1]!);
    }));
    expect(tally(answers.map((x) => x.outcome))).toEqual({ INVALID_CODE: MAX_FAILURES, LOCKED: 400 - MAX_FAILURES });
    const events = await userEvents(redisUrl!, prefix, 'mixed');
    // the one evaluation before the attack is the confirmation
    expect(evaluated(events, BOTH)).toBe(1 + MAX_FAILURES);
    expect(events.filter((e) => e.type === 'LOCKED')).toHaveLength(1);
    expect((await invalid()) - before).toBe(MAX_FAILURES);
    // locked for both kinds, right codes included; no recovery code was spent
    expect((await recover(a, 'mixed', u.codes[0]!)).outcome).toBe('LOCKED');
    expect((await verifyTotp(b, 'mixed', oathCode(oathtool!, u.secret))).outcome).toBe('LOCKED');
    expect(await status('mixed')).toEqual({ failedAttempts: MAX_FAILURES, recoveryCodesRemaining: 10 });
  });

  it('accepts exactly one of two uses of one code at once, one on each server, for every code', async () => {
    const u = await activate('race');
    let lastLoser = '';
    for (const [i, code] of u.codes.entries()) {
      const pair = (await Promise.all([recover(a, 'race', code), recover(b, 'race', code)])).map((x) => x.outcome).sort();
      // the loser of the last race may come after the last code was used: then none is left
      if (i === 9 && pair[1] === 'NOT_ENROLLED') lastLoser = 'NOT_ENROLLED';
      else expect(pair).toEqual(['ACCEPTED', 'INVALID_CODE']);
    }
    const used = (await userEvents(redisUrl!, prefix, 'race')).filter((e) => e.type === 'RECOVERY_CODE_USED');
    expect(tally(used.map((e) => e.outcome!))).toEqual(lastLoser ? { ACCEPTED: 10, INVALID_CODE: 9, NOT_ENROLLED: 1 } : { ACCEPTED: 10, INVALID_CODE: 10 });
    expect((await status('race')).recoveryCodesRemaining).toBe(0);
  });

  it('reads variants of a code as that code on either server, or as MALFORMED', async () => {
    const u = await activate('variants');
    const code = u.codes.find((c) => /[a-z]/.test(c))!;
    const letter = /[a-z]/.exec(code)!.index;
    const wide = code.slice(0, letter) + String.fromCodePoint(code.charCodeAt(letter) + 0xfee0) + code.slice(letter + 1);
    for (const v of [wide, code.replace('-', '\u00a0'), `${code}\n`, code.slice(1), `${code}0`, '', '\u212a'.repeat(12), code.padEnd(65)]) {
      expect((await recover(a, 'variants', v)).outcome, JSON.stringify(v)).toBe('MALFORMED');
    }
    expect(await status('variants')).toEqual({ failedAttempts: 0, recoveryCodesRemaining: 10 });
    expect((await recover(b, 'variants', ` ${code.toUpperCase().replaceAll('-', ' ')} `)).outcome).toBe('ACCEPTED');
    expect((await recover(a, 'variants', code)).outcome).toBe('INVALID_CODE');
    expect((await recover(b, 'variants', code.replaceAll('-', ''))).outcome).toBe('INVALID_CODE');
    expect(evaluated(await userEvents(redisUrl!, prefix, 'variants'), ['RECOVERY_CODE_USED'])).toBe(3);
    expect(await status('variants')).toEqual({ failedAttempts: 2, recoveryCodesRemaining: 9 });
  });
});
