/**
 * totp_verify_duration_seconds: every verifyTotp and verifyRecoveryCode is timed once, labelled by
 * its outcome (or by the error code of a verify that failed) and its kind, never by anything the
 * caller chose; and the p99 PromQL of docs/operations.md ("Monitoring") has the buckets it needs.
 */
import { codeAtStep, parseBase32Secret } from '@totp-service/core';
import { afterEach, describe, expect, it } from 'vitest';
import { counter } from '../../../test/support/inspect.js';
import { MemoryStore } from '../src/store/memory-store.js';
import { flaky } from './support/flaky-store.js';
import { startInProcess, type InProcessServer } from './support/in-process.js';

const VERIFY = 'mutation($u: ID!, $c: String!) { verifyTotp(userId: $u, code: $c) { outcome } }';
const RECOVER = 'mutation($u: ID!, $c: String!) { verifyRecoveryCode(userId: $u, code: $c) { outcome } }';
const count = (s: InProcessServer, outcome: string, kind: string) => counter(s.base, 'totp_verify_duration_seconds_count', { outcome, kind });

describe('verify latency histogram', () => {
  let s: InProcessServer | undefined;
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  it('times each verify once, by outcome and kind, failures by error code, never by user', async () => {
    const now = Date.now();
    const store = flaky(new MemoryStore({ auditMaxEvents: 1000, auditUserMaxEvents: 100 }));
    s = await startInProcess({ store: store.store, clock: () => now });
    const e = await s.gql('mutation { enrollTotp(input: { userId: "alice-secret-id" }) { secret } }');
    const secret = parseBase32Secret((e.json!.data!.enrollTotp as { secret: string }).secret);
    const code = codeAtStep(secret, Math.floor(now / 30_000), { algorithm: 'SHA1', digits: 6, period: 30 });

    const outcomes = async (query: string, vars: Record<string, string>) => (await s!.gql(query, { u: 'alice-secret-id', ...vars })).json;
    expect(await outcomes(VERIFY, { c: code })).toEqual({ data: { verifyTotp: { outcome: 'ACCEPTED' } } });
    await outcomes(VERIFY, { c: code }); // REPLAYED
    await outcomes(VERIFY, { c: '12' }); // MALFORMED, decided before the store
    await outcomes(RECOVER, { c: 'abcd-efgh-ijkl' }); // no recovery codes: NOT_ENROLLED
    await s.gql(VERIFY, { u: 'bad\u0001id', c: code }); // BAD_USER_INPUT
    store.down = true;
    await outcomes(VERIFY, { c: code }); // SERVICE_UNAVAILABLE

    expect(await count(s, 'ACCEPTED', 'totp')).toBe(1);
    expect(await count(s, 'REPLAYED', 'totp')).toBe(1);
    expect(await count(s, 'MALFORMED', 'totp')).toBe(1);
    expect(await count(s, 'BAD_USER_INPUT', 'totp')).toBe(1);
    expect(await count(s, 'SERVICE_UNAVAILABLE', 'totp')).toBe(1);
    expect(await count(s, 'NOT_ENROLLED', 'recovery')).toBe(1);
    expect(await counter(s.base, 'totp_verify_duration_seconds_count')).toBe(6);
    // the same verifies, one each, in the outcome counter (the histogram times what it counts)
    expect(await counter(s.base, 'totp_verify_total')).toBe(4);

    const text = await (await fetch(`${s.base}/metrics`)).text();
    const series = text.split('\n').filter((l) => l.startsWith('totp_verify_duration_seconds'));
    expect(series.some((l) => l.includes('le="0.001"'))).toBe(true);
    expect(series.some((l) => l.includes('le="2.5"'))).toBe(true);
    for (const line of series) expect(line).not.toMatch(/alice|bad/);
    // +Inf bucket = count, for every series (histogram_quantile needs cumulative buckets)
    const inf = series.filter((l) => l.includes('le="+Inf"')).map((l) => Number(l.split(' ').pop()));
    expect(inf.reduce((a, b) => a + b, 0)).toBe(6);
  });
});
