import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { FAIL_FAST } from '../src/store/connect.js';
import { auditStreamKey, bucketOf, clientKey } from '../src/store/keys.js';
import { GROUP } from '../src/store/redis-outbox.js';
import { RedisStore } from '../src/store/redis-store.js';
import { Scripts, scriptLibrary } from '../src/store/scripts.js';
import { storeContract } from './contract/index.js';
import { makeHarness, wrongCode } from './contract/harness.js';
import { redisStore } from './support/redis.js';

const redisUrl = inject('redisUrl');
if (!redisUrl) console.warn('skipping the Redis store tests: no redis-server (apt-get install redis-server)');

describe.skipIf(!redisUrl)('redis store', () => {
  storeContract((options) => redisStore(redisUrl!, options));
});

describe.skipIf(!redisUrl)('redis outbox', () => {
  it('reports the events waiting behind a group Redis has no lag for (made at the end of a log with history, without ENTRIESREAD)', async () => {
    const { store, client, dispose } = await redisStore(redisUrl!);
    try {
      const h = makeHarness(store);
      let n = 0;
      while (bucketOf(`earlier-${n}`) !== bucketOf('later')) n++;
      await h.enroll(`earlier-${n}`);
      // the group as a plain XGROUP CREATE … $ makes it: Redis then reports no lag until it catches up
      const streams = Array.from({ length: store.outbox.streams }, (_, s) => auditStreamKey(s));
      for (const key of streams) await client.xgroup('CREATE', key, GROUP, '$', 'MKSTREAM');
      await store.outbox.start();
      await h.activate('later');
      expect(await store.outbox.take('a', 1)).toHaveLength(1);
      expect(await store.outbox.backlog()).toEqual({ pending: 1, waiting: 2 });
    } finally {
      await dispose();
    }
  });
});

describe.skipIf(!redisUrl)('the client-address counter on Redis', () => {
  it('starts a window with its first attempt, forgets an address whose only attempt is given back, and gives a window to a counter found without one', async () => {
    const { client, dispose } = await redisStore(redisUrl!);
    try {
      const scripts = new Scripts(client);
      const key = clientKey('203.0.113.9');
      expect(await scripts.clientHit(key, 2, 60_000)).toEqual([1, 1]);
      expect(await client.pttl(key)).toBeGreaterThan(59_000);
      expect(await scripts.clientHit(key, 2, 60_000)).toEqual([1, 0]);
      const [within, retryAfter] = await scripts.clientHit(key, 2, 60_000);
      expect(within).toBe(0);
      expect(retryAfter).toBeGreaterThan(59_000);
      expect(retryAfter).toBeLessThanOrEqual(60_000);
      expect(await scripts.unclient(key)).toBe(2);

      const other = clientKey('198.51.100.4');
      await scripts.clientHit(other, 2, 60_000);
      expect(await scripts.unclient(other)).toBe(0);
      expect(await client.exists(other)).toBe(0);
      expect(await scripts.clientHit(other, 2, 60_000)).toEqual([1, 1]);
      expect(await client.pttl(other)).toBeGreaterThan(59_000);

      // no script leaves a counter without its window; one found so gets it when it answers over budget
      await client.set(other, '5');
      expect(await scripts.clientHit(other, 2, 60_000)).toEqual([0, 60_000]);
      expect(await client.pttl(other)).toBeGreaterThan(59_000);
    } finally {
      await dispose();
    }
  });
});

const loaded = async (client: Redis) => ((await client.call('FUNCTION', 'LIST', 'LIBRARYNAME', scriptLibrary().name)) as unknown[]).length > 0;

describe.skipIf(!redisUrl)('the scripts as Redis functions', () => {
  it('loads its library where Redis lacks it, and runs the call that found it missing exactly once', async () => {
    const { store, client, dispose } = await redisStore(redisUrl!);
    try {
      const h = makeHarness(store);
      const f = await h.activate('fn-user');
      expect(await loaded(client)).toBe(true);
      // as after a restart without persistence: the library is gone (tests beside this one load it again as they need it)
      await client.call('FUNCTION', 'DELETE', scriptLibrary().name);
      expect(await loaded(client)).toBe(false);
      expect((await h.verify('fn-user', wrongCode(h.code(f)))).outcome).toBe('INVALID_CODE');
      expect(await loaded(client)).toBe(true);
      expect((await h.service.status('fn-user'))?.failedAttempts).toBe(1);
      expect((await h.verify('fn-user', h.code(f))).outcome).toBe('ACCEPTED');
    } finally {
      await dispose();
    }
  });

  it('names the library and its functions by a hash of their code, so two versions side by side call their own', () => {
    const { name, code, functionName } = scriptLibrary();
    const version = /^totp_([0-9a-f]{12})$/.exec(name)?.[1];
    expect(version).toBeDefined();
    expect(code.startsWith(`#!lua name=${name}\n`)).toBe(true);
    expect(functionName('totpAttempt')).toBe(`totpAttempt_${version}`);
    expect(code).toContain(`function_name = 'totpAttempt_${version}'`);
    expect(code).not.toContain('__TOTP_LIBRARY_VERSION__');
  });

  it('runs its scripts by EVALSHA for an ACL user who may not use functions', async () => {
    const admin = new Redis(redisUrl!, { ...FAIL_FAST, lazyConnect: true });
    await admin.connect();
    const user = `nofn${randomBytes(4).toString('hex')}`;
    await admin.call('ACL', 'SETUSER', user, 'on', '>secret-pass', '~*', '&*', '+@all', '-fcall', '-fcall_ro', '-function');
    const prefix = `t${randomBytes(4).toString('hex')}:`;
    const u = new URL(redisUrl!);
    const client = new Redis({ ...FAIL_FAST, host: u.hostname, port: Number(u.port), username: user, password: 'secret-pass', keyPrefix: prefix, lazyConnect: true });
    await client.connect();
    const store = new RedisStore(client, { auditMaxEvents: 10_000, auditUserMaxEvents: 1000 });
    try {
      await expect(client.fcall(scriptLibrary().functionName('totpTime'), 1, 'x')).rejects.toThrow(/NOPERM/);
      const h = makeHarness(store);
      const f = await h.activate('eval-user');
      expect((await h.verify('eval-user', wrongCode(h.code(f)))).outcome).toBe('INVALID_CODE');
      expect((await h.service.status('eval-user'))?.failedAttempts).toBe(1);
      expect((store as unknown as { scripts: Scripts }).scripts.runner.usesFunctions).toBe(false);
    } finally {
      await store.close();
      await admin.call('ACL', 'DELUSER', user);
      admin.disconnect();
    }
  });
});
