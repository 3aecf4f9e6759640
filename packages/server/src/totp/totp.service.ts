import {
  ErrorCode,
  InvalidInputError,
  TotpError,
  buildKeyUri,
  clampDrift,
  encodeBase32,
  generateSecret,
  normalizeCode,
  renderQr,
  type Algorithm,
  type KeyRing,
  type Policy,
  type VerifyOutcome,
} from '@totp-service/core';
import { newGeneration } from '../store/codec.js';
import type { AttemptLimits, Actor, Store } from '../store/store.js';
import { attemptLimits, runAttempt, runOpenAttempt, verifyResult, type AttemptDeps, type AttemptRequest, type VerifyResult } from './attempt.js';
import { checkCode, holdOpen, markMatches, openCandidates } from './check.js';
import { DEFAULT_SECRET_CACHE, SecretCache } from './secret-cache.js';
import { describe, refusal } from './refusals.js';
import { secretContext, toDeviceView, toState, type TotpDeviceView, type TotpState } from './state.js';
import { checkClientIp, checkCodeShape, checkDeviceId, checkDeviceName, checkLabel, checkNote, checkUserId } from './validate.js';

/**
 * The TOTP use cases: enroll, verify, revoke, status, unlock. Resolvers adapt GraphQL to these;
 * the store keeps state; the core computes. Expected outcomes (a wrong or replayed code, a lockout)
 * are values; only bad input, misconfiguration and a failing store throw.
 */

export interface TotpServiceDeps {
  readonly store: Store;
  readonly keyRing: KeyRing;
  readonly policy: Policy;
  readonly issuer: string;
  /** Epoch ms. */
  readonly clock: () => number;
  /** Observers, for metrics. */
  readonly onVerify?: (outcome: VerifyOutcome, kind: 'totp' | 'recovery') => void;
  readonly onLockout?: () => void;
  /** An enrollment started; `devices` is how many devices the user holds now. */
  readonly onEnroll?: (devices: number) => void;
  readonly onRevoke?: (revoked: boolean) => void;
  /** Renders the QR images of an otpauth URI; in this thread unless the server gives a pool. */
  readonly renderQr?: (uri: string) => Promise<{ dataUrl: string; svg: string }>;
  /** TOTP_SECRET_CACHE_SIZE and _SECONDS: users whose secrets are held open (0: none), and for how long. */
  readonly secretCache?: { readonly size: number; readonly seconds: number };
  /** How verifies found the secret cache: a hit (one round trip), a miss, or a stale entry. */
  readonly onSecretCache?: (result: 'hit' | 'miss' | 'stale') => void;
}

export interface EnrollInput {
  readonly userId: string;
  readonly accountName?: string | null;
  readonly issuer?: string | null;
  readonly algorithm?: Algorithm | null;
  readonly digits?: number | null;
  readonly period?: number | null;
  readonly replace?: boolean | null;
  /** The device to enroll (a new one, or a replacement); default 'default'. */
  readonly deviceName?: string | null;
}

export interface Enrollment {
  readonly userId: string;
  readonly status: 'PENDING';
  readonly secret: string;
  readonly otpauthUri: string;
  readonly qrCodeDataUrl: string;
  readonly qrCodeSvg: string;
  readonly algorithm: Algorithm;
  readonly digits: number;
  readonly period: number;
  readonly issuer: string;
  readonly accountName: string;
  readonly expiresAt: Date;
  readonly deviceId: string;
  readonly deviceName: string;
}

export class TotpService {
  readonly limits: AttemptLimits;
  private readonly attempts: AttemptDeps;
  /** Only over a store that can take a whole attempt in one round trip. */
  private readonly cache: SecretCache | undefined;
  /** False once the store said it cannot count a client address in the same round trip (a Cluster). */
  private oneTripWithClient = true;

