/**
 * A script is run at most once per call: when a connection breaks after Redis ran a reservation
 * but before its reply arrived, the client must not send it again on the next connection (that
 * would count one guess as two failures, or give back an attempt twice). A TCP proxy loses the
 * reply of one reservation and cuts the connection, on a single Redis and on a Cluster (reached
 * through one proxy per master with ioredis's natMap).
 */
import { randomBytes } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { FAIL_FAST, clusterOptions } from '../src/store/connect.js';
import { encodeId, userKeys } from '../src/store/keys.js';
import { RedisStore } from '../src/store/redis-store.js';
import { makeHarness, wrongCode } from './contract/harness.js';
import { startProxy, type Proxy } from './support/proxy.js';

const redisUrl = inject('redisUrl');
const seeds = inject('redisClusterNodes');
const limits = { auditMaxEvents: 10_000, auditUserMaxEvents: 1000 };

/** The failures counted and what the verify answered, after the reply of its reservation was lost. */
async function loseReservationReply(store: RedisStore, proxyOf: (userId: string) => Promise<Proxy>) {
  const h = makeHarness(store);
  const userId = `lost-${randomBytes(3).toString('hex')}`;
  const f = await h.activate(userId);
  // the scripts are loaded, so the reservation goes out as one EVALSHA naming the user's key
  await h.verify(userId, wrongCode(h.code(f)));
  const proxy = await proxyOf(userId);
  const lost = proxy.loseNextReplyTo(encodeId(userId));
  const answer = await h.verify(userId, wrongCode(h.code(f))).then(
    (r) => r.outcome,
    (err: Error) => err.name,
  );
  await lost;
  // the client reconnects by itself; then the user's state tells how often the script ran
  let failures: number | undefined;
  for (let i = 0; i < 100 && failures === undefined; i++) {
    failures = await h.service.status(userId).then(
      (s) => s?.failedAttempts,
      () => new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)),
    );
  }
  return { answer, failures };
}

describe.skipIf(!redisUrl)('a lost reply on a single Redis', () => {
  let proxy: Proxy | undefined;
  let client: Redis | undefined;
  afterEach(async () => {
    client?.disconnect();
    await proxy?.close();
  });

  it('is never answered by sending the reservation again', async () => {
    const u = new URL(redisUrl!);
    proxy = await startProxy({ host: u.hostname, port: Number(u.port) });
    client = new Redis({ ...FAIL_FAST, host: '127.0.0.1', port: proxy.port, keyPrefix: `amo${randomBytes(3).toString('hex')}:`, lazyConnect: true });
    client.on('error', () => {});
    await client.connect();
    const store = new RedisStore(client, limits);
    const { answer, failures } = await loseReservationReply(store, async () => proxy!);
    expect(answer).toBe('StoreUnavailableError');
    // one guess before, one guess whose reply was lost: two failures, not three
    expect(failures).toBe(2);
  });
});

describe.skipIf(!seeds)('a lost reply on a Redis Cluster', () => {
  const proxies = new Map<string, Proxy>();
  let client: Cluster | undefined;
  afterEach(async () => {
    client?.disconnect();
    await Promise.all([...proxies.values()].map((p) => p.close()));
    proxies.clear();
  });

  it('is never answered by sending the reservation again, to this master or another', async () => {
    const nodes = seeds!.split(',');
    for (const n of nodes) {
      const [host, port] = n.split(':') as [string, string];
      proxies.set(n, await startProxy({ host, port: Number(port) }));
    }
    const natMap = Object.fromEntries([...proxies].map(([n, p]) => [n, { host: '127.0.0.1', port: p.port }]));
    const prefix = `amo${randomBytes(3).toString('hex')}:`;
    const [seedProxy] = proxies.values();
    client = new Cluster([{ host: '127.0.0.1', port: seedProxy!.port }], { ...clusterOptions(prefix), natMap });
    client.on('error', () => {});
    await client.connect();
    const store = new RedisStore(client, limits);
    const { answer, failures } = await loseReservationReply(store, async (userId) => {
      const slot = Number(await client!.cluster('KEYSLOT', `${prefix}${userKeys(userId).user}`));
      const owner = client!.slots[slot]![0]!;
      // the slot table names masters by their proxied addresses
      return [...proxies.values()].find((p) => owner.endsWith(`:${p.port}`))!;
    });
    expect(answer).toBe('StoreUnavailableError');
    expect(failures).toBe(2);
  });
});
