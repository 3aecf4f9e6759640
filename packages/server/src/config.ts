import { hash, randomBytes } from 'node:crypto';
import { AUDIT_EVENT_TYPES, DEFAULT_POLICY, KeyRing, parseKeyRing, type AuditEventType, type Policy } from '@totp-service/core';
import { ConfigError } from './config-error.js';
import { DEFAULT_BODY_LIMIT } from './limits.js';
import type { HostPort, StoreSettings } from './store/store.js';
import { readRedisTls } from './store/tls.js';
import { makeEncrypter } from './totp/export.js';
import { DEFAULT_SECRET_CACHE } from './totp/secret-cache.js';
import type { WebhookSettings } from './webhooks/dispatcher.js';

/**
 * Configuration: read once from the environment, validated, frozen. A missing or malformed
 * setting stops start-up with one line naming the variable. This is the only module that reads
 * process.env.
 */

export type Role = 'app' | 'admin';

export interface ApiKey {
  readonly name: string;
  readonly role: Role;
  /** SHA-256 of the token: the raw token is never kept. */
  readonly digest: Buffer;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  /** The store and how to reach it (REDIS_*, TOTP_KEY_PREFIX, TOTP_AUDIT_*, TOTP_ALLOW_EVICTION). */
  readonly store: StoreSettings;
  readonly apiKeys: readonly ApiKey[];
  /** Set when TOTP_API_KEYS was unset: the token made at start-up, to be printed once. */
  readonly generatedAdminToken: string | null;
  readonly keyRing: KeyRing;
  /** True when the key ring was made up at start-up (embedded store without TOTP_ENCRYPTION_KEYS). */
  readonly ephemeralKey: boolean;
  readonly issuer: string;
  readonly policy: Policy;
  readonly logLevel: string;
  readonly production: boolean;
  /** Largest request body, bytes. */
  readonly maxBodyBytes: number;
  /** SHUTDOWN_GRACE_MS: how long a SIGTERM waits for requests in flight before closing them. */
  readonly shutdownGraceMs: number;
  /** TOTP_WEBHOOK_URL, _SECRET, _EVENTS, _MAX_AGE_SECONDS; null when no URL is set. */
  readonly webhooks: WebhookSettings | null;
  /** TOTP_ALLOW_MISSING_KEYS: start although sealed values need a key that is not configured (and warn). */
  readonly allowMissingKeys: boolean;
  /** TOTP_EXPORT_RECIPIENTS: age recipients (age1…) that export pages are encrypted to; empty: export is off. */
  readonly exportRecipients: readonly string[];
  /** TOTP_SECRET_CACHE_SIZE, TOTP_SECRET_CACHE_SECONDS: users whose secrets are held open between verifies. */
  readonly secretCache: { readonly size: number; readonly seconds: number };
  /** TOTP_DIRECT_VERIFY: the usual verify requests answered without Apollo's pipeline (direct-verify.ts). */
  readonly directVerify: boolean;
}

export { ConfigError };

type Env = Readonly<Record<string, string | undefined>>;

function int(env: Env, name: string, dflt: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return dflt;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${raw.slice(0, 40)}")`);
  }
  return Number(raw);
}

function bool(env: Env, name: string, dflt = false): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return dflt;
  if (raw === 'false' || raw === '0' || raw === 'no') return false;
  if (raw === 'true' || raw === '1' || raw === 'yes') return true;
  throw new ConfigError(name, `must be true or false (got "${raw.slice(0, 20)}")`);
}

/** A token's SHA-256. The one-shot hash: every request hashes its token, and a Hash object costs about 2 µs more. */
export function sha256(token: string): Buffer {
  return Buffer.from(hash('sha256', token, 'hex'), 'hex');
}

