import { describe, expect, inject, it } from 'vitest';
import { userKeys } from '../src/store/keys.js';
import { storeContract } from './contract/index.js';
import { APP, makeHarness, wrongCode } from './contract/harness.js';
import { scriptLibrary } from '../src/store/scripts.js';
import { clusterStore } from './support/cluster.js';

const seeds = inject('redisClusterNodes');
if (!seeds) console.warn('skipping the Redis Cluster store tests: no redis-server (apt-get install redis-server)');

describe.skipIf(!seeds)('redis cluster store', () => {
  storeContract((options) => clusterStore(seeds!, options));

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

  it('loads its function library again on every master that lost it', async () => {
    const { store, client, dispose } = await clusterStore(seeds!);
    try {
      const h = makeHarness(store);
      const ids = Array.from({ length: 12 }, (_, i) => `fn-${i}`);
      const factors = [];
      for (const id of ids) factors.push(await h.activate(id));
      const { name } = scriptLibrary();
      // as on new masters, or after restarts without persistence
      await Promise.all(client.nodes('master').map((n) => n.call('FUNCTION', 'DELETE', name).catch(() => undefined)));
      for (const [i, id] of ids.entries()) expect((await h.verify(id, wrongCode(h.code(factors[i]!)))).outcome).toBe('INVALID_CODE');
      for (const id of ids) expect((await h.service.status(id))?.failedAttempts).toBe(1);
      for (const n of client.nodes('master')) expect(((await n.call('FUNCTION', 'LIST', 'LIBRARYNAME', name)) as unknown[]).length).toBe(1);
    } finally {
      await dispose();
    }
  });
});
