import type { Encrypter } from 'age-encryption';
import { ErrorCode, InvalidInputError, SealError, TotpError, parseBase32Secret, type Algorithm, type KeyRing } from '@totp-service/core';
import { newGeneration } from '../store/codec.js';
import type { Actor, AuditEvent, AuditEventType, EnrollmentStatus, Store } from '../store/store.js';
import { auditScope, decodeCursor, encodeCursor } from './cursor.js';
import { rekeyAll, type RekeyFailure } from './rekey.js';
import { secretContext, toState, type TotpState } from './state.js';
import { exportedFactors, sealPage } from './export.js';
import { keyReport, type EncryptionKeyUsage } from './keys.js';
import { refusal } from './refusals.js';
import { checkCodeShape, checkDeviceName, checkFirst, checkLabel, checkRange, checkUserId } from './validate.js';

/**
 * The operators' use cases (admin keys): listing enrollments, reading the audit log, importing
 * factors from another system, and re-sealing every secret with a new key.
 */

export interface AdminServiceDeps {
  readonly store: Store;
  readonly keyRing: KeyRing;
  readonly issuer: string;
  readonly clock: () => number;
  /** TOTP_MAX_DEVICES. */
  readonly maxDevices: number;
  /** Encrypts export pages to TOTP_EXPORT_RECIPIENTS; null when export is off. */
  readonly encrypter?: Encrypter | null;
}

export interface ExportPage {
  readonly ciphertext: string;
  readonly count: number;
  readonly pageInfo: { readonly endCursor: string | null; readonly hasNextPage: boolean };
}

export interface ImportInput {
  readonly userId: string;
  readonly secret: string;
  readonly accountName?: string | null;
  readonly issuer?: string | null;
  readonly algorithm?: Algorithm | null;
  readonly digits?: number | null;
  readonly period?: number | null;
  /** The device to import into; default 'default'. */
  readonly deviceName?: string | null;
  /** Steps that start at or before this count as used (REPLAYED): replay protection across the move. */
  readonly lastUsedAt?: Date | null;
}

export interface Connection<T> {
  readonly nodes: readonly T[];
  readonly pageInfo: { readonly endCursor: string | null; readonly hasNextPage: boolean };
}

export interface AuditArgs {
  readonly userId?: string | null;
  readonly types?: readonly AuditEventType[] | null;
  readonly since?: Date | null;
  readonly until?: Date | null;
  readonly first?: number | null;
  readonly after?: string | null;
}

export type AuditEventView = Omit<AuditEvent, 'at'> & { readonly at: Date };

export class AdminService {
  constructor(private readonly deps: AdminServiceDeps) {}

  /** importTotp: an existing secret becomes an ACTIVE factor at once (recorded as IMPORTED). */
  async importTotp(actor: Actor, input: ImportInput): Promise<TotpState> {
    const userId = checkUserId(input.userId);
    const algorithm = input.algorithm ?? 'SHA1';
    const { digits, period } = checkCodeShape(input.digits ?? 6, input.period ?? 30);
    const issuer = checkLabel(input.issuer ?? this.deps.issuer, 'issuer');
    const accountName = checkLabel(input.accountName ?? userId, 'accountName');
    const deviceName = checkDeviceName(input.deviceName ?? 'default', 'deviceName');
    const now = this.deps.clock();
    const lastStepAt = checkLastUsed(input.lastUsedAt, now);
    const secret = parseBase32Secret(input.secret, 'secret');
    const sealed = this.deps.keyRing.seal(secret, secretContext(userId));
    secret.fill(0);
    const result = await this.deps.store.enroll({
      userId,
      deviceName,
      maxDevices: this.deps.maxDevices,
      factor: { sealed, generation: newGeneration(), createdAt: now, algorithm, digits, period, issuer, accountName },
      replace: false,
      now,
      expiresAt: now,
      actor,
      mode: 'active',
      lastStepAt,
      detail: `${algorithm}, ${digits} digits, ${period} s`,
    });
    if (!result.ok && result.reason === 'TOO_MANY_DEVICES') throw refusal(result, userId, deviceName, this.deps.maxDevices);
    if (!result.ok) {
      const which = deviceName === 'default' ? 'an active factor' : `an active device named "${deviceName}"`;
      throw new TotpError(ErrorCode.ALREADY_ENROLLED, `this user already has ${which}; revoke it first to import another`);
    }
    const record = await this.deps.store.getUser(userId, now);
    if (!record) throw new Error('an imported factor was not found right after the import');
    return toState(record);
  }

  /** totpEnrollments. */
  async enrollments(args: { status?: EnrollmentStatus | null; first?: number | null; after?: string | null }): Promise<Connection<TotpState>> {
    const first = checkFirst(args.first, 50);
    const status = args.status ?? null;
    const scope = status ?? 'ALL';
    const after = args.after === undefined || args.after === null ? null : decodeCursor(args.after, 'enrollments', scope);
    const page = await this.deps.store.enrollments({ status, first, after, now: this.deps.clock() });
    return {
      nodes: page.nodes.map(toState),
      pageInfo: { endCursor: page.endCursor === null ? null : encodeCursor('enrollments', scope, page.endCursor), hasNextPage: page.hasNextPage },
    };
  }

