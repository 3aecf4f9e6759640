import { randomBytes } from 'node:crypto';
import { newGeneration } from '../../src/store/codec.js';
import { afterEach, beforeEach } from 'vitest';
import { DEFAULT_POLICY, KeyRing, codeAtStep, parseBase32Secret, type Policy, type TotpParams } from '@totp-service/core';
import type { Store, StoreOptions } from '../../src/store/store.js';
import { buildServices } from '../../src/services.js';
import { TotpService } from '../../src/totp/totp.service.js';
import type { AdminService } from '../../src/totp/admin.service.js';
import type { RecoveryService } from '../../src/totp/recovery.service.js';
import { secretContext } from '../../src/totp/state.js';

/** A store made fresh for one test, and how to throw it away. */
export interface StoreHandle {
  readonly store: Store;
  dispose(): Promise<void>;
}
/** A fresh store; `options` sets its audit caps (small ones, to see trimming). */
export type StoreFactory = (options?: Partial<StoreOptions>) => Promise<StoreHandle>;

/** A clock the test moves. Starts 5 s into a 60 s boundary (so 30 s and 60 s steps align) near now. */
export class TestClock {
  now: number;
  constructor() {
    this.now = (Math.floor(Date.now() / 60_000) + 1) * 60_000 + 5_000;
  }
  readonly read = () => this.now;
  advance(ms: number): void {
    this.now += ms;
  }
  /** The time-step number of the clock for a period. */
  step(period = 30): number {
    return Math.floor(this.now / 1000 / period);
  }
}

/** A key ring that counts how often a secret is opened: how many codes were really checked. */
export class CountingKeyRing extends KeyRing {
  unseals = 0;
  override unseal(sealed: Uint8Array, context: string): Uint8Array {
    this.unseals += 1;
    return super.unseal(sealed, context);
  }
}

export const APP = { name: 'test-app' } as const;
export const ADMIN = { name: 'test-admin' } as const;

/** The test key ring's keys. */
export const K1 = { id: 'k1', key: Buffer.alloc(32, 7) };
export const K2 = { id: 'k2', key: Buffer.alloc(32, 8) };

export interface Harness {
  readonly store: Store;
  readonly clock: TestClock;
  readonly keyRing: CountingKeyRing;
  readonly policy: Policy;
  readonly service: TotpService;
  readonly recovery: RecoveryService;
  readonly admin: AdminService;
  /** Enroll a user; returns the secret bytes and parameters. */
  enroll(userId: string, input?: Partial<Parameters<TotpService['enroll']>[1]>): Promise<{ secret: Uint8Array; params: TotpParams }>;
  /** Enroll and confirm with a code of the current step. */
  activate(userId: string, input?: Partial<Parameters<TotpService['enroll']>[1]>): Promise<{ secret: Uint8Array; params: TotpParams }>;
  /** The code of `secret` at the clock's step + offset. */
  code(f: { secret: Uint8Array; params: TotpParams }, offset?: number): string;
  verify(userId: string, code: string, clientIp?: string): ReturnType<TotpService['verify']>;
  /**
   * Enroll through the store port directly (SHA1, 6 digits, 30 s), skipping the QR rendering
   * that makes enrollTotp slow: for tests that need many users. PENDING unless `active`.
   */
  seed(userId: string, active?: boolean): Promise<{ secret: Uint8Array; params: TotpParams }>;
}

/**
 * A fresh store and harness for every test of the enclosing describe, disposed after it: `assign`
 * receives them before each test (so test bodies keep using their own `h` and `handle`).
 */
export function freshPerTest(
  factory: StoreFactory,
  assign: (fresh: { handle: StoreHandle; h: Harness }) => void,
  overrides: Partial<Policy> = {},
): void {
  let handle: StoreHandle | undefined;
  beforeEach(async () => {
    handle = await factory();
    assign({ handle, h: makeHarness(handle.store, overrides) });
  });
  afterEach(() => handle?.dispose());
}

export function makeHarness(store: Store, overrides: Partial<Policy> = {}, keyRing?: CountingKeyRing, sharedClock?: TestClock): Harness {
  const clock = sharedClock ?? new TestClock();
  const ring = keyRing ?? new CountingKeyRing([K1]);
  const policy = Object.freeze({ ...DEFAULT_POLICY, ...overrides });
  const { totp: service, recovery, admin } = buildServices({ store, keyRing: ring, policy, issuer: 'Test Issuer', clock: clock.read });
  const h: Harness = {
    store,
    clock,
    keyRing: ring,
    policy,
    service,
    recovery,
    admin,
    async enroll(userId, input = {}) {
      const e = await service.enroll(APP, { userId, ...input });
      return { secret: parseBase32Secret(e.secret), params: { algorithm: e.algorithm, digits: e.digits as 6, period: e.period as 30 } };
    },
    async activate(userId, input = {}) {
      const f = await h.enroll(userId, input);
      const r = await h.verify(userId, h.code(f));
      if (r.outcome !== 'ACCEPTED') throw new Error(`activation failed: ${r.outcome}`);
      // later codes of the test come from later steps
      clock.advance(f.params.period * 1000);
      return f;
    },
    code(f, offset = 0) {
      return codeAtStep(f.secret, clock.step(f.params.period) + offset, f.params);
    },
    verify(userId, code, clientIp) {
      return service.verify(APP, userId, code, clientIp);
    },
    async seed(userId, active = false) {
      const secret = randomBytes(20);
      const params = { algorithm: 'SHA1', digits: 6, period: 30 } as const;
      const now = clock.now;
      const r = await store.enroll({
        userId,
        deviceName: 'default',
        maxDevices: policy.maxDevices,
        factor: { sealed: ring.seal(secret, secretContext(userId)), generation: newGeneration(), createdAt: now, ...params, issuer: 'Seed', accountName: userId },
        replace: false,
        now,
        expiresAt: now + policy.pendingTtlSeconds * 1000,
        actor: APP,
        mode: active ? 'active' : 'pending',
      });
      if (!r.ok) throw new Error(`seed ${userId}: ${r.reason}`);
      return { secret, params };
    },
  };
  return h;
}

/**
 * A second service on the harness's store, key ring and clock that holds no secret open: each of
 * its verifies takes the two round trips and opens the secrets it reserved (the harness's own
 * service holds a user's secrets open after a verify, and its next verifies take one round trip).
 */
export function secretsClosed(h: Harness): TotpService {
  return new TotpService({ store: h.store, keyRing: h.keyRing, policy: h.policy, issuer: 'x', clock: h.clock.read, secretCache: { size: 0, seconds: 1 } });
}

/** A code that is not `code` and has its length. */
export function wrongCode(code: string): string {
  return code
    .split('')
    .map((d) => String((Number(d) + 1) % 10))
    .join('');
}
