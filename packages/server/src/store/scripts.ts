import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster, Redis, Result } from 'ioredis';
import { auditCodesLua, compactClientIp, compactUserId } from './audit-codes.js';
import { IMPLICIT_META } from './codec.js';
import { ScriptRunner, type FunctionLibrary } from './functions.js';
import { bucketKeys, type UserKeys } from './keys.js';
import type { OpenMatch } from './store.js';

/**
 * The Lua scripts, called through typed functions with named arguments, so that no caller counts
 * ARGV positions. They run as the functions of one Redis function library (functions.ts says why,
 * and how it is loaded), or, where Redis refuses functions, as scripts registered with ioredis
 * (which sends EVALSHA and falls back to EVAL on NOSCRIPT); both route by the first key on a
 * Cluster. Each script touches the keys of one bucket only; each file's header lists its KEYS and
 * ARGV in the order built here.
 *
 * Every per-user script takes the first `keys` of one fixed list of the user's keys (USER_KEYS), so
 * a key has the same KEYS index in every script that uses it.
 */

type Arg = string | number | Buffer;

/** The fixed order of a user's keys (and its bucket's) in KEYS: KEYS[1] is always the user's hash. */
export const USER_KEYS = ['user', 'recovery', 'keyCounts', 'events', 'audit', 'stray', 'activeIndex', 'pendingIndex', 'pendingExpiry'] as const;

/**
 * Each script's file, how many KEYS it takes, the shared preludes prepended to it, and other
 * scripts it runs whole (each prepended as a function `<name>Body(KEYS, ARGV)`).
 */
const SCRIPTS = {
  totpReserve: { file: 'reserve.lua', keys: 3, preludes: ['_user', '_reserve'] },
  totpSettle: { file: 'settle.lua', keys: 9, preludes: ['_user', '_index', '_audit', '_settle'] },
  totpGiveBack: { file: 'giveback.lua', keys: 1, preludes: [] },
  totpEnroll: { file: 'enroll.lua', keys: 9, preludes: ['_user', '_index', '_audit'] },
  totpRevoke: { file: 'revoke.lua', keys: 9, preludes: ['_user', '_index', '_audit'] },
  totpRename: { file: 'rename.lua', keys: 5, preludes: ['_user', '_audit'] },
  totpUnlock: { file: 'unlock.lua', keys: 5, preludes: ['_user', '_audit'] },
  totpRecovery: { file: 'recovery.lua', keys: 5, preludes: ['_user', '_audit'] },
  totpReseal: { file: 'reseal.lua', keys: 3, preludes: ['_user'] },
  totpRecount: { file: 'recount.lua', keys: 2, preludes: ['_user', '_index'] },
  // reserve and settle in one round trip; the second form also counts the client address
  totpAttempt: { file: 'attempt.lua', keys: 9, preludes: ['_user', '_index', '_audit', '_reserve', '_settle'], bodies: ['client'] },
  totpAttemptClient: { file: 'attempt.lua', keys: 10, preludes: ['_user', '_index', '_audit', '_reserve', '_settle'], bodies: ['client'] },
  // not per user: their keys are named in their calls below
  totpClient: { file: 'client.lua', keys: 1, preludes: [] },
  totpUnclient: { file: 'unclient.lua', keys: 1, preludes: [] },
  totpIndex: { file: 'index.lua', keys: 2, preludes: ['_index'], readOnly: true },
  totpEvent: { file: 'event.lua', keys: 1, preludes: ['_audit'] },
  totpEvents: { file: 'events.lua', keys: 2, preludes: [], readOnly: true },
  totpTime: { file: 'time.lua', keys: 1, preludes: [], readOnly: true },
  totpOutbox: { file: 'outbox.lua', keys: 1, preludes: [] },
} as const satisfies Record<string, { file: string; keys: number; preludes: readonly string[]; bodies?: readonly string[]; readOnly?: boolean }>;

