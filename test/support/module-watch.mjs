// Preloaded into a server under test (node --import): records every module the process loads,
// into the file named by MODULE_WATCH_FILE. ES modules (and CommonJS ones reached by import) are
// seen by a load hook; CommonJS modules required from CommonJS are in require.cache at exit.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const out = process.env.MODULE_WATCH_FILE;
if (!out) throw new Error('module-watch.mjs needs MODULE_WATCH_FILE');
register('./module-watch-hooks.mjs', { parentURL: import.meta.url, data: { out } });
const cache = createRequire(import.meta.url).cache;
process.on('exit', () => appendFileSync(out, Object.keys(cache).map((f) => `cjs ${f}\n`).join('')));
