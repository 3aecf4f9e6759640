// docs/schema.graphql: the GraphQL schema printed from the built server (build first).
//
//   node scripts/print-schema.mjs           rewrite docs/schema.graphql
//   node scripts/print-schema.mjs --check   exit 1 if docs/schema.graphql is not current
//   node scripts/print-schema.mjs --stdout  print it
import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { printTotpSchema } from '../dist/schema.js';

const target = fileURLToPath(new URL('../../../docs/schema.graphql', import.meta.url));
const printed = await printTotpSchema();

if (process.argv.includes('--stdout')) {
  process.stdout.write(printed);
} else if (process.argv.includes('--check')) {
  let kept = '';
  try {
    kept = readFileSync(target, 'utf8');
  } catch {
    // missing: not current
  }
  if (kept !== printed) {
    process.stderr.write('docs/schema.graphql is not current: run `npm run docs --workspace @totp-service/server` and commit it\n');
    process.exitCode = 1;
  } else {
    process.stdout.write('docs/schema.graphql is current\n');
  }
} else {
  writeFileSync(target, printed);
  process.stdout.write('docs/schema.graphql written\n');
}