  constructor(private readonly deps: TotpServiceDeps) {
    this.limits = attemptLimits(deps.policy);
    this.attempts = { store: deps.store, limits: this.limits, clock: deps.clock, onLockout: deps.onLockout };
    const { size, seconds } = deps.secretCache ?? DEFAULT_SECRET_CACHE;
    if (deps.store.attempt && size > 0) this.cache = new SecretCache(size, seconds * 1000, deps.clock);
  }

  async enroll(actor: Actor, input: EnrollInput): Promise<Enrollment> {
    const userId = checkUserId(input.userId);
    const algorithm = input.algorithm ?? 'SHA1';
    const { digits, period } = checkCodeShape(input.digits ?? 6, input.period ?? 30);
    const issuer = checkLabel(input.issuer ?? this.deps.issuer, 'issuer');
    const accountName = checkLabel(input.accountName ?? userId, 'accountName');
    const deviceName = checkDeviceName(input.deviceName ?? 'default', 'deviceName');

    const secret = generateSecret(algorithm);
    const now = this.deps.clock();
    const expiresAt = now + this.deps.policy.pendingTtlSeconds * 1000;
    const result = await this.deps.store.enroll({
      userId,
      deviceName,
      maxDevices: this.deps.policy.maxDevices,
      factor: {
        sealed: this.deps.keyRing.seal(secret, secretContext(userId)),
        generation: newGeneration(),
        createdAt: now,
        algorithm,
        digits,
        period,
        issuer,
        accountName,
      },
      replace: input.replace ?? false,
      now,
      expiresAt,
      actor,
    });
    if (!result.ok) {
      secret.fill(0);
      throw refusal(result, userId, deviceName, this.deps.policy.maxDevices);
    }
    this.deps.onEnroll?.(result.devices);
    const base32 = encodeBase32(secret);
    secret.fill(0);
    const otpauthUri = buildKeyUri({ secret: base32, issuer, accountName, algorithm, digits, period });
    const { dataUrl: qrCodeDataUrl, svg: qrCodeSvg } = await (this.deps.renderQr ?? renderQr)(otpauthUri);
    return {
      userId,
      status: 'PENDING',
      secret: base32,
      otpauthUri,
      qrCodeDataUrl,
      qrCodeSvg,
      algorithm,
      digits,
      period,
      issuer,
      accountName,
      expiresAt: new Date(expiresAt),
      deviceId: result.deviceId,
      deviceName: result.deviceName,
    };
  }

  /** The verify path of docs/architecture.md: shape check, reserve, compare in process, settle. */
  async verify(actor: Actor, rawUserId: string, rawCode: string, rawClientIp?: string | null): Promise<VerifyResult> {
    const userId = checkUserId(rawUserId);
    const client = checkClientIp(rawClientIp);
    const who: Actor = { name: actor.name, clientIp: client?.ip ?? actor.clientIp };
    const code = normalizeCode(rawCode);
    if (code === null) return this.result('MALFORMED');

    const req: AttemptRequest = { userId, clientBudgetKey: client?.budgetKey, actor: who, codeLength: code.length };
    const result = (await this.openAttempt(req, code)) ?? (await runAttempt(this.attempts, req, (r, now) => this.check(req, r.candidates, code, now)));
    // the drift the store now holds for that device, as settle wrote it: the next marks go around it
    if (result.deviceId !== null && result.driftSteps !== null) {
      this.cacheFor(req)?.learnDrift(userId, result.deviceId, clampDrift(this.deps.policy, result.driftSteps));
    }
    this.deps.onVerify?.(result.outcome, 'totp');
    return result;
  }

  /** One round trip when the user's secrets are held open; null to take two. */
  private async openAttempt(req: AttemptRequest, code: string): Promise<VerifyResult | null> {
    const cache = this.cacheFor(req);
    if (!cache) return null;
    const held = cache.get(req.userId, code.length, this.deps.clock());
    if (!held) {
      this.deps.onSecretCache?.('miss');
      return null;
    }
    const { policy } = this.deps;
    const result = await runOpenAttempt(this.attempts, req, {
      window: policy.window,
      driftBound: policy.maxDriftSteps,
      matches: (now) => markMatches(policy, held.secrets, code, now),
    });
    if (result === 'unsupported') {
      this.oneTripWithClient = false;
      return null;
    }
    this.deps.onSecretCache?.(result === 'stale' ? 'stale' : 'hit');
    if (result !== 'stale') return result;
    cache.delete(req.userId);
    return null;
  }