type Name = keyof typeof SCRIPTS;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    totpReserveBuffer(...args: Arg[]): Result<unknown[], Context>;
    totpSettle(...args: Arg[]): Result<SettleReply, Context>;
    totpGiveBack(...args: Arg[]): Result<number, Context>;
    totpEnroll(...args: Arg[]): Result<[string, string?, string?, number?], Context>;
    totpRevoke(...args: Arg[]): Result<number, Context>;
    totpRename(...args: Arg[]): Result<[string, string?], Context>;
    totpUnlock(...args: Arg[]): Result<number, Context>;
    totpRecovery(...args: Arg[]): Result<number, Context>;
    totpReseal(...args: Arg[]): Result<[number, number], Context>;
    totpClient(...args: Arg[]): Result<[number, number], Context>;
    totpUnclient(...args: Arg[]): Result<number, Context>;
    totpIndex(...args: Arg[]): Result<[string[], string[]], Context>;
    totpEvent(...args: Arg[]): Result<string, Context>;
    totpEvents(...args: Arg[]): Result<[string, string[]][], Context>;
    totpTime(...args: Arg[]): Result<[string, string], Context>;
    totpRecount(...args: Arg[]): Result<number, Context>;
    totpAttempt(...args: Arg[]): Result<AttemptReply, Context>;
    totpAttemptClient(...args: Arg[]): Result<AttemptReply, Context>;
    totpOutbox(...args: Arg[]): Result<number | [number, number], Context>;
  }
}

function source(file: string): string {
  return readFileSync(new URL(`./scripts/${file}`, import.meta.url), 'utf8');
}

/** settle.lua's reply: outcome, activated, failures, lockedUntil, codes left, device id, device name. */
export type SettleReply = [string, number, number, number, number, string, string];

/** attempt.lua's reply: {'S'}, or 'D', reserve's status, its counts, the drift, then settle.lua's reply. */
export type AttemptReply = ['S'] | ['D', string, number, number, number, string, ...SettleReply];

/** A whole script as a local function of the script that runs it: the same code, its own KEYS and ARGV. */
const asFunction = (name: string) => `local function ${name}Body(KEYS, ARGV)\n${source(`${name}.lua`)}\nend`;

/**
 * A shared prelude's source; _audit.lua's numbers for event types and outcomes come from
 * audit-codes.ts, and _user.lua's IMPLICIT_META (what an absent m / pm reads as) from codec.ts.
 */
function prelude(name: string): string {
  if (name === '_audit') return `${auditCodesLua()}\n${source('_audit.lua')}`;
  if (name === '_user') return `local IMPLICIT_META = '${IMPLICIT_META}'\n${source('_user.lua')}`;
  return source(`${name}.lua`);
}

/** Define every script on a client (idempotent per client): the EVALSHA way to run them. */
export function defineScripts(client: Redis | Cluster): void {
  for (const [name, s] of Object.entries(SCRIPTS)) {
    const bodies = 'bodies' in s ? s.bodies : [];
    const lua = [...s.preludes.map(prelude), ...bodies.map(asFunction), source(s.file)].join('\n');
    client.defineCommand(name, { numberOfKeys: s.keys, lua });
  }
}

/** Every prelude and body any script uses, in an order where each comes after what it calls. */
const LIBRARY_PRELUDES = ['_user', '_index', '_audit', '_reserve', '_settle'] as const;
const LIBRARY_BODIES = ['client'] as const;
const VERSION = '__TOTP_LIBRARY_VERSION__';

/**
 * All the scripts as one function library: the preludes once, then each script's file as the body
 * of a function named after it; read-only ones flagged `no-writes` (Redis then runs them when it is
 * out of memory, as it would have run those scripts' reads). The version is a hash of the code.
 */
function buildLibrary(): FunctionLibrary {
  const functions = Object.entries(SCRIPTS).map(([name, s]) => {
    const flags = 'readOnly' in s ? ", flags = {'no-writes'}" : '';
    return `redis.register_function{function_name = '${name}_${VERSION}', callback = function(KEYS, ARGV)\n${source(s.file)}\nend${flags}}`;
  });
  const code = [...LIBRARY_PRELUDES.map(prelude), ...LIBRARY_BODIES.map(asFunction), ...functions].join('\n');
  const version = createHash('sha1').update(code).digest('hex').slice(0, 12);
  const name = `totp_${version}`;
  return {
    name,
    code: `#!lua name=${name}\n${code.replaceAll(VERSION, version)}`,
    functionName: (script) => `${script}_${version}`,
  };
}

let library: FunctionLibrary | undefined;

/** The library, built on first use (the files are read once per process). */
export function scriptLibrary(): FunctionLibrary {
  library ??= buildLibrary();
  return library;
}

type Commands = Pick<Redis, 'totpReserveBuffer' | Exclude<Name, 'totpReserve'>>;

/** ioredis-like methods, one per script (and its Buffer form), that go through the runner. */
function commandsOf(runner: ScriptRunner): Commands {
  const out: Record<string, (...args: Arg[]) => Promise<unknown>> = {};
  for (const [name, s] of Object.entries(SCRIPTS)) {
    out[name] = (...args) => runner.run(name, s.keys, args, false);
    out[`${name}Buffer`] = (...args) => runner.run(name, s.keys, args, true);
  }
  return out as unknown as Commands;
}