/** `name:role:token`, token raw or `sha256:<hex>`. Messages never contain a token. */
export function parseApiKeys(spec: string): ApiKey[] {
  const name = 'TOTP_API_KEYS';
  const entries = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (entries.length === 0) throw new ConfigError(name, 'is set but holds no key');
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const where = `entry ${i + 1}`;
    if (entry.split(':').length < 3) {
      // most likely a bare token: never repeat it, only say what the entry should look like
      throw new ConfigError(name, `${where} is not name:role:token (e.g. ops:admin:<token>; totp-admin keygen --name ops --role admin makes one)`);
    }
    const [keyName, role, ...rest] = entry.split(':');
    const token = rest.join(':');
    if (!keyName || !/^[A-Za-z0-9._@-]{1,64}$/.test(keyName)) {
      throw new ConfigError(name, `${where}: the name must be 1-64 of A-Z a-z 0-9 . _ @ - (format name:role:token)`);
    }
    if (role !== 'app' && role !== 'admin') {
      throw new ConfigError(name, `key "${keyName}": the role must be app or admin (format name:role:token)`);
    }
    if (seen.has(keyName)) throw new ConfigError(name, `key "${keyName}" appears twice`);
    seen.add(keyName);
    let digest: Buffer;
    if (token.startsWith('sha256:')) {
      const hex = token.slice('sha256:'.length);
      if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new ConfigError(name, `key "${keyName}": sha256: must be followed by 64 hex digits`);
      digest = Buffer.from(hex, 'hex');
    } else {
      if (token.length < 16) throw new ConfigError(name, `key "${keyName}": the token must be at least 16 characters`);
      digest = sha256(token);
    }
    return { name: keyName, role, digest };
  });
}

function parseNodes(spec: string, name: string): HostPort[] {
  const nodes = spec.split(',').map((s) => s.trim()).filter(Boolean).map((node) => {
    const m = /^(.+):(\d{1,5})$/.exec(node);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) {
      throw new ConfigError(name, `"${node.slice(0, 80)}" is not host:port`);
    }
    return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port };
  });
  if (nodes.length === 0) throw new ConfigError(name, 'is set but holds no host:port');
  return nodes;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Env = process.env): Config {
  const port = int(env, 'PORT', 4000, 0, 65535);
  const host = env.HOST?.trim() || '127.0.0.1';

  const store = storeSettings(env);

  let apiKeys: ApiKey[];
  let generatedAdminToken: string | null = null;
  const keysSpec = env.TOTP_API_KEYS?.trim();
  if (keysSpec) {
    apiKeys = parseApiKeys(keysSpec);
  } else {
    // hex: safe in shells and as a command-line argument (base64url may start with a dash)
    generatedAdminToken = randomBytes(32).toString('hex');
    apiKeys = [{ name: 'admin', role: 'admin', digest: sha256(generatedAdminToken) }];
  }

  let keyRing: KeyRing;
  let ephemeralKey = false;
  const ringSpec = env.TOTP_ENCRYPTION_KEYS?.trim();
  if (ringSpec) {
    try {
      keyRing = parseKeyRing(ringSpec);
    } catch (err) {
      throw new ConfigError('TOTP_ENCRYPTION_KEYS', `${(err as Error).message} (format kid:base64 of 32 bytes, comma-separated)`);
    }
  } else if (store.kind !== 'embedded') {
    throw new ConfigError(
      'TOTP_ENCRYPTION_KEYS',
      'is required with Redis (e.g. k1:$(openssl rand -base64 32)); without it stored secrets could not be read after a restart',
    );
  } else {
    keyRing = KeyRing.ephemeral();
    ephemeralKey = true;
  }

  const issuer = env.TOTP_ISSUER?.trim() || 'TOTP Service';
  if (issuer.length > 128 || /\p{Cc}/u.test(issuer)) {
    throw new ConfigError('TOTP_ISSUER', 'must be at most 128 characters without control characters');
  }

  const lockoutSeconds = int(env, 'TOTP_LOCKOUT_SECONDS', DEFAULT_POLICY.lockoutSeconds, 1, 86_400 * 30);
  const policy: Policy = Object.freeze({
    window: int(env, 'TOTP_WINDOW', DEFAULT_POLICY.window, 0, 10),
    maxDriftSteps: DEFAULT_POLICY.maxDriftSteps,
    maxFailures: int(env, 'TOTP_MAX_FAILURES', DEFAULT_POLICY.maxFailures, 1, 1_000_000),
    lockoutSeconds,
    lockoutMaxSeconds: int(env, 'TOTP_LOCKOUT_MAX_SECONDS', Math.max(DEFAULT_POLICY.lockoutMaxSeconds, lockoutSeconds), lockoutSeconds, 86_400 * 365),
    clientLimit: int(env, 'TOTP_CLIENT_LIMIT', DEFAULT_POLICY.clientLimit, 1, 1_000_000_000),
    pendingTtlSeconds: int(env, 'TOTP_PENDING_TTL_SECONDS', DEFAULT_POLICY.pendingTtlSeconds, 10, 86_400 * 30),
    maxDevices: int(env, 'TOTP_MAX_DEVICES', DEFAULT_POLICY.maxDevices, 1, 100),
  });

  const logLevel = env.LOG_LEVEL?.trim() || 'info';
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);

  return Object.freeze({
    port,
    host,
    store,
    apiKeys: Object.freeze(apiKeys),
    generatedAdminToken,
    keyRing,
    ephemeralKey,
    issuer,
    policy,
    logLevel,
    production: env.NODE_ENV === 'production',
    maxBodyBytes: int(env, 'TOTP_MAX_BODY_BYTES', DEFAULT_BODY_LIMIT, 1024, 1024 * 1024),
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    exportRecipients: Object.freeze(parseRecipients(env.TOTP_EXPORT_RECIPIENTS)),
    secretCache: Object.freeze({
      size: int(env, 'TOTP_SECRET_CACHE_SIZE', DEFAULT_SECRET_CACHE.size, 0, 1_000_000),
      seconds: int(env, 'TOTP_SECRET_CACHE_SECONDS', DEFAULT_SECRET_CACHE.seconds, 1, 3600),
    }),
    allowMissingKeys: bool(env, 'TOTP_ALLOW_MISSING_KEYS'),
    directVerify: bool(env, 'TOTP_DIRECT_VERIFY', true),
    webhooks: webhookSettings(env),
  });
}

