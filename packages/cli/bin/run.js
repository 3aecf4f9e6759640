#!/usr/bin/env node
// oclif's execute(), except for what it does with an error that no command reported (those of
// the oclif plugins' commands): src/uncaught.ts reports it the CLI's way (exit 2 for wrong usage).
import { existsSync } from 'node:fs';
import { flush } from '@oclif/core/flush';
import { run } from '@oclif/core/run';

const argv = process.argv.slice(2);
try {
  await run(argv, import.meta.url);
  await flush();
} catch (error) {
  if (existsSync(new URL('../dist/uncaught.js', import.meta.url))) {
    const { reportUncaught } = await import('../dist/uncaught.js');
    await reportUncaught(error, argv, import.meta.url);
  } else {
    // A checkout whose install skipped the build (npm install --ignore-scripts, say).
    process.stderr.write('totp-admin: the CLI is not built (packages/cli/dist is missing); run `npm run build` at the repository root\n');
    process.exitCode = 1;
  }
}
