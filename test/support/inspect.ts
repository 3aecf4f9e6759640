/**
 * Looking at what the server left behind, from outside: every Redis key under a test's prefix
 * with its contents, a user's audit trail read straight from Redis, codes from oathtool,
 * and Prometheus counters from /metrics.
 */
import { execFileSync } from 'node:child_process';
import { auditFields, fullEntryId } from '@totp-service/server';
import { Redis } from 'ioredis';

export interface RedisValue {
  readonly key: string;
  readonly type: string;
  /** Every string the value holds (field names, values, members, stream entries), raw bytes. */
  readonly parts: readonly Buffer[];
}

/** SCAN `prefix*` and read every key by its type. */
export async function dumpRedis(url: string, prefix: string): Promise<RedisValue[]> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const out: RedisValue[] = [];
    for (const key of keys) {
      const type = await redis.type(key);
      let parts: Buffer[] = [];
      if (type === 'string') parts = [(await redis.getBuffer(key))!];
      else if (type === 'hash') parts = Object.entries(await redis.hgetallBuffer(key)).flatMap(([f, v]) => [Buffer.from(f), v]);
      else if (type === 'zset') parts = await redis.zrangeBuffer(key, 0, -1, 'WITHSCORES');
      else if (type === 'set') parts = await redis.smembersBuffer(key);
      else if (type === 'list') parts = await redis.lrangeBuffer(key, 0, -1);
      else if (type === 'stream') {
        const entries = (await redis.xrangeBuffer(key, '-', '+')) as unknown as [Buffer, Buffer[]][];
        parts = entries.flatMap(([id, fields]) => [id, ...fields]);
      } else throw new Error(`unexpected type ${type} of ${key}`);
      out.push({ key, type, parts: [Buffer.from(key), ...parts] });
    }
    return out;
  } finally {
    redis.disconnect();
  }
}

export interface StreamEvent {
  readonly type: string;
  readonly userId?: string;
  readonly outcome?: string;
  readonly clientIp?: string;
}

/**
 * A user's audit trail straight from Redis, oldest first: the user's list of event ids
 * (`{bNN}:ei:<base64url id>` under the prefix, newest first) and those entries of the bucket's
 * stream (`{bNN}:audit`).
 */
export async function userEvents(url: string, prefix: string, userId: string): Promise<StreamEvent[]> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    const pattern = `${prefix}{b*}:ei:${Buffer.from(userId, 'utf8').toString('base64url')}`;
    const [, keys] = await redis.scan('0', 'MATCH', pattern, 'COUNT', 1_000_000);
    const events: StreamEvent[] = [];
    for (const key of keys) {
      const stream = `${key.slice(0, key.indexOf('}') + 1)}:audit`;
      for (const id of (await redis.lrange(key, 0, -1)).map(fullEntryId).reverse()) {
        for (const [, flat] of await redis.xrange(stream, id, id)) {
          const f = auditFields(flat);
          events.push({ type: f.t!, userId: f.u, outcome: f.o, clientIp: f.ip });
        }
      }
    }
    return events;
  } finally {
    redis.disconnect();
  }
}

/**
 * Codes evaluated for a user, as its audit trail shows them: verifies (and, with
 * RECOVERY_CODE_USED among `types`, recovery attempts) that compared a code.
 */
export const evaluated = (events: readonly StreamEvent[], types: readonly string[] = ['VERIFY']) =>
  events.filter((e) => types.includes(e.type) && ['ACCEPTED', 'INVALID_CODE', 'REPLAYED'].includes(e.outcome ?? '')).length;

/** The code of a base32 secret at now + offset steps, from oathtool. */
export function oathCode(oathtool: string, secret: string, offset = 0, opts: { algorithm?: string; digits?: number; period?: number } = {}): string {
  const period = opts.period ?? 30;
  const at = Math.floor(Date.now() / 1000) + offset * period;
  return execFileSync(oathtool, [
    `--totp=${(opts.algorithm ?? 'SHA1').toLowerCase()}`, `--digits=${opts.digits ?? 6}`, `--time-step-size=${period}s`, `--now=@${at}`, '-b', secret,
  ], { encoding: 'utf8' }).trim();
}

/** `count` 6-digit codes that are none of the codes of the seven steps around now (one oathtool run). */
export function wrongCodes(oathtool: string, secret: string, count: number): string[] {
  const from = Math.floor(Date.now() / 1000) - 3 * 30;
  const near = new Set(execFileSync(oathtool, ['--totp', '--digits=6', '--window=6', `--now=@${from}`, '-b', secret], { encoding: 'utf8' }).trim().split('\n'));
  if (near.size < 2) throw new Error('oathtool printed no window');
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const c = String((i * 7919 + 4242) % 1_000_000).padStart(6, '0');
    if (!near.has(c)) out.push(c);
  }
  return out;
}

/** The sum of a Prometheus counter over the series whose labels include `labels`. */
export async function counter(base: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^(\w+)(\{[^}]*\})? ([\d.e+-]+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}