/** The KEYS of a per-user script: the first `keys` of USER_KEYS. */
function keysOf(name: Name, k: UserKeys): string[] {
  return USER_KEYS.slice(0, SCRIPTS[name].keys).map((key) => k[key]);
}

/**
 * Who did it, and the audit caps: the tail of every script that records an event. A field of its
 * own in each script's arguments (`audit`), not spread into them: on Node 20, an object literal
 * that starts with a spread and goes on with more properties took about 1 µs a property (8 µs for
 * attempt's arguments, measured), where Node 24 takes a few ns.
 */
export interface AuditArgs {
  readonly userId: string;
  readonly actor: string;
  /** '' when none. */
  readonly clientIp: string;
  readonly auditMax: number;
  readonly userMax: number;
}

// the user id and the client address are the event's only: given as the event stores them
const audited = (a: AuditArgs): Arg[] => [compactUserId(a.userId), a.actor, compactClientIp(a.clientIp), a.auditMax, a.userMax];

export interface ReserveArgs {
  readonly now: number;
  /** 0 for a recovery code. */
  readonly codeLength: number;
  readonly maxFailures: number;
  readonly lockoutMillis: readonly number[];
}

/** What settle.lua is asked to do (see its header); the shapes of Store's Settlement, flattened. */
export type SettleWhat =
  | { readonly kind: 'match'; readonly deviceId: string; readonly slot: string; readonly generation: string; readonly stepAt: number; readonly drift: number }
  | { readonly kind: 'recovery'; readonly hash: string }
  | { readonly kind: 'miss' }
  | { readonly kind: 'release' | 'none'; readonly outcome: string; readonly detail: string };

export interface SettleArgs {
  readonly audit: AuditArgs;
  readonly now: number;
  readonly what: SettleWhat;
  readonly armedUntil: number;
  readonly eventType: 'VERIFY' | 'RECOVERY_CODE_USED';
}

/** ARGV[4…8] of settle.lua. */
function settleSlots(w: SettleWhat): [Arg, Arg, Arg, Arg, Arg] {
  switch (w.kind) {
    case 'match':
      return [w.deviceId, w.slot, w.generation, w.stepAt, w.drift];
    case 'recovery':
      return [w.hash, '', '', 0, 0];
    case 'miss':
      return ['', '', '', 0, 0];
    default:
      return [w.outcome, w.detail, '', 0, 0];
  }
}

export interface AttemptArgs extends ReserveArgs {
  readonly audit: AuditArgs;
  readonly window: number;
  readonly driftBound: number;
  readonly clientLimit: number;
  readonly clientWindowMillis: number;
  /** Every secret the server checked, and where the code matched it (Store.attempt). */
  readonly checked: readonly OpenMatch[];
}

export interface EnrollArgs {
  readonly audit: AuditArgs;
  readonly now: number;
  readonly mode: 'pending' | 'active';
  readonly replace: boolean;
  readonly expiresAt: number;
  readonly sealed: Buffer;
  /** '' for the usual parameters, and the implicit issuer (not stored: codec.ts). */
  readonly meta: string;
  readonly issuer: string;
  /** '' when it is the user id (not stored). */
  readonly accountName: string;
  readonly generation: string;
  readonly eventType: 'ENROLLED' | 'IMPORTED';
  readonly detail: string;
  readonly deviceName: string;
  readonly maxDevices: number;
  /** Active mode: the last step already used (epoch s), or null. */
  readonly lastStepAt: number | null;
}

/** The scripts of one client, as typed functions. */
export class Scripts {
  readonly runner: ScriptRunner;
  private readonly redis: Commands;

  constructor(client: Redis | Cluster) {
    defineScripts(client);
    this.runner = new ScriptRunner(client, scriptLibrary());
    this.redis = commandsOf(this.runner);
  }

  reserve(k: UserKeys, a: ReserveArgs) {
    return this.redis.totpReserveBuffer(...keysOf('totpReserve', k), a.now, a.codeLength, a.maxFailures, ...a.lockoutMillis);
  }

  settle(k: UserKeys, a: SettleArgs) {
    return this.redis.totpSettle(...keysOf('totpSettle', k), a.now, a.what.kind, a.armedUntil, ...settleSlots(a.what), k.member, ...audited(a.audit), a.eventType);
  }

