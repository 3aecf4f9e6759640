/**
 * Where tests find the external programs they check the service against: oathtool and pyotp
 * (independent TOTP implementations), zbarimg (reads QR codes back), Redis.
 *
 * One rule for every test file in the repository: a missing tool skips the tests that need it,
 * after one line saying what is missing and which package provides it, except on CI
 * (`CI=true`), where a missing tool fails the run, so that a CI image without the tool cannot
 * turn the interoperability tests into silent skips.
 *
 *   const oathtool = requireTool('oathtool');      // top level: the path, or null (skipped)
 *   describe.skipIf(!oathtool)('against oathtool', () => { … run(oathtool!, …) … });
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Programs looked up on PATH. */
export type ToolName = 'oathtool' | 'zbarimg' | 'redis-server' | 'redis-cli' | 'docker-compose' | 'age' | 'age-keygen' | 'curl' | 'jq';
/** What a test can require: a program on PATH, or `pyotp`, a Python that can import pyotp. */
export type Requirement = ToolName | 'pyotp';

/** How to get each requirement on Debian or Ubuntu. */
const HOW_TO_GET: Readonly<Record<Requirement, string>> = {
  oathtool: 'apt-get install oathtool',
  zbarimg: 'apt-get install zbar-tools',
  'redis-server': 'apt-get install redis-server',
  'redis-cli': 'apt-get install redis-tools (a dependency of redis-server)',
  pyotp: 'apt-get install python3-pyotp, or pip install pyotp',
  age: 'apt-get install age',
  'age-keygen': 'apt-get install age',
  'docker-compose': 'apt-get install docker-compose (validates docker-compose.yml without a Docker engine)',
  curl: 'apt-get install curl',
  jq: 'apt-get install jq',
};

/** Always the system interpreter, which is the one Debian's python3-pyotp installs into. */
const SYSTEM_PYTHON = '/usr/bin/python3';

const lookups = new Map<string, string | null>();
const announced = new Set<Requirement>();

/** Look up once per process (and per PATH, so a test that changes PATH sees the change). */
function cached(what: string, find: () => string | null): string | null {
  const key = `${what}\0${process.env.PATH ?? ''}`;
  if (!lookups.has(key)) lookups.set(key, find());
  return lookups.get(key) ?? null;
}

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(program: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, program);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

/** The absolute path of `name` on PATH, or null. */
export function findTool(name: ToolName): string | null {
  return cached(name, () => onPath(name));
}

/**
 * The first of `python3` on PATH and /usr/bin/python3 that can `import pyotp`, or null. Both are
 * tried because a pyenv (or venv) python3 first on PATH usually lacks the Debian package.
 */
export function findPyotpPython(): string | null {
  return cached('pyotp', () => {
    const candidates = new Set([onPath('python3'), SYSTEM_PYTHON].filter((p) => p !== null));
    for (const python of candidates) {
      const probe = spawnSync(python, ['-c', 'import pyotp'], { stdio: 'ignore', timeout: 15_000 });
      if (probe.status === 0) return python;
    }
    return null;
  });
}

/** True on CI, where a missing tool is an error rather than a reason to skip. */
export function isCI(): boolean {
  return process.env.CI === 'true';
}

/**
 * Declare that the tests of this file need `name`. Returns the program's path (for `pyotp`: the
 * Python interpreter that has it). When it is missing, prints one line naming it and the package
 * to install, and returns null so the caller can skip; with `CI=true` it throws instead, which
 * fails the test file at load time.
 */
export function requireTool(name: Requirement): string | null {
  const path = name === 'pyotp' ? findPyotpPython() : findTool(name);
  if (path !== null) return path;
  const missing =
    name === 'pyotp'
      ? `no python3 can import pyotp (tried python3 on PATH and ${SYSTEM_PYTHON})`
      : `${name} is not on PATH`;
  if (isCI()) throw new Error(`${missing}; CI=true requires it (${HOW_TO_GET[name]})`);
  if (!announced.has(name)) {
    announced.add(name);
    console.warn(`skipping the tests that need ${name}: ${missing} (${HOW_TO_GET[name]})`);
  }
  return null;
}
