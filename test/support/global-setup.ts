/**
 * vitest globalSetup: one redis-server on a free port for the whole run (or TEST_REDIS_URL when
 * set), provided to tests as inject('redisUrl'). Without redis-server the Redis tests skip with one
 * line, except with CI=true, where requireTool makes the run fail.
 */
import type { TestProject } from 'vitest/node';
import { startRedis, type RedisProcess } from './redis.js';
import { requireTool } from './tools.js';

let redis: RedisProcess | undefined;

export async function setup(project: TestProject): Promise<void> {
  const given = process.env.TEST_REDIS_URL?.trim();
  if (given) {
    project.provide('redisUrl', given);
    return;
  }
  if (!requireTool('redis-server') || !requireTool('redis-cli')) {
    project.provide('redisUrl', null);
    return;
  }
  redis = await startRedis();
  project.provide('redisUrl', redis.url);
}

export async function teardown(): Promise<void> {
  if (redis) {
    await redis.stop(true);
    redis.cleanup();
  }
}