  /** Between the two round trips: open the secrets, check the code, and hold the secrets open for the user's next verify. */
  private check(req: AttemptRequest, candidates: Parameters<typeof openCandidates>[2], code: string, now: number) {
    const open = openCandidates(this.deps.keyRing, req.userId, candidates);
    const cache = this.cacheFor(req);
    if (!cache) {
      try {
        return checkCode(this.deps.policy, open, code, now);
      } finally {
        for (const o of open) o.secret.fill(0);
      }
    }
    // the memos made before the check, so that the codes it computes are the next verify's too
    const held = holdOpen(this.deps.policy, open);
    try {
      return checkCode(this.deps.policy, open, code, now, held.map((s) => s.codes));
    } finally {
      cache.set(req.userId, code.length, held, now);
    }
  }

  /** The cache, if this request can be decided in one round trip: none on a Cluster for a request with a client address. */
  private cacheFor(req: AttemptRequest): SecretCache | undefined {
    return req.clientBudgetKey === undefined || this.oneTripWithClient ? this.cache : undefined;
  }

  private result(outcome: VerifyOutcome): VerifyResult {
    this.deps.onVerify?.(outcome, 'totp');
    return verifyResult(outcome);
  }

  /** Everything the user has, or (with `deviceId`) that device only; the last device takes everything. */
  async revoke(actor: Actor, rawUserId: string, rawReason?: string | null, rawDeviceId?: string | null): Promise<boolean> {
    const userId = checkUserId(rawUserId);
    const reason = checkNote(rawReason, 'reason');
    const deviceId = rawDeviceId === undefined || rawDeviceId === null ? undefined : checkDeviceId(rawDeviceId);
    if (deviceId === null) return false;
    // what the user held is no use to anyone now (the store would find it stale anyway)
    this.cache?.delete(userId);
    const revoked = await this.deps.store.revoke({ userId, now: this.deps.clock(), actor, reason, deviceId });
    this.deps.onRevoke?.(revoked);
    return revoked;
  }

  async status(rawUserId: string): Promise<TotpState | null> {
    const userId = checkUserId(rawUserId);
    const record = await this.deps.store.getUser(userId, this.deps.clock());
    return record && toState(record);
  }

  /** renameTotpDevice: NOT_ENROLLED for a device the user does not have, BAD_USER_INPUT for a name in use. */
  async renameDevice(actor: Actor, rawUserId: string, rawDeviceId: string, rawName: string): Promise<TotpDeviceView> {
    const userId = checkUserId(rawUserId);
    const deviceId = checkDeviceId(rawDeviceId);
    const name = checkDeviceName(rawName, 'name');
    if (deviceId === null) throw new TotpError(ErrorCode.NOT_ENROLLED, `${describe(userId)} has no device "${rawDeviceId.slice(0, 64)}"`);
    const r = await this.deps.store.renameDevice({ userId, deviceId, name, now: this.deps.clock(), actor });
    if (!r.ok && r.reason === 'NAME_TAKEN') throw new InvalidInputError('name', `${describe(userId)} already has a device named "${name}"`);
    const device = r.ok ? r.record.devices.find((d) => d.id === deviceId) : undefined;
    if (!device) throw new TotpError(ErrorCode.NOT_ENROLLED, `${describe(userId)} has no device "${deviceId}"`);
    return toDeviceView(device);
  }

  async unlock(actor: Actor, rawUserId: string): Promise<TotpState | null> {
    const userId = checkUserId(rawUserId);
    const record = await this.deps.store.unlock({ userId, now: this.deps.clock(), actor });
    return record && toState(record);
  }
}