  /**
   * exportTotp: the next `first` users' factors (every device of each, of `status` when given),
   * encrypted to the configured age recipients; each page recorded as one EXPORTED event.
   */
  async exportTotp(actor: Actor, args: { status?: EnrollmentStatus | null; first?: number | null; after?: string | null }): Promise<ExportPage> {
    const encrypter = this.deps.encrypter ?? null;
    if (!encrypter) await sealPage(null, []);
    const first = checkFirst(args.first, 1000);
    const status = args.status ?? null;
    const scope = status ?? 'ALL';
    const after = args.after === undefined || args.after === null ? null : decodeCursor(args.after, 'export', scope);
    const now = this.deps.clock();
    const page = await this.deps.store.enrollments({ status: null, first, after, now });
    const factors = exportedFactors(this.deps.keyRing, page.nodes, status);
    const ciphertext = await sealPage(encrypter, factors);
    const detail = `${factors.length} factor${factors.length === 1 ? '' : 's'} of ${page.nodes.length} user${page.nodes.length === 1 ? '' : 's'}${status ? ` (${status})` : ''}`;
    await this.deps.store.recordEvent({ type: 'EXPORTED', now, actor, detail });
    return {
      ciphertext,
      count: factors.length,
      pageInfo: { endCursor: page.endCursor === null ? null : encodeCursor('export', scope, page.endCursor), hasNextPage: page.hasNextPage },
    };
  }

  /** encryptionKeys: every configured key and every key the store's sealed values need, with counts. */
  async encryptionKeys(): Promise<EncryptionKeyUsage[]> {
    return keyReport(this.deps.keyRing, await this.deps.store.keyUsage());
  }

  /** auditEvents: newest first. */
  async auditEvents(args: AuditArgs): Promise<Connection<AuditEventView>> {
    const first = checkFirst(args.first, 100);
    const userId = args.userId === undefined || args.userId === null ? undefined : checkUserId(args.userId);
    const range = checkRange(args.since, args.until);
    const scope = auditScope(userId);
    const after = args.after === undefined || args.after === null ? undefined : decodeCursor(args.after, 'audit', scope);
    const page = await this.deps.store.auditEvents({ userId, types: args.types ?? undefined, ...range, first, after });
    return {
      nodes: page.nodes.map((e) => ({ ...e, at: new Date(e.at) })),
      pageInfo: { endCursor: page.endCursor === null ? null : encodeCursor('audit', scope, page.endCursor), hasNextPage: page.hasNextPage },
    };
  }

  /**
   * rekeyTotp. Every value that can be opened is re-sealed, also when some cannot; those are then
   * reported in one error naming the key(s) missing from TOTP_ENCRYPTION_KEYS. Either way the
   * run is recorded as one REKEYED event.
   */
  async rekey(actor: Actor): Promise<{ rekeyed: number; activeKeyId: string }> {
    const { store, keyRing } = this.deps;
    const report = await rekeyAll(store, keyRing, this.deps.clock);
    const kid = keyRing.activeKeyId;
    const problem = report.failures.length > 0 ? describeFailures(report.failures) : '';
    const detail = `${report.rewritten} sealed values re-sealed with key "${kid}"${problem ? `; ${problem}` : ''}`;
    await store.recordEvent({ type: 'REKEYED', now: this.deps.clock(), actor, detail });
    if (problem) {
      throw new SealError(
        `${problem}; the other ${report.rewritten} were re-sealed with "${kid}". Add the missing key to TOTP_ENCRYPTION_KEYS (after "${kid}") and run rekeyTotp again`,
        report.failures[0]!.error.keyId,
      );
    }
    return { rekeyed: report.rewritten, activeKeyId: kid };
  }
}

/** lastUsedAt as the last used step's start (epoch s); a time to come is refused (the factor could not be used until then). */
function checkLastUsed(lastUsedAt: Date | null | undefined, now: number): number | null {
  if (lastUsedAt === undefined || lastUsedAt === null) return null;
  const t = lastUsedAt.getTime();
  if (!Number.isFinite(t)) throw new InvalidInputError('lastUsedAt', 'lastUsedAt is not a valid time');
  if (t > now + 60_000) throw new InvalidInputError('lastUsedAt', 'lastUsedAt is in the future');
  return Math.floor(Math.max(0, t) / 1000);
}

/** "3 sealed values could not be opened: 2 sealed with key "k0", which is not in …". */
function describeFailures(failures: readonly RekeyFailure[]): string {
  const byReason = new Map<string, number>();
  for (const f of failures) byReason.set(f.error.message, (byReason.get(f.error.message) ?? 0) + 1);
  const reasons = [...byReason].map(([message, count]) => `${count} ${message}`).join('; ');
  return `${failures.length} sealed value${failures.length === 1 ? '' : 's'} could not be opened (${reasons})`;
}
