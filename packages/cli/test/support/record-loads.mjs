// Module loader hooks (node:module register) that append the URL of every ES module Node loads
// to the file named by RECORD_LOADS_FILE: what a command costs at start-up, as a list of files.
// Registered by register-loads.mjs, which `node --import` runs before the CLI.
import { appendFileSync } from 'node:fs';

export async function load(url, context, nextLoad) {
  if (process.env.RECORD_LOADS_FILE) appendFileSync(process.env.RECORD_LOADS_FILE, `${url}\n`);
  return nextLoad(url, context);
}
