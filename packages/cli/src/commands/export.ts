import * as Flags from '@oclif/core/flags';
import { MAKE_IDENTITY, loadIdentities, type Identities } from '../age.js';
import { ServerCommand } from '../base-command.js';
import type { GraphQLClient } from '../client.js';
import { CliFailure, usageError } from '../errors.js';
import { EXPORT_FORMATS, formatWriter, pageFactors, type ExportFormat, type FormatWriter } from '../export-formats.js';
import { OutputClosed, openOutput, type Output } from '../export-output.js';
import { plural, shellArg } from '../format.js';
import { loadSecrets } from '../import-check.js';
import { encryptionKeys, exportTotp, type ExportedFactor, type TotpStatus } from '../operations.js';
import { Progress } from '../progress.js';

interface ExportResult {
  /** age: the pages as the server encrypted them (no --identity). */
  format: ExportFormat | 'age';
  /** The file written, or null for stdout. */
  out: string | null;
  status: TotpStatus | null;
  factors: number;
  pages: number;
  /** With --json and no --out, the export itself: format json. */
  document?: { version: number; factors: ExportedFactor[] };
  /** With --json and no --out: format csv or uri, one line each. */
  lines?: string[];
  /** With --json and no --out, without --identity: each page's armored age file. */
  ciphertexts?: string[];
}

/** What each page is turned into: decrypted factors through a format, or the page as it came. */
interface PageSink {
  /** Write one page; how many factors it held. */
  page(ciphertext: string, number: number, count: number): Promise<number>;
}

export default class Export extends ServerCommand {
  static override summary = 'Export every factor, encrypted to your age key, and decrypt it locally (admin).';
  static override description = `Pages through the server's exportTotp. The server encrypts each page to the age recipients of its TOTP_EXPORT_RECIPIENTS, so the secrets leave it only encrypted: an admin token alone never reveals one. With --identity, each page is decrypted here with your age identity and written as --format json (what \`totp-admin import --format json\` restores: device names, parameters, labels and lastUsedAt, so that codes used before the move stay used; the importing server dates the devices anew), csv, or uri (one otpauth:// URI per device, for authenticator apps). Without --identity the pages are written as the server made them, one ASCII-armored age file after another: \`totp-admin import FILE --format json --identity key.txt\` reads them back.

Make an identity once with \`age-keygen -o key.txt\` (Debian and Ubuntu: apt-get install age; or \`totp-admin export-key --out key.txt\`), keep it safe, and give the server its recipient, which \`age-keygen -y key.txt\` prints: TOTP_EXPORT_RECIPIENTS=age1… (comma-separated for several operators), then restart the server.

--out FILE is created with mode 600, written under a temporary name and renamed when the export is complete, so a failed or interrupted export leaves no file; an existing FILE is refused unless --force. Without --out the export goes to stdout. On a terminal a progress bar is drawn on stderr; nothing is drawn when stderr is not a terminal. Each page is recorded in the audit log as an EXPORTED event. Needs an admin key.`;
  static override examples = [
    { description: 'Export every factor, decrypted, to a file only you can read', command: '<%= config.bin %> <%= command.id %> --identity key.txt --out factors.json' },
    { description: 'Move the factors to another server', command: '<%= config.bin %> <%= command.id %> --identity key.txt --out factors.json && TOTP_SERVER_URL=https://new.example/graphql <%= config.bin %> import factors.json --format json' },
    { description: 'Active factors as otpauth:// URIs', command: '<%= config.bin %> <%= command.id %> --identity key.txt --format uri --status active --out factors.txt' },
    { description: 'Keep the encrypted pages (decrypt them later with the identity)', command: '<%= config.bin %> <%= command.id %> --out factors.age' },
    { description: 'Make an identity and the recipient for the server', command: 'age-keygen -o key.txt && age-keygen -y key.txt' },
  ];
  static override flags = {
    identity: Flags.string({ char: 'i', description: 'age identity file (AGE-SECRET-KEY-1…, from `age-keygen -o key.txt`) to decrypt the pages with', helpValue: '<file>' }),
    format: Flags.option({ description: 'with --identity: what to write (default json)', options: EXPORT_FORMATS })(),
    out: Flags.string({ char: 'o', description: 'write to this file (mode 600) instead of stdout', helpValue: '<file>' }),
    force: Flags.boolean({ description: 'replace --out if it exists' }),
    status: Flags.option({ description: 'only devices in this state', options: ['active', 'pending'] as const })(),
    'page-size': Flags.integer({ hidden: true, default: 1000, min: 1, max: 1000, description: 'users per page' }),
  };

