/**
 * The schema's documentation stays current: docs/schema.graphql is what the code prints now
 * (`npm run docs --workspace @totp-service/server` writes it), and docs/api.md has a section for
 * every query and mutation of it and names every public error code.
 */
import { readFileSync } from 'node:fs';
import { ErrorCode } from '@totp-service/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTotpSchema, printTotpSchema } from '../src/schema.js';

const doc = (name: string) => readFileSync(new URL(`../../../docs/${name}`, import.meta.url), 'utf8');

describe('docs/schema.graphql', () => {
  it('is the schema the code builds now', async () => {
    const printed = await printTotpSchema();
    const kept = doc('schema.graphql');
    const at = printed.split('\n').findIndex((line, i) => line !== kept.split('\n')[i]);
    expect(
      kept === printed,
      `docs/schema.graphql is not current (first difference at line ${at + 1}): run \`npm run docs --workspace @totp-service/server\` and commit it`,
    ).toBe(true);
  });
});

describe('docs/api.md', () => {
  let api: string;
  let operations: string[];
  beforeAll(async () => {
    api = doc('api.md');
    const schema = await buildTotpSchema();
    operations = [schema.getQueryType(), schema.getMutationType()].flatMap((t) => Object.keys(t?.getFields() ?? {}));
  });

  it('has a section for every query and mutation', () => {
    expect(operations.length).toBeGreaterThan(12);
    const missing = operations.filter((name) => !new RegExp(`^### \`${name}\``, 'm').test(api));
    expect(missing, 'operations without a "### `name`" section in docs/api.md').toEqual([]);
  });

  it('names every public error code', () => {
    const missing = Object.values(ErrorCode).filter((code) => !api.includes(`\`${code}\``));
    expect(missing, 'error codes docs/api.md does not name').toEqual([]);
  });
});
