import { randomBytes } from 'node:crypto';
import { Cluster } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { clusterOptions } from '../src/store/connect.js';
import { userKeys } from '../src/store/keys.js';
import { RedisStore } from '../src/store/redis-store.js';
import { storeContract } from './contract/index.js';
import { APP, makeHarness } from './contract/harness.js';

const seeds = inject('redisClusterNodes');
if (!seeds) console.warn('skipping the Redis Cluster store tests: no redis-server (apt-get install redis-server)');

/** A store on the test cluster with its own key prefix: no FLUSHALL, no interference. */
export async function clusterStore(spec: string) {
  const prefix = `c${randomBytes(4).toString('hex')}:`;
  const nodes = spec.split(',').map((s) => ({ host: s.split(':')[0]!, port: Number(s.split(':')[1]) }));
  const client = new Cluster(nodes, clusterOptions(prefix));
  client.on('error', () => {});
  await client.connect();
  const store = new RedisStore(client, { auditMaxEvents: 10_000, auditUserMaxEvents: 1000 });
  await store.ping();
  return { store, client, prefix, dispose: () => store.close() };
}

describe.skipIf(!seeds)('redis cluster store', () => {
  storeContract(() => clusterStore(seeds!));

  it('spreads users over every master, each user in one slot', async () => {
    const { store, client, dispose } = await clusterStore(seeds!);
    try {
      const h = makeHarness(store);
      const ids = Array.from({ length: 64 }, (_, i) => `{u${i}}:x:${'}'.repeat(i % 3)}`);
      for (const id of ids) await h.enroll(id);
      const owners = new Set<string | undefined>();
      for (const id of ids) {
        const slot = Number(await client.cluster('KEYSLOT', userKeys(id).user));
        owners.add(client.slots[slot]?.[0]);
      }
      expect(owners.size).toBe(3);
      for (const id of ids) expect((await h.service.status(id))?.status).toBe('PENDING');
      expect(await h.service.revoke(APP, ids[0]!)).toBe(true);
    } finally {
      await dispose();
    }
  });
});
