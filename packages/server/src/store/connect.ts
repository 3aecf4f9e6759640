import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import type { HostPort, Store, StoreSettings } from './store.js';
import { explainTlsFailure, probeTls, tlsOptions, type RedisTls } from './tls.js';

/**
 * Connection settings that fail fast: no offline queue (a command while Redis is away fails at
 * once instead of waiting in memory), a command timeout, and no command ever sent twice: when a
 * connection breaks, the commands in flight fail (maxRetriesPerRequest 0) rather than being sent
 * again on the next connection (autoResendUnfulfilledCommands), because Redis may already have run
 * them and a reservation run twice would count one guess as two failures. The client keeps
 * reconnecting in the background, so the service recovers when Redis comes back.
 *
 * No auto-pipelining on one Redis: the script calls of one turn of the event loop share a socket
 * write another way (coalesce.ts), without holding a turn's calls until the previous batch is
 * answered. A Cluster keeps it (clusterOptions).
 */
export const FAIL_FAST: RedisOptions = {
  enableOfflineQueue: false,
  enableAutoPipelining: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  connectTimeout: 2000,
  commandTimeout: 2000,
  retryStrategy: (attempt) => Math.min(attempt * 100, 1000),
};

/**
 * The same for a Cluster: no offline queue at the cluster level (a command for a slot whose master
 * is unreachable fails at once), the per-node settings above, and a bounded number of redirections
 * (MOVED/ASK during a resharding, TRYAGAIN/CLUSTERDOWN during a failover are retried for about a
 * second, then fail as SERVICE_UNAVAILABLE: Redis refused those commands before running them). A
 * command whose connection closed is not retried (retryDelayOnFailover 0): it may have run.
 */
export function clusterOptions(keyPrefix: string, password?: string | null, tls?: RedisTls | null): ClusterOptions {
  return {
    keyPrefix,
    enableOfflineQueue: false,
    // a call goes to its slot's node: ioredis batches per node (coalesce.ts works on one socket)
    enableAutoPipelining: true,
    enableReadyCheck: true,
    lazyConnect: true,
    maxRedirections: 8,
    retryDelayOnClusterDown: 150,
    retryDelayOnFailover: 0,
    retryDelayOnTryAgain: 150,
    clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 1000),
    redisOptions: {
      connectTimeout: FAIL_FAST.connectTimeout!,
      commandTimeout: FAIL_FAST.commandTimeout!,
      maxRetriesPerRequest: FAIL_FAST.maxRetriesPerRequest!,
      autoResendUnfulfilledCommands: false,
      ...(password ? { password } : {}),
      ...(tls ? { tls: tlsOptions(tls) } : {}),
    },
  };
}

type RedisSettings = Exclude<StoreSettings, { kind: 'embedded' }>;

/** The client for a Redis setting, and how to name its address in a message. */
function redisClient(s: RedisSettings): { client: Redis | Cluster; target: string } {
  const list = (nodes: readonly HostPort[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  switch (s.kind) {
    case 'cluster':
      return { client: new Cluster([...s.nodes], clusterOptions(s.keyPrefix, s.password, s.tls)), target: list(s.nodes) };
    case 'sentinel':
      // ioredis asks the Sentinels for the master, and again after every lost connection, so a
      // failover is followed by itself; a replica is never written to (role checked on connect)
      return {
        client: new Redis({
          ...FAIL_FAST,
          sentinels: [...s.sentinels],
          name: s.master,
          role: 'master',
          sentinelRetryStrategy: (attempt) => Math.min(attempt * 100, 1000),
          failoverDetector: true,
          keyPrefix: s.keyPrefix,
          lazyConnect: true,
          ...(s.password ? { password: s.password } : {}),
          // TLS to the Sentinels and to the master they name
          ...(s.tls ? { tls: tlsOptions(s.tls), sentinelTLS: tlsOptions(s.tls), enableTLSForSentinelMode: true } : {}),
        }),
        target: `the master "${s.master}" of Sentinels ${list(s.sentinels)}`,
      };
    case 'redis':
      return {
        client: new Redis(s.url, { ...FAIL_FAST, keyPrefix: s.keyPrefix, lazyConnect: true, ...(s.tls ? { tls: tlsOptions(s.tls) } : {}) }),
        target: redactUrl(s.url),
      };
  }
}

/** Make the store the settings ask for; for Redis, wait until it answers (or give up). */
export async function connectStore(settings: StoreSettings, waitMillis = 10_000): Promise<Store> {
  if (settings.kind === 'embedded') return new MemoryStore(settings.options);
  const { client, target } = redisClient(settings);
  const tls = settings.tls;
  // reported through failing operations and /readyz (without a listener ioredis would log to
  // stderr); the last error, and the first TLS failure, are kept to explain a failed start
  let clientError: unknown;
  let tlsError: unknown;
  const keep = (err: unknown) => {
    clientError = err;
    if (tls && !tlsError && explainTlsFailure(err, tls)) tlsError = err;
  };
  client.on('error', keep);
  client.on('node error', keep);
  const store = new RedisStore(client, settings.options);
  const deadline = Date.now() + waitMillis;
  let lastError: unknown;
  if (tls) {
    // a certificate refused now is refused on every try: say why at once instead of waiting
    const first = firstAddress(settings);
    const refused = explainTlsFailure(await probeTls(first.host, first.port, tls, FAIL_FAST.connectTimeout!), tls);
    if (refused) {
      client.disconnect();
      throw new Error(`cannot reach Redis at ${target}: ${refused}`);
    }
  }
  // bounded: with Sentinels that cannot be reached, ioredis keeps retrying and never settles
  const connecting = client.connect().catch((err: unknown) => {
    lastError = err;
  });
  await Promise.race([connecting, new Promise((r) => setTimeout(r, waitMillis).unref())]);
  const tlsFailure = () => (tls ? (explainTlsFailure(tlsError, tls) ?? explainTlsFailure(lastError, tls)) : null);
  while (Date.now() < deadline && !tlsFailure()) {
    try {
      await store.ping();
      await store.followClock();
      return store;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  client.disconnect();
  // the connection's own error (ECONNREFUSED, a timeout, NOAUTH) says more than a refused command's
  // ("Stream isn't writeable …", which only means there is no connection)
  const why = tlsFailure() ?? ((clientError ?? lastError) as Error | undefined)?.message ?? 'no answer within the wait';
  throw new Error(`cannot reach Redis at ${target}: ${why}`);
}

/** The first address the settings name: REDIS_URL's host, the first Cluster seed or Sentinel. */
function firstAddress(s: RedisSettings): HostPort {
  if (s.kind === 'cluster') return s.nodes[0]!;
  if (s.kind === 'sentinel') return s.sentinels[0]!;
  const u = new URL(s.url);
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1', port: Number(u.port) || 6379 };
}

/** A Redis URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the configured REDIS_URL';
  }
}