  async run(): Promise<ExportResult> {
    const { flags } = await this.parse(Export);
    if (flags.format && !flags.identity) {
      throw usageError('--format needs --identity', `without an identity the pages are written encrypted, as the server made them; ${MAKE_IDENTITY}`);
    }
    const client = this.client(flags);
    const status = flags.status?.toUpperCase() as TotpStatus | undefined;
    // Everything that can be refused locally is, before the server is asked for anything.
    const identities = flags.identity ? await loadIdentities(flags.identity) : null;
    const collect = this.jsonEnabled() && (flags.out === undefined || flags.out === '-');
    const format: ExportFormat | 'age' = identities ? (flags.format ?? 'json') : 'age';
    const result: ExportResult = { format, out: null, status: status ?? null, factors: 0, pages: 0 };
    const output = collect ? null : await openOutput(flags.out, flags.force);
    result.out = output?.path ?? null;
    const writer = identities && format !== 'age' ? formatWriter(format, await loadSecrets()) : null;
    const sink = identities && writer ? this.plainSink(identities, writer, output, result) : this.encryptedSink(output, result);
    const progress = new Progress(process.stderr, await this.estimate(client, status), 'factors');
    try {
      await this.pages(client, { status, pageSize: flags['page-size'] }, async (ciphertext, count) => {
        result.pages++;
        result.factors += await sink.page(ciphertext, result.pages, count);
        progress.update(result.factors, result.pages);
      });
      if (writer && output) await output.write(`${result.pages === 0 ? writer.head : ''}${writer.tail}`);
      await output?.commit();
    } catch (error) {
      progress.clear();
      await output?.abort();
      if (error instanceof OutputClosed) return result;
      throw error instanceof CliFailure ? error : new CliFailure((error as Error).message, { code: 'BAD_EXPORT' });
    }
    progress.clear();
    this.report(result, flags.identity);
    return result;
  }

  /** Follow the cursor through every page. */
  private async pages(
    client: GraphQLClient,
    args: { status: TotpStatus | undefined; pageSize: number },
    each: (ciphertext: string, count: number) => Promise<void>,
  ): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const page = await exportTotp(client, { status: args.status, first: args.pageSize, after });
      await each(page.ciphertext, page.count);
      if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) return;
      after = page.pageInfo.endCursor;
    }
  }

  private plainSink(identities: Identities, writer: FormatWriter, output: Output | null, result: ExportResult): PageSink {
    if (!output) {
      if (result.format === 'json') result.document = { version: 1, factors: [] };
      else result.lines = [];
    }
    return {
      page: async (ciphertext, number) => {
        const factors = pageFactors(await identities.decrypt(ciphertext, number), number);
        // The head goes out with the first page that opened: a wrong identity leaves stdout empty.
        if (output && number === 1) await output.write(writer.head);
        for (const f of factors) {
          if (output) await output.write(writer.factor(f));
          else if (result.document) result.document.factors.push(f);
          else result.lines!.push(writer.factor(f).trimEnd());
        }
        return factors.length;
      },
    };
  }

  private encryptedSink(output: Output | null, result: ExportResult): PageSink {
    if (!output) result.ciphertexts = [];
    return {
      page: async (ciphertext, _number, count) => {
        if (output) await output.write(ciphertext.endsWith('\n') ? ciphertext : `${ciphertext}\n`);
        else result.ciphertexts!.push(ciphertext);
        return count;
      },
    };
  }

  /** On a terminal only: about how many factors there are, for the bar (the store's sealed values). */
  private async estimate(client: GraphQLClient, status: TotpStatus | undefined): Promise<number | null> {
    if (!process.stderr.isTTY || status !== undefined) return null;
    return encryptionKeys(client).then(
      (keys) => keys.reduce((sum, k) => sum + k.sealedValues, 0),
      () => null,
    );
  }

  private report(r: ExportResult, identity: string | undefined): void {
    if (this.jsonEnabled()) return;
    const what = `${plural(r.factors, 'factor')}${r.status ? ` (${r.status})` : ''} in ${plural(r.pages, 'page')}`;
    if (r.out === null) {
      this.note(r.format === 'age' ? `Exported ${what}, encrypted to the server's TOTP_EXPORT_RECIPIENTS.` : `Exported ${what} as ${r.format}.`);
      return;
    }
    if (r.format === 'age') {
      this.log(`Exported ${what} to ${r.out}, each page an age file encrypted to the server's TOTP_EXPORT_RECIPIENTS.`);
      this.log(`\`${this.config.bin} import ${shellArg(r.out)} --format json --identity <file>\` restores them (or decrypt each page with \`age -d -i <file>\`).`);
      return;
    }
    this.log(`Exported ${what} to ${r.out} as ${r.format} (mode 600), decrypted with ${identity}.`);
    this.log('It holds every secret in clear: keep it safe, and delete it once it is imported.');
  }
}
