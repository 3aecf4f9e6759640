// The root `prepare` step (run by `npm install` and `npm ci`): build the CLI and what it needs
// (core), so that `npx totp-admin` works right after installing a fresh clone. turbo skips what
// is already built, so a repeated install costs well under a second.
//
// It builds nothing, and succeeds, where there is nothing to build with: an install without
// devDependencies (no TypeScript, no turbo). The root script runs this file only when it exists,
// so an install from package.json files alone (the Dockerfile's dependency layer) skips it too.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import process from 'node:process';

const require = createRequire(import.meta.url);
const installed = (name) => {
  try {
    require.resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
};

if (installed('turbo') && installed('typescript')) {
  const turbo = spawnSync('turbo', ['run', 'build', '--filter=@totp-service/cli', '--output-logs=errors-only'], {
    stdio: 'inherit',
    shell: process.platform === 'win32',
  });
  if (turbo.status !== 0) process.stderr.write('prepare: building the CLI failed; `npm run build` shows why\n');
  process.exit(turbo.status ?? 1);
}