  /** A whole verify (reserve, the decision, settle) for secrets the server holds open: see attempt.lua. */
  attempt(k: UserKeys, clientKey: string | undefined, a: AttemptArgs) {
    const args: Arg[] = [
      a.now, a.codeLength, a.maxFailures, a.window, a.driftBound, a.clientLimit, a.clientWindowMillis,
      k.member, ...audited(a.audit),
      a.checked.length, ...a.checked.flatMap((c) => [c.secret, c.hits]),
      ...a.lockoutMillis,
    ];
    if (clientKey === undefined) return this.redis.totpAttempt(...keysOf('totpAttempt', k), ...args);
    return this.redis.totpAttemptClient(...keysOf('totpAttempt', k), clientKey, ...args);
  }

  giveBack(k: UserKeys, armedUntil: number) {
    return this.redis.totpGiveBack(...keysOf('totpGiveBack', k), armedUntil);
  }

  enroll(k: UserKeys, a: EnrollArgs) {
    return this.redis.totpEnroll(
      ...keysOf('totpEnroll', k),
      a.now, a.mode, a.replace ? 1 : 0, a.expiresAt,
      a.sealed, a.meta, a.issuer, a.accountName, a.generation, k.member, ...audited(a.audit), a.eventType, a.detail,
      a.deviceName, a.maxDevices, a.lastStepAt ?? '',
    );
  }

  revoke(k: UserKeys, a: { readonly audit: AuditArgs; readonly now: number; readonly reason: string; readonly deviceId: string }) {
    return this.redis.totpRevoke(...keysOf('totpRevoke', k), a.now, k.member, ...audited(a.audit), a.reason, a.deviceId);
  }

  rename(k: UserKeys, a: { readonly audit: AuditArgs; readonly now: number; readonly deviceId: string; readonly name: string }) {
    return this.redis.totpRename(...keysOf('totpRename', k), a.now, ...audited(a.audit), a.deviceId, a.name);
  }

  unlock(k: UserKeys, a: { readonly audit: AuditArgs; readonly now: number }) {
    return this.redis.totpUnlock(...keysOf('totpUnlock', k), a.now, ...audited(a.audit));
  }

  recovery(k: UserKeys, a: { readonly audit: AuditArgs; readonly now: number; readonly sealedKey: Buffer; readonly hashes: readonly string[] }) {
    return this.redis.totpRecovery(...keysOf('totpRecovery', k), a.now, a.sealedKey, ...audited(a.audit), ...a.hashes);
  }

  reseal(k: UserKeys, now: number, swaps: readonly { field: string; from: Buffer; to: Buffer }[]) {
    return this.redis.totpReseal(...keysOf('totpReseal', k), now, ...swaps.flatMap((w) => [w.field, w.from, w.to]));
  }

  /** One attempt of a client address (TOTP_CLIENT_LIMIT per window). */
  clientHit(clientKey: string, limit: number, windowMillis: number) {
    return this.redis.totpClient(clientKey, limit, windowMillis);
  }

  unclient(clientKey: string) {
    return this.redis.totpUnclient(clientKey);
  }

  /** One slice of a bucket's two enrollment indexes, after a member ('-' from the start). */
  index(bucket: number, after: string, count: number, which: 'all' | 'active' | 'pending') {
    const b = bucketKeys(bucket);
    return this.redis.totpIndex(b.activeIndex, b.pendingIndex, after, count, which);
  }

  /** An event of no user (a rekey run) in a bucket's stream. */
  event(bucket: number, a: { now: number; type: string; actor: string; clientIp: string; auditMax: number; detail: string }) {
    return this.redis.totpEvent(bucketKeys(bucket).audit, a.now, a.type, a.actor, compactClientIp(a.clientIp), a.auditMax, a.detail);
  }

  /** A user's events in XREVRANGE's bounds and shape. */
  events(k: UserKeys, end: string, start: string, count: number) {
    return this.redis.totpEvents(k.events, k.audit, end, start, count);
  }

  /** Count again what each key seals in a bucket; `userKeyHead` is what precedes a member in a user hash's full name. */
  recount(bucket: number, userKeyHead: string) {
    const b = bucketKeys(bucket);
    return this.redis.totpRecount(b.keyCounts, b.activeIndex, userKeyHead);
  }

  /** The webhook group of one audit stream: made (from the stream's end) if missing. */
  createGroup(streamKey: string, group: string) {
    return this.redis.totpOutbox(streamKey, 'create', group) as Promise<number>;
  }

  /** {pending, lag} of the webhook group of one audit stream (lag -1: unknown). */
  groupInfo(streamKey: string, group: string) {
    return this.redis.totpOutbox(streamKey, 'info', group) as Promise<[number, number]>;
  }

  /** Redis's TIME, from the node that owns `key`. */
  time(key: string) {
    return this.redis.totpTime(key);
  }
}
