/**
 * The sides of the differential test (store-model.test.ts): the same services over the embedded
 * store, over a Redis and over a Redis Cluster, with one clock the test moves for all of them.
 *
 * Redis keeps time in two ways: the scripts compare the `now` they are given (the test clock),
 * but the TTLs they set (a pending enrollment's record and recovery codes, a client address's
 * one-minute window) run on Redis's own wall clock. In production both are Redis's clock; here the
 * test clock jumps ahead while Redis's does not, so `RedisTime` moves the TTLs with the test clock:
 * every TTL'd key the test can create has its TTL set again to what is left of it in test time,
 * before every command, before the state it left is compared, and after every move of the clock
 * (and is deleted when nothing is left). Every TTL the scripts set is a whole number of seconds
 * and the test clock moves in whole seconds, so what is left in test time is the Redis TTL rounded
 * up to a second, as long as less than a second of real time passes between a script that sets a
 * TTL and the next refresh (a command whose parts take longer on a very busy machine can make a
 * TTL one second short: then the run fails on a TTL alone, by one second, and does not shrink).
 */
import { randomBytes } from 'node:crypto';
import { keyIdOf, type KeyRing, type Policy, type SealKey, type TotpParams } from '@totp-service/core';
import { Cluster, Redis } from 'ioredis';
import { clusterOptions, FAIL_FAST } from '../../src/store/connect.js';
import { buildServices } from '../../src/services.js';
import { deviceFieldOf, isSealedField, pendingLapsed, PENDING_FIELDS } from '../../src/store/codec.js';
import { AUDIT_STREAMS, auditStreamKey, bucketKeys, clientKey, eventBucket, userKeys } from '../../src/store/keys.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { RedisStore } from '../../src/store/redis-store.js';
import type { StoredFactor, Store, StoreOptions, UserRecord } from '../../src/store/store.js';
import type { AdminService } from '../../src/totp/admin.service.js';
import type { RecoveryService } from '../../src/totp/recovery.service.js';
import type { TotpService } from '../../src/totp/totp.service.js';
import { checkClientIp } from '../../src/totp/validate.js';
import { CountingKeyRing, K1, K2, type TestClock } from '../contract/harness.js';

export type SideName = 'embedded' | 'redis' | 'cluster';

/** A small per-user audit cap, so that trimming a user's events (exact on both stores) is exercised. */
export const STORE_OPTIONS: StoreOptions = { auditMaxEvents: 10_000, auditUserMaxEvents: 12 };

/** A secret as the enrollment (or the import) handed it out. */
export interface Factor {
  /** The device it was enrolled or imported into (device ids are the same on every side). */
  readonly deviceId: string;
  readonly secret: Uint8Array;
  readonly params: TotpParams;
}

/** The services over one store, and what the test remembers of their answers. */
export class Side {
  service!: TotpService;
  recovery!: RecoveryService;
  admin!: AdminService;
  ring!: KeyRing;
  /** The test keys: the active one first; the other one is in the ring after a rotation, until dropped. */
  private active: SealKey = K1;
  private retired: SealKey | null = null;
  /** Every factor enrolled or imported per user, oldest first (the same enrollments on every side). */
  readonly factors = new Map<string, Factor[]>();
  /** The TOTP codes accepted per user, oldest first (for replays), as the secret and step they were made from. */
  readonly accepted = new Map<string, { factor: Factor; step: number }[]>();
  /** The recovery-code sets made per user, oldest first, and the codes accepted. */
  readonly recoverySets = new Map<string, string[][]>();
  readonly usedRecovery = new Map<string, string[]>();

  constructor(
    readonly name: SideName,
    readonly store: Store,
    readonly clock: TestClock,
    public policy: Policy,
    /** The Redis client of the store (with its key prefix), for its TTLs and raw records. */
    readonly redis: Redis | Cluster | null,
  ) {
    this.restart();
  }

  /** (Re)build the services, as a restart with the current keys and policy would; QR images are not rendered (slow, and no store's concern). */
  private restart(): void {
    this.ring = new CountingKeyRing(this.retired ? [this.active, this.retired] : [this.active]);
    const services = buildServices({
      store: this.store,
      keyRing: this.ring,
      clock: this.clock.read,
      policy: this.policy,
      issuer: 'Test Issuer',
      renderQr: async () => ({ dataUrl: '', svg: '' }),
    });
    this.service = services.totp;
    this.recovery = services.recovery;
    this.admin = services.admin;
  }

