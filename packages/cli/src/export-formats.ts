/**
 * What `export --identity` writes of the decrypted factors:
 *   json  the export's plaintext, every page's factors in one `{"version": 1, "factors": [...]}`,
 *         one factor per line, each as the server made it: what `import --format json` restores
 *   csv   a header line and one row per device, the columns `import` reads (src/import-rows.ts)
 *   uri   one otpauth://totp/ URI per device, for authenticator apps (userId and device names are
 *         not part of a URI: use json to move factors between servers)
 */
import { csvLine } from './csv.js';
import type { SecretFunctions } from './import-check.js';
import { COLUMNS, EXPORT_COLUMNS } from './import-rows.js';
import { EXPORT_VERSION } from './json-factors.js';
import type { ExportedFactor } from './schema.js';

export const EXPORT_FORMATS = ['json', 'csv', 'uri'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface FormatWriter {
  readonly head: string;
  factor(f: ExportedFactor): string;
  readonly tail: string;
}

const CSV_COLUMNS = [...COLUMNS, ...EXPORT_COLUMNS] as const;

export function formatWriter(format: ExportFormat, secrets: SecretFunctions): FormatWriter {
  switch (format) {
    case 'json': {
      let first = true;
      return {
        head: `{"version":${EXPORT_VERSION},"factors":[`,
        factor: (f) => {
          const text = `${first ? '' : ','}\n${JSON.stringify(f)}`;
          first = false;
          return text;
        },
        tail: '\n]}\n',
      };
    }
    case 'csv':
      return { head: `${csvLine(CSV_COLUMNS)}\n`, factor: (f) => `${csvLine(CSV_COLUMNS.map((c) => cell(f[c])))}\n`, tail: '' };
    case 'uri':
      return {
        head: '',
        factor: (f) => `${secrets.buildKeyUri({ secret: f.secret, issuer: f.issuer, accountName: f.accountName, algorithm: f.algorithm, digits: f.digits as 6, period: f.period as 30 })}\n`,
        tail: '',
      };
  }
}

function cell(value: unknown): string | number | null {
  return typeof value === 'string' || typeof value === 'number' ? value : null;
}

/**
 * A decrypted page's factors: the plaintext must be a version 1 export whose entries carry the
 * fields a format needs. The message never quotes the plaintext (it holds secrets).
 */
export function pageFactors(plaintext: string, page: number): ExportedFactor[] {
  let doc: unknown;
  try {
    doc = JSON.parse(plaintext);
  } catch {
    throw new Error(`page ${page} decrypted to something that is not JSON`);
  }
  const { version, factors } = (doc ?? {}) as { version?: unknown; factors?: unknown };
  if (version !== EXPORT_VERSION) throw new Error(`page ${page} is an export of version ${JSON.stringify(version)}; this totp-admin reads version ${EXPORT_VERSION} (upgrade it)`);
  if (!Array.isArray(factors)) throw new Error(`page ${page} has no list of factors`);
  for (const f of factors as unknown[]) {
    const e = f as Partial<ExportedFactor> | null;
    if (typeof e?.userId !== 'string' || typeof e.secret !== 'string' || typeof e.algorithm !== 'string' || typeof e.digits !== 'number' || typeof e.period !== 'number') {
      throw new Error(`page ${page} holds a factor without userId, secret, algorithm, digits or period`);
    }
  }
  return factors as ExportedFactor[];
}
