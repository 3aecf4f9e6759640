import type { Redis } from 'ioredis';

/**
 * Guards on the Redis the service runs on. An evicted failure counter, lockout or last accepted
 * step is a security hole (a locked attacker gets a fresh budget, a used code works again), so a
 * `maxmemory-policy` that can evict the service's keys stops start-up and fails readiness, unless
 * the operator accepts it (TOTP_ALLOW_EVICTION=true). Every policy but `noeviction` can: the
 * `allkeys-*` ones any key, the `volatile-*` ones every key with a TTL, and pending enrollments
 * (with their failure counts and lockouts) and client-address counters carry TTLs. Persistence off (no AOF, no RDB save
 * points) is a warning: a restart would forget every lockout and used step.
 */

export interface NodeSettings {
  /** host:port of the node. */
  readonly node: string;
  /** null when CONFIG is not allowed (managed Redis, ACLs). */
  readonly maxmemoryPolicy: string | null;
  readonly appendonly: string | null;
  readonly save: string | null;
  /** Why CONFIG could not be read. */
  readonly configError?: string;
}

export interface SafetyReport {
  /** Reasons not to run (start-up refuses; /readyz answers 503). */
  readonly fatal: readonly string[];
  readonly warnings: readonly string[];
}

/** Read the settings that matter from one node; a refused CONFIG is reported, not thrown. */
export async function readSettings(node: Redis): Promise<NodeSettings> {
  // behind Sentinels the options name no host: the connected master's address is the one
  const stream = node.options.sentinels ? node.stream : undefined;
  const name = stream?.remoteAddress ? `${stream.remoteAddress}:${stream.remotePort}` : `${node.options.host ?? '127.0.0.1'}:${node.options.port ?? 6379}`;
  try {
    const flat = (await node.config('GET', 'maxmemory-policy', 'appendonly', 'save')) as string[];
    const map = new Map<string, string>();
    for (let i = 0; i + 1 < flat.length; i += 2) map.set(flat[i]!, flat[i + 1]!);
    return { node: name, maxmemoryPolicy: map.get('maxmemory-policy') ?? null, appendonly: map.get('appendonly') ?? null, save: map.get('save') ?? null };
  } catch (err) {
    if (err instanceof Error && err.name === 'ReplyError') {
      return { node: name, maxmemoryPolicy: null, appendonly: null, save: null, configError: err.message.split('\n')[0]!.slice(0, 200) };
    }
    throw err;
  }
}

/** Judge the settings of every node (pure, so it is tested without a Redis). */
export function assessSafety(nodes: readonly NodeSettings[], opts: { allowEviction: boolean }): SafetyReport {
  const fatal: string[] = [];
  const warnings: string[] = [];
  for (const n of nodes) {
    if (n.configError !== undefined) {
      warnings.push(
        `Redis ${n.node} does not allow CONFIG GET (${n.configError}); make sure its maxmemory-policy is noeviction and that it persists (AOF) yourself`,
      );
      continue;
    }
    const policy = n.maxmemoryPolicy ?? 'unknown';
    if (policy !== 'noeviction') {
      const what = `Redis ${n.node} has maxmemory-policy ${policy}, which can evict failure counters, lockouts and used steps`;
      if (opts.allowEviction) warnings.push(`${what} (accepted by TOTP_ALLOW_EVICTION=true)`);
      else fatal.push(`${what}; set it to noeviction (CONFIG SET maxmemory-policy noeviction) or accept the risk with TOTP_ALLOW_EVICTION=true`);
    }
    if (n.appendonly === 'no' && (n.save ?? '').trim() === '') {
      warnings.push(`Redis ${n.node} persists nothing (appendonly no, no save points): a restart forgets every enrollment, lockout and used step; turn on appendonly yes`);
    }
  }
  return { fatal, warnings };
}
