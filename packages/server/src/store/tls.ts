import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect, createSecureContext, type ConnectionOptions } from 'node:tls';

/**
 * TLS to Redis: one Redis (`rediss://` in REDIS_URL), the nodes of a Cluster and the Sentinels with
 * their master (REDIS_TLS=true). The server's certificate is always verified: against the CAs of
 * REDIS_TLS_CA_FILE when set, else against Node's list; for the name in REDIS_TLS_SERVERNAME when
 * set, else for the host connected to. REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE give a client
 * certificate, for servers that require one (`tls-auth-clients yes`). config.ts reads the
 * variables through readRedisTls; connect.ts turns the result into ioredis options.
 */
export interface RedisTls {
  /** PEM: the only CAs trusted (REDIS_TLS_CA_FILE); null: Node's own list. */
  readonly ca: Buffer | null;
  /** PEM: the client certificate and its key (mutual TLS), or both null. */
  readonly cert: Buffer | null;
  readonly key: Buffer | null;
  /** The name the server's certificate must hold (and the SNI sent); null: the host connected to. */
  readonly servername: string | null;
}

export const REDIS_TLS_VARIABLES = ['REDIS_TLS', 'REDIS_TLS_CA_FILE', 'REDIS_TLS_CERT_FILE', 'REDIS_TLS_KEY_FILE', 'REDIS_TLS_SERVERNAME'] as const;

type Env = Readonly<Record<string, string | undefined>>;
/** Throws the configuration error of `variable` (config.ts makes it a ConfigError). */
type Fail = (variable: string, message: string) => never;

/** Where Redis is, as far as TLS cares. */
export interface RedisTarget {
  readonly url: string | null;
  /** REDIS_CLUSTER_NODES or REDIS_SENTINELS is set. */
  readonly nodes: boolean;
}

