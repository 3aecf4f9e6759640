/**
 * vitest globalSetup: one redis-server on a free port for the whole run (or TEST_REDIS_URL when
 * set), provided to tests as inject('redisUrl'), and one 3-master Redis Cluster (or
 * TEST_REDIS_CLUSTER_NODES), provided as inject('redisClusterNodes'). Without redis-server the
 * Redis tests skip with one line, except with CI=true, where requireTool makes the run fail.
 */
import type { TestProject } from 'vitest/node';
import { startCluster, type ClusterProcess } from './cluster.js';
import { startRedis, type RedisProcess } from './redis.js';
import { requireTool } from './tools.js';

/** Start what the project needs; the returned function stops it (each project has its own). */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  let redis: RedisProcess | undefined;
  let cluster: ClusterProcess | undefined;
  const haveRedis = requireTool('redis-server') !== null && requireTool('redis-cli') !== null;
  const given = process.env.TEST_REDIS_URL?.trim();
  if (given) project.provide('redisUrl', given);
  else if (haveRedis) {
    redis = await startRedis();
    project.provide('redisUrl', redis.url);
  } else project.provide('redisUrl', null);

  const givenCluster = process.env.TEST_REDIS_CLUSTER_NODES?.trim();
  if (givenCluster) project.provide('redisClusterNodes', givenCluster);
  else if (haveRedis && project.name !== 'cli' && project.name !== 'core') {
    try {
      cluster = await startCluster({ masters: 3 });
    } catch (err) {
      // vitest runs no teardown for a setup that threw: stop the Redis started above here
      await redis?.stop(true);
      redis?.cleanup();
      throw err;
    }
    project.provide('redisClusterNodes', cluster.seeds);
  } else project.provide('redisClusterNodes', null);

  return async () => {
    await Promise.all([redis?.stop(true), cluster?.stop()]);
    redis?.cleanup();
    cluster?.cleanup();
  };
}
