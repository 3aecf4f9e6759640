/**
 * What the admin operations cost at their worst, on Redis, through the whole server: 5,000
 * users and 200,000 audit events. The worst allowed audit query is a filter that matches nothing
 * over everyone's log (it examines its whole scan budget, 20,000 entries, and returns a partial
 * page); a listing reads 1,000 users; a rekey with nothing to do still walks every user. Each is
 * timed per request, and so is a verify while four of the worst run at once: a leaked admin key
 * can slow the service by the scan budgets, not stop it. Times are printed (the report quotes
 * them); the bounds asserted are loose, for a loaded two-core machine.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SCAN_BUDGET } from '../src/store/audit-query.js';
import { FAIL_FAST } from '../src/store/connect.js';
import { userKeys } from '../src/store/keys.js';
import { RedisStore } from '../src/store/redis-store.js';
import { secretContext } from '../src/totp/state.js';
import { ADMIN_TOKEN, startInProcess, type InProcessServer } from './support/in-process.js';

const redisUrl = inject('redisUrl');
const USERS = 5000;
const EVENTS = 200_000;

/** Median and worst of `n` runs of `send`, ms. */
async function timed(n: number, send: () => Promise<unknown>): Promise<{ medianMs: number; maxMs: number }> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await send();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { medianMs: Math.round(times[Math.floor(n / 2)]!), maxMs: Math.round(times.at(-1)!) };
}

describe.skipIf(!redisUrl)('the cost of the admin operations at their worst, on Redis', () => {
  const prefix = `ac${randomBytes(4).toString('hex')}:`;
  let client: Redis;
  let s: InProcessServer;
  const results: Record<string, unknown> = {};
  beforeAll(async () => {
    client = new Redis(redisUrl!, { ...FAIL_FAST, commandTimeout: 30_000, keyPrefix: prefix, lazyConnect: true });
    await client.connect();
    const store = new RedisStore(client, { auditMaxEvents: 10_000_000, auditUserMaxEvents: 1000 });
    s = await startInProcess({ store });
    const now = Date.now();
    for (let i = 0; i < USERS; i += 500) {
      await Promise.all(Array.from({ length: 500 }, (_, j) => {
        const userId = `user-${i + j}`;
        const factor = { sealed: s.keyRing.seal(randomBytes(20), secretContext(userId)), generation: 'g', createdAt: now, algorithm: 'SHA1', digits: 6, period: 30, issuer: 'I', accountName: userId } as const;
        return store.enroll({ userId, deviceName: 'default', maxDevices: 5, factor, replace: false, now, expiresAt: now, actor: { name: 'seed' }, mode: 'active' });
      }));
    }
    // failed verifies, written into the bucket streams as settle.lua writes them (far faster)
    for (let n = 0; n < EVENTS; n += 5000) {
      const p = client.pipeline();
      for (let k = 0; k < 5000; k++) {
        const userId = `user-${(n + k) % USERS}`;
        p.xadd(userKeys(userId).audit, '*', 't', 'VERIFY', 'u', userId, 'a', 'shop', 'o', 'INVALID_CODE');
      }
      await p.exec();
    }
  }, 120_000);
  afterAll(async () => {
    console.table(results);
    await s?.close();
    const raw = new Redis(redisUrl!);
    let cursor = '0';
    do {
      const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 10_000);
      cursor = next;
      if (keys.length > 0) await raw.del(...keys);
    } while (cursor !== '0');
    raw.disconnect();
  });

  const admin = async (query: string) => {
    const r = await s.gql(query, {}, ADMIN_TOKEN);
    expect(r.json!.errors, r.text.slice(0, 300)).toBeUndefined();
    return r.json!.data!;
  };
  const SPARSE = '{ auditEvents(first: 1, types: [REKEYED]) { nodes { id } pageInfo { endCursor hasNextPage } } }';

  it('answers the sparsest audit query with a partial page after its scan budget', async () => {
    const page = (await admin(SPARSE)).auditEvents as { nodes: unknown[]; pageInfo: { endCursor: string; hasNextPage: boolean } };
    expect(page.nodes).toEqual([]);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const cost = await timed(5, () => admin(SPARSE));
    results[`auditEvents, a filter matching none of ${EVENTS} (examines ${SCAN_BUDGET})`] = cost;
    expect(cost.medianMs).toBeLessThan(5000);
  });

  it('answers the other worst cases: a full audit page, a full listing, a rekey with nothing to do', async () => {
    const cases: [string, string][] = [
      ['auditEvents(first: 1000), every field', '{ auditEvents(first: 1000) { nodes { id at type userId actor clientIp outcome detail } pageInfo { endCursor } } }'],
      ['totpEnrollments(first: 1000)', '{ totpEnrollments(first: 1000) { nodes { userId status failedAttempts lockedUntil } pageInfo { endCursor } } }'],
      [`rekeyTotp over ${USERS} users, nothing to re-seal`, 'mutation { rekeyTotp { rekeyed } }'],
    ];
    for (const [name, query] of cases) {
      const cost = await timed(3, () => admin(query));
      results[name] = cost;
      expect(cost.medianMs).toBeLessThan(10_000);
    }
  });

  it('refuses 15 of them in one request at the cost of any rejection', async () => {
    const doc = `{ ${Array.from({ length: 15 }, (_, i) => `a${i}: auditEvents(first: 1, types: [REKEYED]) { pageInfo { hasNextPage } }`).join(' ')} }`;
    const cost = await timed(20, async () => {
      const r = await s.gql(doc, {}, ADMIN_TOKEN);
      expect(r.json!.errors![0]!.extensions).toEqual({ code: 'QUERY_TOO_COMPLEX', limit: 'scans' });
    });
    results['15 sparse audit queries in one request (refused)'] = cost;
    expect(cost.medianMs).toBeLessThan(100);
  });

  it('keeps verifies answering while four of the worst queries run at once', async () => {
    const verify = () => s.gql('mutation { verifyTotp(userId: "user-1", code: "000000") { outcome } }');
    const quiet = await timed(20, verify);
    let running = true;
    const scans = Array.from({ length: 4 }, async () => {
      while (running) await admin(SPARSE);
    });
    await new Promise((r) => setTimeout(r, 200));
    const loaded = await timed(20, verify);
    running = false;
    await Promise.all(scans);
    results['verify, quiet'] = quiet;
    results['verify, under 4 concurrent sparse audit scans'] = loaded;
    expect(loaded.medianMs).toBeLessThan(2000);
  });
});
