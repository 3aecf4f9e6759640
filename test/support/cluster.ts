/**
 * A real Redis Cluster for tests: `masters` redis-servers with `--cluster-enabled yes` on free
 * ports (and free cluster-bus ports), each in its own temporary directory, joined by
 * `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`, ready when every node's
 * `CLUSTER INFO` says `cluster_state:ok`. Never touches the Redis on 6379.
 */
import { spawnSync } from 'node:child_process';
import { freePort, retryOnPortTaken, startRedis, type RedisProcess } from './redis.js';
import { findTool } from './tools.js';

export interface ClusterProcess {
  readonly nodes: readonly RedisProcess[];
  /** `127.0.0.1:p1,127.0.0.1:p2,…`: the REDIS_CLUSTER_NODES value. */
  readonly seeds: string;
  /** Start node `i` again on its own port and files (after `nodes[i].stop()`); resolves when the cluster is ok. */
  restart(i: number): Promise<RedisProcess>;
  stop(): Promise<void>;
  cleanup(): void;
}

export interface ClusterOptions {
  readonly masters?: number;
  /** cluster-node-timeout, ms: how long until the others declare a silent node failed. */
  readonly nodeTimeoutMs?: number;
  readonly aof?: boolean;
  /** requirepass (and masterauth) of every node. */
  readonly password?: string;
  /** cluster-require-full-coverage: false lets the other masters serve while one is down. */
  readonly requireFullCoverage?: boolean;
}

function cli(args: string[], password?: string): { status: number | null; stdout: string; stderr: string } {
  const bin = findTool('redis-cli');
  if (!bin) throw new Error('redis-cli is not on PATH (apt-get install redis-tools)');
  const auth = password ? ['-a', password, '--no-auth-warning'] : [];
  const r = spawnSync(bin, [...auth, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** A port whose cluster-bus companion is free too. */
async function portPair(): Promise<[number, number]> {
  return [await freePort(), await freePort()];
}

function clusterState(port: number, password?: string): string {
  return /cluster_state:(\w+)/.exec(cli(['-p', String(port), 'cluster', 'info'], password).stdout)?.[1] ?? 'unknown';
}

/** Wait until every running node reports cluster_state:ok. */
export async function waitClusterOk(ports: readonly number[], timeoutMs = 30_000, password?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (ports.every((p) => clusterState(p, password) === 'ok')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`cluster on ports ${ports.join(',')} is not ok after ${timeoutMs} ms: ${ports.map((p) => clusterState(p, password)).join(',')}`);
}

export async function startCluster(opts: ClusterOptions = {}): Promise<ClusterProcess> {
  const masters = opts.masters ?? 3;
  const pairs: [number, number][] = [];
  const args = (bus: number) => [
    '--cluster-enabled', 'yes',
    '--cluster-port', String(bus),
    '--cluster-config-file', 'nodes.conf',
    '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 5000),
    ...(opts.password ? ['--requirepass', opts.password, '--masterauth', opts.password] : []),
    ...(opts.requireFullCoverage === false ? ['--cluster-require-full-coverage', 'no'] : []),
  ];
  // a node whose port or bus port was taken before it bound them takes another pair
  const startNode = (i: number): Promise<RedisProcess> =>
    retryOnPortTaken(async () => {
      const [port, bus] = (pairs[i] = await portPair());
      return startRedis({ port, aof: opts.aof ?? false, extraArgs: args(bus) });
    });
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < masters; i++) nodes.push(await startNode(i));
    const created = cli(['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], opts.password);
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}\n${created.stderr}`);
    await waitClusterOk(nodes.map((n) => n.port), 30_000, opts.password);
  } catch (err) {
    await Promise.all(nodes.map((n) => n.stop(true)));
    nodes.forEach((n) => n.cleanup());
    throw err;
  }
  const cluster: ClusterProcess = {
    nodes,
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    async restart(i) {
      const old = nodes[i]!;
      const again = await startRedis({ port: old.port, dir: old.dir, aof: opts.aof ?? false, extraArgs: args(pairs[i]![1]) });
      nodes[i] = again;
      await waitClusterOk(nodes.map((n) => n.port), 30_000, opts.password);
      return again;
    },
    stop: async () => {
      await Promise.all(nodes.map((n) => n.stop(true)));
    },
    cleanup: () => nodes.forEach((n) => n.cleanup()),
  };
  return cluster;
}
