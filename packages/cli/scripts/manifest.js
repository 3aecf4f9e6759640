// Write oclif.manifest.json from the built commands: with it, oclif imports only the command
// that runs instead of every command file, which keeps start-up fast. Run after tsc. A manifest
// that misses a command would hide it, so the count is checked against dist/commands.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';
import { Config } from '@oclif/core';

const root = fileURLToPath(new URL('..', import.meta.url));
const target = new URL('../oclif.manifest.json', import.meta.url);
const built = readdirSync(new URL('../dist/commands/', import.meta.url)).filter((f) => f.endsWith('.js'));
const config = await Config.load({ root, ignoreManifest: true, errorOnManifestCreate: true });
const { manifest } = config.rootPlugin;
const count = Object.keys(manifest.commands).length;
if (count === 0 || count !== built.length) {
  rmSync(target, { force: true });
  process.stderr.write(`oclif.manifest.json: found ${count} commands but dist/commands has ${built.length}; not written\n`);
  process.exit(1);
}
writeFileSync(target, `${JSON.stringify(manifest, null, 2)}\n`);
process.stdout.write(`oclif.manifest.json: ${count} commands\n`);
