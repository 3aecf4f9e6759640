import { readFileSync } from 'node:fs';
import type { Cluster, Redis, Result } from 'ioredis';

/**
 * The Lua scripts, registered with ioredis (which sends EVALSHA, falls back to EVAL on NOSCRIPT,
 * and routes by the first key on a Cluster). Each script touches the keys of one bucket only.
 */
type Arg = string | number | Buffer;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    totpReserveBuffer(...args: Arg[]): Result<unknown[], Context>;
    totpClient(...args: Arg[]): Result<[number, number], Context>;
    totpSettle(...args: Arg[]): Result<[string, number, number, number, number], Context>;
    totpEnroll(...args: Arg[]): Result<string, Context>;
    totpRevoke(...args: Arg[]): Result<number, Context>;
    totpUnlock(...args: Arg[]): Result<number, Context>;
    totpRecovery(...args: Arg[]): Result<number, Context>;
    totpReseal(...args: Arg[]): Result<[number, number], Context>;
    totpIndex(...args: Arg[]): Result<[string[], string[]], Context>;
    totpEvent(...args: Arg[]): Result<string, Context>;
    totpEvents(...args: Arg[]): Result<[string, string[]][], Context>;
    totpGiveBack(...args: Arg[]): Result<number, Context>;
    totpUnclient(...args: Arg[]): Result<number, Context>;
    totpTime(...args: Arg[]): Result<[string, string], Context>;
  }
}

const SCRIPTS = {
  totpReserve: { file: 'reserve.lua', keys: 2, audit: false },
  totpClient: { file: 'client.lua', keys: 1, audit: false },
  totpSettle: { file: 'settle.lua', keys: 8, audit: true },
  totpEnroll: { file: 'enroll.lua', keys: 7, audit: true },
  totpRevoke: { file: 'revoke.lua', keys: 7, audit: true },
  totpUnlock: { file: 'unlock.lua', keys: 3, audit: true },
  totpRecovery: { file: 'recovery.lua', keys: 4, audit: true },
  totpReseal: { file: 'reseal.lua', keys: 1, audit: false },
  totpIndex: { file: 'index.lua', keys: 2, audit: false },
  totpEvent: { file: 'event.lua', keys: 1, audit: true },
  totpEvents: { file: 'events.lua', keys: 2, audit: false },
  totpGiveBack: { file: 'giveback.lua', keys: 1, audit: false },
  totpUnclient: { file: 'unclient.lua', keys: 1, audit: false },
  totpTime: { file: 'time.lua', keys: 1, audit: false },
} as const;

function source(file: string): string {
  return readFileSync(new URL(`./scripts/${file}`, import.meta.url), 'utf8');
}

/** Define every script on a client (idempotent per client). */
export function defineScripts(client: Redis | Cluster): void {
  const prelude = source('_audit.lua');
  for (const [name, s] of Object.entries(SCRIPTS)) {
    const lua = s.audit ? `${prelude}\n${source(s.file)}` : source(s.file);
    client.defineCommand(name, { numberOfKeys: s.keys, lua });
  }
}
