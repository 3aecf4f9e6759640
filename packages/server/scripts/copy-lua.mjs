// Copy the Lua scripts next to the compiled store, where scripts.ts reads them at start-up.
import { cpSync } from 'node:fs';

cpSync(new URL('../src/store/scripts', import.meta.url), new URL('../dist/store/scripts', import.meta.url), {
  recursive: true,
  filter: (src) => !src.endsWith('.ts'),
});
