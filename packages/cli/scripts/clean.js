// Remove the previous build, so that a deleted command cannot linger in dist/ or the manifest.
import { rmSync } from 'node:fs';
import { URL } from 'node:url';

for (const path of ['dist', 'oclif.manifest.json']) rmSync(new URL(`../${path}`, import.meta.url), { recursive: true, force: true });
