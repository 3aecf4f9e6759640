import type { KeyRing, Policy, VerifyOutcome } from '@totp-service/core';
import type { Metrics } from './metrics.js';
import { recordOutcome } from './observe.js';
import type { Store } from './store/store.js';
import { AdminService } from './totp/admin.service.js';
import { RecoveryService } from './totp/recovery.service.js';
import { makeEncrypter } from './totp/export.js';
import { TotpService } from './totp/totp.service.js';

/** The use cases the resolvers call, built once per server over one store and one clock. */
export interface Services {
  readonly totp: TotpService;
  readonly recovery: RecoveryService;
  readonly admin: AdminService;
}

export interface ServiceDeps {
  readonly store: Store;
  readonly keyRing: KeyRing;
  readonly policy: Policy;
  readonly issuer: string;
  /** Epoch ms: the store's clock (Store.now) in a server, a test's clock in a test. */
  readonly clock: () => number;
  /** Counted when given (a server); tests build services without. */
  readonly metrics?: Metrics;
  /** TOTP_EXPORT_RECIPIENTS: the age recipients export pages are encrypted to (none: export is off). */
  readonly exportRecipients?: readonly string[];
  /** Users whose secrets are held open between verifies (default DEFAULT_SECRET_CACHE; size 0: none). */
  readonly secretCache?: { readonly size: number; readonly seconds: number };
  /** Renders the QR images of an otpauth URI; in this thread unless a pool is given. */
  readonly renderQr?: (uri: string) => Promise<{ dataUrl: string; svg: string }>;
}

/** Every service over the same store, clock and observers (metrics, the request's log line). */
export function buildServices(deps: ServiceDeps): Services {
  const { store, keyRing, clock, metrics } = deps;
  const onVerify = (outcome: VerifyOutcome, kind: 'totp' | 'recovery') => {
    metrics?.onVerify(outcome, kind);
    recordOutcome(outcome);
  };
  const onLockout = () => metrics?.lockouts.inc();
  const totp = new TotpService({
    store,
    keyRing,
    policy: deps.policy,
    issuer: deps.issuer,
    clock,
    onVerify,
    onLockout,
    onEnroll: (devices) => {
      metrics?.enroll.inc();
      metrics?.userDevices.observe(devices);
    },
    onRevoke: (revoked) => metrics?.revoke.inc({ revoked: String(revoked) }),
    ...(deps.renderQr ? { renderQr: deps.renderQr } : {}),
    ...(deps.secretCache ? { secretCache: deps.secretCache } : {}),
    onSecretCache: (result) => metrics?.secretCache.inc({ result }),
  });
  const recovery = new RecoveryService({ store, keyRing, clock, limits: totp.limits, onVerify, onLockout });
  const encrypter = makeEncrypter(deps.exportRecipients ?? []);
  const admin = new AdminService({ store, keyRing, issuer: deps.issuer, clock, maxDevices: deps.policy.maxDevices, encrypter });
  return { totp, recovery, admin };
}
