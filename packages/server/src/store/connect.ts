import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Config } from '../config.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import type { Store } from './store.js';

/**
 * Connection settings that fail fast: no offline queue (a command while Redis is away fails at
 * once instead of waiting in memory), a command timeout, and no command ever sent twice: when a
 * connection breaks, the commands in flight fail (maxRetriesPerRequest 0) rather than being sent
 * again on the next connection (autoResendUnfulfilledCommands), because Redis may already have run
 * them and a reservation run twice would count one guess as two failures. The client keeps
 * reconnecting in the background, so the service recovers when Redis comes back.
 *
 * Auto-pipelining: the commands of all requests issued in one tick of the event loop leave in one
 * socket write (and their replies come back in one read), instead of a system call each. Round
 * trips per request stay what they are; under load the syscalls per verify drop several-fold.
 */
export const FAIL_FAST: RedisOptions = {
  enableOfflineQueue: false,
  enableAutoPipelining: true,
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
export function clusterOptions(keyPrefix: string, password?: string | null): ClusterOptions {
  return {
    keyPrefix,
    enableOfflineQueue: false,
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
    },
  };
}

/** Make the store the configuration asks for; for Redis, wait until it answers (or give up). */
export async function connectStore(config: Config, waitMillis = 10_000): Promise<Store> {
  const options = { auditMaxEvents: config.auditMaxEvents, auditUserMaxEvents: config.auditUserMaxEvents };
  if (!config.redisUrl && !config.redisClusterNodes && !config.redisSentinels) return new MemoryStore(options);
  const redisOptions = { ...options, allowEviction: config.allowEviction };

  let client: Redis | Cluster;
  let target: string;
  if (config.redisClusterNodes) {
    target = config.redisClusterNodes.map((n) => `${n.host}:${n.port}`).join(',');
    client = new Cluster([...config.redisClusterNodes], clusterOptions(config.keyPrefix, config.redisPassword));
  } else if (config.redisSentinels) {
    target = `the master "${config.redisSentinelMaster}" of Sentinels ${config.redisSentinels.map((n) => `${n.host}:${n.port}`).join(',')}`;
    // ioredis asks the Sentinels for the master, and again after every lost connection, so a
    // failover is followed by itself; a replica is never written to (role checked on connect)
    client = new Redis({
      ...FAIL_FAST,
      sentinels: [...config.redisSentinels],
      name: config.redisSentinelMaster,
      role: 'master',
      sentinelRetryStrategy: (attempt) => Math.min(attempt * 100, 1000),
      failoverDetector: true,
      keyPrefix: config.keyPrefix,
      lazyConnect: true,
      ...(config.redisPassword ? { password: config.redisPassword } : {}),
    });
  } else {
    target = redactUrl(config.redisUrl!);
    client = new Redis(config.redisUrl!, { ...FAIL_FAST, keyPrefix: config.keyPrefix, lazyConnect: true });
  }
  client.on('error', () => {
    /* reported through failing operations and /readyz; without a listener ioredis would log to stderr */
  });
  const store = new RedisStore(client, redisOptions);
  const deadline = Date.now() + waitMillis;
  let lastError: unknown;
  try {
    await client.connect();
  } catch (err) {
    lastError = err;
  }
  while (Date.now() < deadline) {
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
  throw new Error(`cannot reach Redis at ${target}: ${(lastError as Error | undefined)?.message ?? 'no answer'}`);
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