/** The store: embedded unless one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS is set. */
function storeSettings(env: Env): StoreSettings {
  const options = {
    auditMaxEvents: int(env, 'TOTP_AUDIT_MAX_EVENTS', 1_000_000, 1, 1_000_000_000),
    auditUserMaxEvents: int(env, 'TOTP_AUDIT_USER_MAX_EVENTS', 1000, 1, 1_000_000),
    allowEviction: bool(env, 'TOTP_ALLOW_EVICTION'),
  };
  const url = env.REDIS_URL?.trim() || null;
  if (url && !/^rediss?:\/\//.test(url)) throw new ConfigError('REDIS_URL', 'must start with redis:// or rediss://');
  const clusterSpec = env.REDIS_CLUSTER_NODES?.trim();
  const nodes = clusterSpec ? parseNodes(clusterSpec, 'REDIS_CLUSTER_NODES') : null;
  if (url && nodes) throw new ConfigError('REDIS_CLUSTER_NODES', 'set either REDIS_URL or REDIS_CLUSTER_NODES, not both');
  const sentinelSpec = env.REDIS_SENTINELS?.trim();
  const sentinels = sentinelSpec ? parseNodes(sentinelSpec, 'REDIS_SENTINELS') : null;
  if (sentinels && (url || nodes)) {
    throw new ConfigError('REDIS_SENTINELS', 'set only one of REDIS_URL, REDIS_CLUSTER_NODES and REDIS_SENTINELS');
  }
  const master = env.REDIS_SENTINEL_MASTER?.trim() || 'mymaster';
  if (!/^[\w.-]{1,128}$/.test(master)) throw new ConfigError('REDIS_SENTINEL_MASTER', 'must be 1-128 of A-Z a-z 0-9 _ . -');
  const password = env.REDIS_PASSWORD || null;
  if (password && url) throw new ConfigError('REDIS_PASSWORD', 'with REDIS_URL, put the password in the URL instead');
  const keyPrefix = env.TOTP_KEY_PREFIX ?? 'totp:';
  if (keyPrefix.length > 64 || /[{}\s]/.test(keyPrefix)) {
    throw new ConfigError('TOTP_KEY_PREFIX', 'must be at most 64 characters without braces or spaces');
  }
  const found = readRedisTls(env, { url, nodes: Boolean(nodes || sentinels) }, (variable, message) => {
    throw new ConfigError(variable, message);
  });
  const tls = found && Object.freeze(found);
  if (url) return { kind: 'redis', url, keyPrefix, tls, options };
  if (nodes) return { kind: 'cluster', nodes, password, keyPrefix, tls, options };
  if (sentinels) return { kind: 'sentinel', sentinels, master, password, keyPrefix, tls, options };
  return { kind: 'embedded', options };
}

/** TOTP_EXPORT_RECIPIENTS: comma-separated age recipients, each one age accepts (a public key: quoting it is safe). */
function parseRecipients(spec: string | undefined): string[] {
  const list = (spec ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  list.forEach((r, i) => {
    try {
      if (!r.startsWith('age1')) throw new Error('not an age recipient');
      makeEncrypter([r]);
    } catch {
      throw new ConfigError('TOTP_EXPORT_RECIPIENTS', `entry ${i + 1} ("${r.slice(0, 80)}") is not an age recipient (age1…; make one with age-keygen)`);
    }
  });
  return list;
}

/**
 * Webhooks: TOTP_WEBHOOK_URL (http or https) and its TOTP_WEBHOOK_SECRET (`whsec_` + base64 of 24
 * to 64 bytes, as Standard Webhooks defines; never quoted in a message), the event types (default
 * every type but VERIFY) and how long a failing delivery is retried.
 */
function webhookSettings(env: Env): WebhookSettings | null {
  const url = env.TOTP_WEBHOOK_URL?.trim();
  if (!url) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('TOTP_WEBHOOK_URL', 'is not a URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new ConfigError('TOTP_WEBHOOK_URL', 'must be http:// or https://');
  const secret = env.TOTP_WEBHOOK_SECRET?.trim() ?? '';
  const bytes = secret.startsWith('whsec_') && /^[A-Za-z0-9+/]+={0,2}$/.test(secret.slice(6)) ? Buffer.from(secret.slice(6), 'base64').length : 0;
  if (bytes < 24 || bytes > 64) {
    throw new ConfigError('TOTP_WEBHOOK_SECRET', 'must be whsec_ followed by base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32))');
  }
  const spec = env.TOTP_WEBHOOK_EVENTS?.trim();
  const names = spec ? spec.split(',').map((s) => s.trim()).filter(Boolean) : AUDIT_EVENT_TYPES.filter((t) => t !== 'VERIFY');
  for (const n of names) {
    if (!(AUDIT_EVENT_TYPES as readonly string[]).includes(n)) {
      throw new ConfigError('TOTP_WEBHOOK_EVENTS', `"${n.slice(0, 40)}" is not an event type (${AUDIT_EVENT_TYPES.join(', ')})`);
    }
  }
  return Object.freeze({
    url,
    secret,
    events: new Set(names as AuditEventType[]),
    maxAgeSeconds: int(env, 'TOTP_WEBHOOK_MAX_AGE_SECONDS', 86_400, 60, 86_400 * 30),
    firstRetryMillis: int(env, 'TOTP_WEBHOOK_FIRST_RETRY_MS', 5000, 100, 5000),
  });
}
