/**
 * Redis Sentinel for tests: a master, a replica of it, and one Sentinel (quorum 1) watching it,
 * each on free ports in temporary directories. `redis-server <conf> --sentinel` is the Sentinel
 * (the same binary as redis-sentinel). Short timeouts, so a failover takes seconds.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startRedis, type RedisProcess } from './redis.js';
import { findTool } from './tools.js';

export interface SentinelSetup {
  readonly master: RedisProcess;
  readonly replica: RedisProcess;
  readonly sentinelPort: number;
  /** The REDIS_SENTINELS value. */
  readonly sentinels: string;
  readonly masterName: string;
  /** The port of the master the Sentinel names now. */
  currentMasterPort(): number | null;
  stop(): Promise<void>;
}

export async function startSentinel(masterName = 'totpmaster'): Promise<SentinelSetup> {
  const master = await startRedis({ aof: true });
  const replica = await startRedis({ aof: true, extraArgs: ['--replicaof', '127.0.0.1', String(master.port)] });
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'totp-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 1`,
      `sentinel down-after-milliseconds ${masterName} 1000`,
      `sentinel failover-timeout ${masterName} 5000`,
      `sentinel parallel-syncs ${masterName} 1`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(findTool('redis-server')!, [conf, '--sentinel'], { stdio: 'ignore' });
  const cli = findTool('redis-cli')!;
  const ask = () => spawnSync(cli, ['-p', String(port), 'sentinel', 'get-master-addr-by-name', masterName], { encoding: 'utf8' }).stdout.trim().split('\n');
  for (let i = 0; i < 100 && ask()[1] !== String(master.port); i++) await new Promise((r) => setTimeout(r, 50));
  // the replica is in sync before anyone relies on it
  for (let i = 0; i < 100; i++) {
    const info = spawnSync(cli, ['-p', String(replica.port), 'info', 'replication'], { encoding: 'utf8' }).stdout;
    if (/master_link_status:up/.test(info)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    master,
    replica,
    sentinelPort: port,
    sentinels: `127.0.0.1:${port}`,
    masterName,
    currentMasterPort: () => {
      const port = Number(ask()[1]);
      return Number.isFinite(port) && port > 0 ? port : null;
    },
    stop: async () => {
      child.kill('SIGKILL');
      await Promise.all([master.stop(true), replica.stop(true)]);
      master.cleanup();
      replica.cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