function file(env: Env, name: string, fail: Fail): Buffer | null {
  const path = env[name]?.trim();
  if (!path) return null;
  try {
    return readFileSync(path);
  } catch (err) {
    return fail(name, `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/** The TLS settings, or null for plain TCP; anything inconsistent or unreadable fails, named. */
export function readRedisTls(env: Env, target: RedisTarget, fail: Fail): RedisTls | null {
  const flag = env.REDIS_TLS?.trim().toLowerCase() ?? '';
  if (!['', 'true', 'false', '1', '0', 'yes', 'no'].includes(flag)) fail('REDIS_TLS', `must be true or false (got "${flag.slice(0, 20)}")`);
  const asked = ['true', '1', 'yes'].includes(flag);
  if (asked && target.url) fail('REDIS_TLS', 'with REDIS_URL, ask for TLS with rediss:// instead');
  if (asked && !target.nodes) fail('REDIS_TLS', 'is for REDIS_CLUSTER_NODES or REDIS_SENTINELS, and neither is set');
  const tls = asked || (target.url?.startsWith('rediss://') ?? false);
  if (!tls) {
    const stray = REDIS_TLS_VARIABLES.slice(1).find((v) => env[v]?.trim());
    if (stray) fail(stray, 'is set but the connection to Redis is not TLS: use rediss:// in REDIS_URL, or REDIS_TLS=true with a Cluster or Sentinels');
    return null;
  }

  const ca = file(env, 'REDIS_TLS_CA_FILE', fail);
  if (ca) {
    try {
      new X509Certificate(ca);
    } catch {
      fail('REDIS_TLS_CA_FILE', 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
    }
  }
  const cert = file(env, 'REDIS_TLS_CERT_FILE', fail);
  const key = file(env, 'REDIS_TLS_KEY_FILE', fail);
  if (!cert !== !key) fail(cert ? 'REDIS_TLS_KEY_FILE' : 'REDIS_TLS_CERT_FILE', 'a client certificate needs both REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE');
  if (cert && key) {
    try {
      new X509Certificate(cert);
    } catch {
      fail('REDIS_TLS_CERT_FILE', 'holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
    }
    try {
      createPrivateKey(key);
    } catch {
      fail('REDIS_TLS_KEY_FILE', 'holds no readable private key (PEM, unencrypted)');
    }
    try {
      createSecureContext({ cert, key });
    } catch {
      fail('REDIS_TLS_KEY_FILE', 'is not the key of the certificate in REDIS_TLS_CERT_FILE');
    }
  }
  const servername = env.REDIS_TLS_SERVERNAME?.trim() || null;
  if (servername && !/^[A-Za-z0-9.-]{1,253}$/.test(servername)) fail('REDIS_TLS_SERVERNAME', 'must be a host name (A-Z a-z 0-9 . -)');
  return { ca, cert, key, servername };
}

/** The options of Node's tls.connect for ioredis (`tls`, `redisOptions.tls`, `sentinelTLS`). */
export function tlsOptions(t: RedisTls): ConnectionOptions {
  return {
    ...(t.ca ? { ca: t.ca } : {}),
    ...(t.cert && t.key ? { cert: t.cert, key: t.key } : {}),
    ...(t.servername ? { servername: t.servername } : {}),
  };
}

/** What went wrong in a TLS handshake, said in terms of the settings; null when it was not TLS. */
export function explainTlsFailure(err: unknown, t: RedisTls): string | null {
  const e = err as { code?: string; message?: string; lastNodeError?: unknown } | null | undefined;
  if (!e) return null;
  if (e.lastNodeError) return explainTlsFailure(e.lastNodeError, t); // a Cluster's "Failed to refresh slots cache"
  const what = `${e.code ?? ''} ${e.message ?? ''}`;
  // OpenSSL's own messages are a dump of its internals; its code says the same in one word
  const said = (e.message ?? '').split('\n')[0]!.trim();
  const detail = e.code && (/^[0-9A-F]+:error:/.test(said) || said === '') ? e.code : said;
  const trusted = t.ca ? 'a CA in REDIS_TLS_CA_FILE' : "a CA Node trusts (set REDIS_TLS_CA_FILE to your Redis CA's certificate)";
  if (/SELF_SIGNED|self[- ]signed|UNABLE_TO_VERIFY_LEAF|unable to verify the first certificate|UNABLE_TO_GET_ISSUER|local issuer certificate|CERT_SIGNATURE_FAILURE|certificate signature failure/i.test(what)) {
    return `TLS: the Redis server's certificate is not signed by ${trusted} (${detail})`;
  }
  if (/ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames/i.test(what)) {
    return `TLS: the Redis server's certificate is not for the name expected (${t.servername ? 'REDIS_TLS_SERVERNAME' : 'the host connected to; set REDIS_TLS_SERVERNAME to the name it holds'}): ${detail}`;
  }
  if (/CERT_HAS_EXPIRED|certificate has expired|CERT_NOT_YET_VALID/i.test(what)) return `TLS: the Redis server's certificate is not valid now (${detail})`;
  if (/certificate required|HANDSHAKE_FAILURE.*cert/i.test(what)) {
    return `TLS: the Redis server requires a client certificate: set REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE (${detail})`;
  }
  if (/unknown ca|bad certificate|certificate unknown|UNKNOWN_CA|BAD_CERTIFICATE/i.test(what)) {
    return `TLS: the Redis server refused the client certificate of REDIS_TLS_CERT_FILE (${detail})`;
  }
  if (/wrong version number|WRONG_VERSION_NUMBER|packet length too long|TLS_HANDSHAKE_TIMEOUT/i.test(what)) {
    return `TLS: no TLS handshake: does that port speak TLS? (${detail})`;
  }
  return null;
}

/**
 * One TLS handshake to `host:port` with the settings, and a PING after it (under TLS 1.3 a server
 * refuses a client certificate only after the client thinks the handshake is done): resolves with
 * the error that ended it, or null when the server answered. ioredis reports a refused handshake
 * of a Cluster node or a Sentinel only as "Connection is closed."; this says why, at start-up.
 */
export function probeTls(host: string, port: number, t: RedisTls, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, ...tlsOptions(t), ...(t.servername || isIP(host) ? {} : { servername: host }) });
    const done = (result: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    // connected, and no handshake: not a TLS port, most likely (no connection: not for TLS to say)
    let connected = false;
    socket.once('connect', () => (connected = true));
    const timer = setTimeout(() => {
      const code = connected ? 'TLS_HANDSHAKE_TIMEOUT' : 'ETIMEDOUT';
      done(Object.assign(new Error(`no ${connected ? 'TLS handshake' : 'connection'} with ${host}:${port} within ${timeoutMs} ms`), { code }));
    }, timeoutMs);
    socket.once('secureConnect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    socket.once('data', () => done(null));
    socket.once('error', done);
    socket.once('close', () => done(null));
  });
}
