/**
 * The TLS settings of the configuration: what turns TLS on, what each file must hold, and one
 * ConfigError naming the variable for anything inconsistent, unreadable or malformed (never the
 * contents of a key). Against real servers: test/redis-tls.e2e.test.ts.
 */
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { makeCerts } from '../../../test/support/tls.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { tlsOptions, type RedisTls } from '../src/store/tls.js';

const certs = makeCerts();
afterAll(() => rmSync(certs.dir, { recursive: true, force: true }));
const KEYS = { TOTP_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString('base64')}` };

/** The TLS settings of the store the environment describes (undefined for the embedded store). */
function tlsOf(env: Record<string, string>): RedisTls | null | undefined {
  const store = loadConfig(env).store;
  return store.kind === 'embedded' ? undefined : store.tls;
}

function refusal(env: Record<string, string>): { variable: string; message: string } {
  try {
    loadConfig({ ...KEYS, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return { variable: err.variable, message: err.message };
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
}

describe('Redis TLS settings', () => {
  it('are off for redis://, the embedded store, and REDIS_TLS=false', () => {
    expect(tlsOf({ ...KEYS, REDIS_URL: 'redis://127.0.0.1:6379' })).toBeNull();
    expect(tlsOf({})).toBeUndefined();
    expect(tlsOf({ ...KEYS, REDIS_CLUSTER_NODES: 'a:1', REDIS_TLS: 'false' })).toBeNull();
  });

  it("are on for rediss:// (Node's CAs unless REDIS_TLS_CA_FILE), and for a Cluster or Sentinels with REDIS_TLS=true", () => {
    expect(tlsOf({ ...KEYS, REDIS_URL: 'rediss://r:6380' })).toEqual({ ca: null, cert: null, key: null, servername: null });
    const cluster = tlsOf({ ...KEYS, REDIS_CLUSTER_NODES: 'a:1', REDIS_TLS: 'true', REDIS_TLS_CA_FILE: certs.ca, REDIS_TLS_SERVERNAME: 'redis.test' })!;
    expect(cluster.ca?.toString()).toContain('BEGIN CERTIFICATE');
    expect(Object.keys(tlsOptions(cluster)).sort()).toEqual(['ca', 'servername']);
    const sentinel = tlsOf({
      ...KEYS,
      REDIS_SENTINELS: 's:26379',
      REDIS_TLS: 'yes',
      REDIS_TLS_CERT_FILE: certs.clientCert,
      REDIS_TLS_KEY_FILE: certs.clientKey,
    })!;
    expect(Object.keys(tlsOptions(sentinel)).sort()).toEqual(['cert', 'key']);
    expect(Object.isFrozen(sentinel)).toBe(true);
  });

  it.each([
    [{ REDIS_URL: 'redis://r:1', REDIS_TLS: 'true' }, 'REDIS_TLS', /rediss:\/\//],
    [{ REDIS_TLS: 'true' }, 'REDIS_TLS', /REDIS_CLUSTER_NODES or REDIS_SENTINELS/],
    [{ REDIS_CLUSTER_NODES: 'a:1', REDIS_TLS: 'maybe' }, 'REDIS_TLS', /true or false/],
    [{ REDIS_URL: 'redis://r:1', REDIS_TLS_CA_FILE: '/x' }, 'REDIS_TLS_CA_FILE', /not TLS/],
    [{ REDIS_CLUSTER_NODES: 'a:1', REDIS_TLS_SERVERNAME: 'x' }, 'REDIS_TLS_SERVERNAME', /not TLS/],
    [{ REDIS_URL: 'rediss://r:1', REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' }, 'REDIS_TLS_CA_FILE', /cannot read \/nonexistent\/ca\.pem \(ENOENT\)/],
    [{ REDIS_URL: 'rediss://r:1', REDIS_TLS_CA_FILE: certs.clientKey }, 'REDIS_TLS_CA_FILE', /no PEM certificate/],
    [{ REDIS_URL: 'rediss://r:1', REDIS_TLS_CERT_FILE: certs.clientCert }, 'REDIS_TLS_KEY_FILE', /needs both/],
    [{ REDIS_URL: 'rediss://r:1', REDIS_TLS_KEY_FILE: certs.clientKey }, 'REDIS_TLS_CERT_FILE', /needs both/],
    [{ REDIS_URL: 'rediss://r:1', REDIS_TLS_CERT_FILE: certs.clientKey, REDIS_TLS_KEY_FILE: certs.clientKey }, 'REDIS_TLS_CERT_FILE', /no PEM certificate/],
    [{ REDIS_URL: 'rediss://r:1', REDIS_TLS_CERT_FILE: certs.clientCert, REDIS_TLS_KEY_FILE: certs.ca }, 'REDIS_TLS_KEY_FILE', /no readable private key/],
    [{ REDIS_URL: 'rediss://r:1', REDIS_TLS_CERT_FILE: certs.clientCert, REDIS_TLS_KEY_FILE: certs.strangerKey }, 'REDIS_TLS_KEY_FILE', /not the key of the certificate/],
    [{ REDIS_URL: 'rediss://r:1', REDIS_TLS_SERVERNAME: 'a b' }, 'REDIS_TLS_SERVERNAME', /host name/],
  ])('refuses %j naming %s', (env, variable, message) => {
    const r = refusal(env);
    expect(r.variable).toBe(variable);
    expect(r.message).toMatch(message);
    expect(r.message).not.toMatch(/PRIVATE KEY|MII|MHc/); // no key or certificate material
  });
});
