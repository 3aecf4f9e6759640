/**
 * The shape of packages/server/src, held by a machine: imports point one way (the store imports
 * nothing from above it, no service imports another service's file) and no two modules import each
 * other, however indirectly. (eslint's no-restricted-imports holds the first for editors as well.)
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Each module (path relative to src) and the modules of this package it imports. */
const graph = new Map<string, string[]>(
  sources(SRC).map((file) => {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'(\.{1,2}\/[^']+)'/g)].map((m) =>
      relative(SRC, resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'))),
    );
    return [relative(SRC, file), targets];
  }),
);

/** One cycle through the import graph, if there is any. */
function findCycle(): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

describe('packages/server/src', () => {
  it('reads every module and its imports', () => {
    expect(graph.size).toBeGreaterThan(30);
    expect(graph.get('server.ts')).toContain('services.ts');
  });

  it('has no import cycle', () => {
    expect(findCycle()).toBeNull();
  });

  it('keeps the store at the bottom: store/ imports only store/', () => {
    const upward = [...graph].flatMap(([from, to]) => (from.startsWith('store/') ? to.filter((t) => !t.startsWith('store/')).map((t) => `${from} -> ${t}`) : []));
    expect(upward).toEqual([]);
  });

  it('lets no service import another service file', () => {
    const across = [...graph].flatMap(([from, to]) =>
      from.endsWith('.service.ts') ? to.filter((t) => t.endsWith('.service.ts')).map((t) => `${from} -> ${t}`) : [],
    );
    expect(across).toEqual([]);
  });
});