  /** A new active key: the other test key, with the one it replaces kept to open older values. */
  rotateKey(): void {
    [this.active, this.retired] = [this.active === K1 ? K2 : K1, this.active];
    this.restart();
  }

  /** The operator drops the retired key from the ring (true), or puts it back (false). */
  dropRetiredKey(drop: boolean): void {
    this.retired = drop ? null : this.active === K1 ? K2 : K1;
    this.restart();
  }

  usePolicy(policy: Policy): void {
    this.policy = policy;
    this.restart();
  }

  factorsOf(userId: string): Factor[] {
    let list = this.factors.get(userId);
    if (!list) this.factors.set(userId, (list = []));
    return list;
  }
}

/** Open a store of each kind asked for (Redis kinds only when their servers are there). */
export async function openStore(kind: SideName, urls: { redis: string | null; cluster: string | null }): Promise<{ store: Store; redis: Redis | Cluster | null }> {
  if (kind === 'embedded') return { store: new MemoryStore(STORE_OPTIONS), redis: null };
  const prefix = `m${randomBytes(4).toString('hex')}:`;
  let client: Redis | Cluster;
  if (kind === 'redis') {
    client = new Redis(urls.redis!, { ...FAIL_FAST, keyPrefix: prefix, lazyConnect: true });
  } else {
    const nodes = urls.cluster!.split(',').map((s) => ({ host: s.split(':')[0]!, port: Number(s.split(':')[1]) }));
    client = new Cluster(nodes, clusterOptions(prefix));
    client.on('error', () => {});
  }
  await client.connect();
  const store = new RedisStore(client, STORE_OPTIONS);
  await store.ping();
  // a fresh store is counted, as a server's start-up counts one written before the counts existed
  await store.recountKeys();
  return { store, redis: client };
}

/** The keys of a run that can carry a TTL, and every key it can write (deleted at the end). */
function runKeys(users: readonly string[], clientIps: readonly string[]) {
  const ttl = [...users.flatMap((u) => [userKeys(u).user, userKeys(u).recovery]), ...new Set(clientIps.map((ip) => clientKey(checkClientIp(ip)!.budgetKey)))];
  const buckets = new Set([...users.map((u) => userKeys(u).bucket), eventBucket(null)]);
  // every audit stream: the webhook outbox's consumer group is made on all of them (MKSTREAM)
  const streams = Array.from({ length: AUDIT_STREAMS }, (_, s) => auditStreamKey(s));
  const all = [...new Set([...ttl, ...users.map((u) => userKeys(u).events), ...[...buckets].flatMap((b) => Object.values(bucketKeys(b))), ...streams])];
  return { ttl, all };
}

/** Moves a Redis side's TTLs with the test clock (see the header). */
export class RedisTime {
  private readonly keys: { ttl: string[]; all: string[] };
  constructor(
    private readonly client: Redis | Cluster,
    users: readonly string[],
    clientIps: readonly string[],
  ) {
    this.keys = runKeys(users, clientIps);
  }

  /** Set every TTL to what is left of it in test time, after the test clock moved `advancedMs`. */
  async refresh(advancedMs = 0): Promise<void> {
    const c = this.client;
    const ttls = await Promise.all(this.keys.ttl.map((k) => c.pttl(k)));
    await Promise.all(
      this.keys.ttl.map((k, i) => {
        const left = ttls[i]!;
        if (left < 0) return Promise.resolve(0);
        const virtual = Math.ceil(left / 1000) * 1000 - advancedMs;
        return virtual <= 0 ? c.del(k) : c.pexpire(k, virtual);
      }),
    );
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.keys.all.map((k) => this.client.del(k)));
  }
}

/** A user's record as the port answers it, without what differs by design (sealed bytes, random generations). */
export function portView(r: UserRecord | null) {
  if (!r) return null;
  const factor = <F extends StoredFactor>(f: F | null) => {
    if (!f) return null;
    const { sealed, generation, ...rest } = f;
    return { ...rest, sealedWith: keyIdOf(sealed), hasGeneration: generation.length > 0 };
  };
  return { ...r, devices: r.devices.map((d) => ({ ...d, active: factor(d.active), pending: factor(d.pending) })) };
}

