/**
 * docs/cli.md stays current: its command reference is regenerated (`oclif readme`, into a
 * temporary copy) and must equal the committed file; and every command of the CLI, with each of
 * its flags, has its section there.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from './support/cli.js';

const DOCS = fileURLToPath(new URL('../../../docs/cli.md', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../scripts/docs.js', import.meta.url));
const MANIFEST = fileURLToPath(new URL('../oclif.manifest.json', import.meta.url));

interface Manifest {
  commands: Record<string, { hidden?: boolean; flags: Record<string, { hidden?: boolean }> }>;
}

beforeAll(() => assertBuilt());

/** The part of the reference about one command: from its heading to the next one. */
function section(docs: string, id: string): string {
  const start = docs.indexOf(`\n## \`totp-admin ${id}`);
  if (start === -1) return '';
  const end = docs.indexOf('\n## `totp-admin ', start + 1);
  return docs.slice(start, end === -1 ? undefined : end);
}

describe('docs/cli.md', () => {
  it('is what `npm run docs --workspace @totp-service/cli` makes of the commands now', () => {
    const check = spawnSync(process.execPath, [SCRIPT, '--check'], { encoding: 'utf8', timeout: 60_000 });
    expect(check.status, `${check.stdout}${check.stderr}`).toBe(0);
  });

  it("has a section for every command, the plugins' too, naming each of its flags", () => {
    const docs = readFileSync(DOCS, 'utf8');
    const { commands } = JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
    for (const [id, command] of Object.entries(commands)) {
      const text = section(docs, id);
      expect(text, `no section for ${id}`).not.toBe('');
      for (const [flag, spec] of Object.entries(command.flags)) if (!spec.hidden) expect(text, `${id} --${flag}`).toContain(`--${flag}`);
    }
    for (const id of ['help', 'autocomplete', 'version']) expect(section(docs, id), id).not.toBe('');
  });
});
