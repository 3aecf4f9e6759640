/**
 * Redis over TLS for tests: certificates made with openssl (a CA, a server certificate for
 * 127.0.0.1 and `redis.test`, a client certificate, and the same from a second, wrong CA), and
 * TLS-only redis-servers on free ports (`--port 0 --tls-port P`): one server, a 3-master Cluster
 * (`tls-cluster yes`) and a Sentinel with its master (`tls-replication yes`). Debian's redis-server
 * is built with TLS.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis.js';
import { findTool } from './tools.js';

export interface Certs {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A CA that signed nothing of the servers', and a client certificate it signed. */
  readonly wrongCa: string;
  readonly strangerCert: string;
  readonly strangerKey: string;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`);
}

/** EC P-256 keys (fast to make), valid for a day. */
export function makeCerts(): Certs {
  const dir = mkdtempSync(join(tmpdir(), 'totp-tls-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string) =>
    openssl(['req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '1', '-subj', `/CN=${name}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  ca('test-ca');
  ca('wrong-ca');
  // the servers' certificate serves as their client certificate too (cluster bus, replication)
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:redis.test,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  const leaf = (name: string, by: string, ext: string) => {
    openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${by}.crt`, '-CAkey', `${by}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', ext], dir);
  };
  leaf('server', 'test-ca', 'server.ext');
  leaf('client', 'test-ca', 'client.ext');
  leaf('stranger', 'wrong-ca', 'client.ext');
  const f = (name: string) => join(dir, name);
  return {
    dir,
    ca: f('test-ca.crt'),
    serverCert: f('server.crt'),
    serverKey: f('server.key'),
    clientCert: f('client.crt'),
    clientKey: f('client.key'),
    wrongCa: f('wrong-ca.crt'),
    strangerCert: f('stranger.crt'),
    strangerKey: f('stranger.key'),
  };
}

/** The server side of TLS: its certificate, the CA it checks clients against, and whether it requires them. */
function tlsArgs(c: Certs, clientCerts: boolean): string[] {
  return ['--tls-cert-file', c.serverCert, '--tls-key-file', c.serverKey, '--tls-ca-cert-file', c.ca, '--tls-auth-clients', clientCerts ? 'yes' : 'no'];
}

/** redis-cli over TLS with the client certificate. */
export function tlsCli(c: Certs, port: number, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(findTool('redis-cli')!, ['--tls', '--cacert', c.ca, '--cert', c.clientCert, '--key', c.clientKey, '-p', String(port), ...args], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export interface TlsProcesses {
  /** TLS ports of the servers (and the Sentinel's, for a Sentinel setup). */
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

function spawnAll(runs: { args: string[] }[]): ChildProcess[] {
  return runs.map(({ args }) => spawn(findTool('redis-server')!, args, { stdio: 'ignore' }));
}

async function stopAll(children: ChildProcess[], dirs: string[]): Promise<void> {
  await Promise.all(
    children.map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    })),
  );
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}

async function until(what: string, probe: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** TLS-only redis-servers: one, or `masters` of them made a Cluster. */
export async function startTlsRedis(c: Certs, opts: { clientCerts: boolean; masters?: number }): Promise<TlsProcesses> {
  const cluster = opts.masters !== undefined;
  const count = opts.masters ?? 1;
  const runs: { port: number; dir: string; args: string[] }[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'totp-tls-redis-'));
    const clusterArgs = cluster
      ? ['--cluster-enabled', 'yes', '--cluster-port', String(await freePort()), '--cluster-config-file', 'nodes.conf', '--tls-cluster', 'yes', '--tls-replication', 'yes']
      : [];
    const args = ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...tlsArgs(c, opts.clientCerts), ...clusterArgs];
    runs.push({ port, dir, args });
  }
  const children = spawnAll(runs);
  const stop = () => stopAll(children, runs.map((r) => r.dir));
  try {
    for (const { port } of runs) await until(`redis-server on TLS port ${port} answered`, () => tlsCli(c, port, ['ping']).stdout.trim() === 'PONG');
    if (cluster) {
      const created = tlsCli(c, runs[0]!.port, ['--cluster', 'create', ...runs.map((r) => `127.0.0.1:${r.port}`), '--cluster-replicas', '0', '--cluster-yes']);
      if (created.status !== 0) throw new Error(`redis-cli --cluster create over TLS failed: ${created.stdout}\n${created.stderr}`);
      await until('the TLS cluster was ok', () => runs.every((r) => /cluster_state:ok/.test(tlsCli(c, r.port, ['cluster', 'info']).stdout)));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { ports: runs.map((r) => r.port), stop };
}

/** A TLS-only master and a TLS-only Sentinel watching it (quorum 1); ports: [master, sentinel]. */
export async function startTlsSentinel(c: Certs, masterName: string, opts: { clientCerts: boolean }): Promise<TlsProcesses> {
  const master = await startTlsRedis(c, { clientCerts: opts.clientCerts });
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'totp-tls-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      'port 0',
      `tls-port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `tls-cert-file ${c.serverCert}`,
      `tls-key-file ${c.serverKey}`,
      `tls-ca-cert-file ${c.ca}`,
      `tls-auth-clients ${opts.clientCerts ? 'yes' : 'no'}`,
      // the Sentinel talks to the master over TLS too
      'tls-replication yes',
      `sentinel monitor ${masterName} 127.0.0.1 ${master.ports[0]} 1`,
      '',
    ].join('\n'),
  );
  const [child] = spawnAll([{ args: [conf, '--sentinel'] }]);
  const stop = async () => {
    await stopAll([child!], [dir]);
    await master.stop();
  };
  try {
    await until('the TLS Sentinel named its master', () => tlsCli(c, port, ['sentinel', 'get-master-addr-by-name', masterName]).stdout.includes(String(master.ports[0])));
  } catch (err) {
    await stop();
    throw err;
  }
  return { ports: [master.ports[0]!, port], stop };
}