/** Fields holding random generations (compared by presence); sealed values are compared by the key that sealed them. */
const RANDOM = new Set(['g', 'pg']);

export interface RawUser {
  /** The record's fields as stored; null when there is no record. */
  readonly fields: Record<string, string> | null;
  /** Seconds left of the record's life; null when it lives until revoked. */
  readonly ttl: number | null;
  readonly recoveryCodes: number;
  readonly recoveryTtl: number | null;
}

/**
 * The fields, comparable across stores. A device's pending secret that lapsed unconfirmed is left
 * out (all of the device when it has nothing else: a new device never confirmed): every operation
 * ignores it (a rekey too, since it no longer counts it among the values it cannot open), and both
 * stores drop it lazily, but not at the same moments: the embedded store also on a rekey that
 * re-seals nothing of the user, and in its sweeper; RedisStore.reseal sends no script when there
 * is nothing to swap, so Redis keeps it until the user's next script.
 */
function normalize(fields: Record<string, Buffer | string>, now: number): Record<string, string> | null {
  const byDevice = new Map<string, Record<string, Buffer | string>>();
  for (const [name, v] of Object.entries(fields)) {
    const at = deviceFieldOf(name);
    if (!at) continue;
    const d = byDevice.get(at.deviceId) ?? {};
    d[at.field] = v;
    byDevice.set(at.deviceId, d);
  }
  const lapsed = (name: string) => {
    const at = deviceFieldOf(name);
    const d = at && byDevice.get(at.deviceId);
    if (!at || !d || !pendingLapsed(d, now)) return false;
    return d.s === undefined || (PENDING_FIELDS as readonly string[]).includes(at.field);
  };
  const out: Record<string, string> = {};
  for (const name of Object.keys(fields).sort()) {
    if (lapsed(name)) continue;
    const v = fields[name]!;
    const field = deviceFieldOf(name)?.field ?? name;
    out[name] = isSealedField(name) ? `sealed by ${keyIdOf(Buffer.from(v))}` : RANDOM.has(field) ? '(random)' : v.toString();
  }
  return Object.keys(out).length > 0 ? out : null;
}

interface MemoryInternals {
  readonly users: Map<string, { fields: Record<string, Buffer | string>; expiresAt: number }>;
  readonly recovery: Map<string, Set<string>>;
}

/**
 * A user's record as stored: the embedded store's private maps, or the Redis hash. A record of
 * the embedded store whose life has run out counts as gone (it drops such records when it next
 * touches them; Redis never shows an expired key).
 */
export async function rawUser(side: Side, userId: string): Promise<RawUser> {
  const now = side.clock.now;
  if (side.redis === null) {
    const m = side.store as unknown as MemoryInternals;
    if (!(m.users instanceof Map) || !(m.recovery instanceof Map)) throw new Error('MemoryStore no longer keeps `users` and `recovery` maps: update rawUser');
    const u = m.users.get(userId);
    const live = u !== undefined && !(u.expiresAt > 0 && u.expiresAt <= now);
    const ttl = live && u.expiresAt > 0 ? (u.expiresAt - now) / 1000 : null;
    const codes = live ? (m.recovery.get(userId)?.size ?? 0) : 0;
    return { fields: live ? normalize(u.fields, now) : null, ttl, recoveryCodes: codes, recoveryTtl: codes > 0 ? ttl : null };
  }
  const k = userKeys(userId);
  const c = side.redis;
  const [fields, ttl, codes, codesTtl] = await Promise.all([c.hgetallBuffer(k.user), c.pttl(k.user), c.hlen(k.recovery), c.pttl(k.recovery)]);
  const seconds = (ms: number) => (ms < 0 ? null : Math.ceil(ms / 1000));
  return { fields: normalize(fields, now), ttl: seconds(ttl), recoveryCodes: codes, recoveryTtl: codes > 0 ? seconds(codesTtl) : null };
}

/** The user's devices as the store holds them (read without side effects, lapsed ones left out), ids ascending. */
export async function liveDeviceIds(side: Side, userId: string): Promise<string[]> {
  const { fields } = await rawUser(side, userId);
  const ids = new Set(Object.keys(fields ?? {}).flatMap((name) => {
    const at = deviceFieldOf(name);
    return at && (at.field === 's' || at.field === 'ps') ? [at.deviceId] : [];
  }));
  return [...ids].sort((a, b) => Number(a) - Number(b));
}
