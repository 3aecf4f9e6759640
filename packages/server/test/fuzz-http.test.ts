/**
 * Fuzzed requests through the whole server: arbitrary bodies, arbitrary JSON, GraphQL-looking
 * documents built from the schema's own words, arbitrary variables. Whatever arrives, the answer
 * is never a 5xx, every error carries a code, and the server stays healthy.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcess, type InProcessServer } from './support/in-process.js';

const WORDS = ['query', 'mutation', '{', '}', '(', ')', ':', '$u', '$c', 'ID!', 'String', '"x"', '""', '123456', '...', 'on', 'Mutation', 'Query',
  'fragment', 'F', '@skip(if: true)', 'verifyTotp', 'enrollTotp', 'totpStatus', 'unlockTotp', 'revokeTotp', 'userId:', 'code:', 'input:',
  'outcome', 'status', 'secret', '__typename', '__schema', 'a:', 'b:', '[', ']', '=', ',', '#', '\n', 'null', '1e999', '-0'];

const document = fc.array(fc.constantFrom(...WORDS), { maxLength: 60 }).map((ws) => ws.join(' '));
const body = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.json({ maxDepth: 4 }),
  fc.record({ query: document, variables: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.record({ u: fc.jsonValue({ maxDepth: 2 }), c: fc.jsonValue({ maxDepth: 2 }) })) }, { requiredKeys: ['query'] }).map((o) => JSON.stringify(o)),
  fc.record({ query: fc.jsonValue({ maxDepth: 2 }), operationName: fc.jsonValue({ maxDepth: 1 }), extensions: fc.jsonValue({ maxDepth: 2 }) }).map((o) => JSON.stringify(o)),
);

describe('fuzzed requests', () => {
  let s: InProcessServer;
  beforeAll(async () => {
    s = await startInProcess({ production: true });
  });
  afterAll(() => s.close());

  it('never answers 5xx, and every error has a code', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/graphql-response+json'), async (text, type) => {
        const r = await s.post(text, { 'content-type': type });
        expect(r.status, `${text.slice(0, 200)} → ${r.text.slice(0, 200)}`).toBeLessThan(500);
        expect(r.json, r.text.slice(0, 200)).toBeDefined();
        for (const e of r.json!.errors ?? []) expect(typeof e.extensions?.code, JSON.stringify(e)).toBe('string');
      }),
      { numRuns: 600 },
    );
    expect((await fetch(`${s.base}/healthz`)).status).toBe(200);
  });
});
