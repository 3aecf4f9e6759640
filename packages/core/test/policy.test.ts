import { describe, expect, it } from 'vitest';
import { clampDrift, DEFAULT_POLICY, lockoutLevels, lockoutMillis, type Policy } from '../src/index.js';

describe('DEFAULT_POLICY', () => {
  it('holds the defaults of docs/api.md and is frozen', () => {
    expect(DEFAULT_POLICY).toMatchObject({
      window: 1,
      maxFailures: 5,
      lockoutSeconds: 60,
      lockoutMaxSeconds: 3600,
      clientLimit: 60,
      pendingTtlSeconds: 900,
      maxDevices: 5,
    });
    expect(Object.isFrozen(DEFAULT_POLICY)).toBe(true);
  });
});

describe('lockoutMillis', () => {
  it('starts at lockoutSeconds and doubles with each earlier lockout', () => {
    expect([0, 1, 2, 3, 4, 5].map((n) => lockoutMillis(DEFAULT_POLICY, n))).toEqual([
      60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000,
    ]);
  });

  it('stops at lockoutMaxSeconds', () => {
    expect(lockoutMillis(DEFAULT_POLICY, 6)).toBe(3_600_000); // 3840 s, capped
    expect(lockoutMillis(DEFAULT_POLICY, 7)).toBe(3_600_000);
    expect(lockoutMillis(DEFAULT_POLICY, 30)).toBe(3_600_000);
    expect(lockoutMillis(DEFAULT_POLICY, 1_000_000)).toBe(3_600_000);
    expect(lockoutMillis(DEFAULT_POLICY, Number.MAX_SAFE_INTEGER)).toBe(3_600_000);
  });

  it('reaches the cap exactly when the doubling meets it', () => {
    const policy: Policy = { ...DEFAULT_POLICY, lockoutSeconds: 15, lockoutMaxSeconds: 120 };
    expect([0, 1, 2, 3, 4].map((n) => lockoutMillis(policy, n))).toEqual([
      15_000, 30_000, 60_000, 120_000, 120_000,
    ]);
  });

  it('treats a negative count as none', () => {
    expect(lockoutMillis(DEFAULT_POLICY, -1)).toBe(60_000);
  });

  it('keeps a huge cap finite', () => {
    const policy: Policy = {
      ...DEFAULT_POLICY,
      lockoutSeconds: 1,
      lockoutMaxSeconds: Number.MAX_SAFE_INTEGER,
    };
    const longest = lockoutMillis(policy, 10_000);
    expect(Number.isFinite(longest)).toBe(true);
    expect(longest).toBe(2 ** 30 * 1000);
  });

  it('never exceeds the cap, also when the first lockout is longer than the cap', () => {
    const policy: Policy = { ...DEFAULT_POLICY, lockoutSeconds: 600, lockoutMaxSeconds: 300 };
    expect(lockoutMillis(policy, 0)).toBe(300_000);
  });
});

describe('clampDrift', () => {
  // `+ 0` folds a -0 into 0: clampDrift may answer -0, which means the same drift.
  const clamp = (policy: Policy, drift: number) => clampDrift(policy, drift) + 0;

  it('keeps a drift within the bound', () => {
    expect([-1, 0, 1].map((d) => clamp(DEFAULT_POLICY, d))).toEqual([-1, 0, 1]);
  });

  it('clamps to ±maxDriftSteps', () => {
    expect(clamp(DEFAULT_POLICY, 5)).toBe(1);
    expect(clamp(DEFAULT_POLICY, -5)).toBe(-1);
    const wide: Policy = { ...DEFAULT_POLICY, maxDriftSteps: 3 };
    expect([-10, -3, -2, 2, 3, 10].map((d) => clamp(wide, d))).toEqual([-3, -3, -2, 2, 3, 3]);
    const none: Policy = { ...DEFAULT_POLICY, maxDriftSteps: 0 };
    expect([-2, 0, 2].map((d) => clamp(none, d))).toEqual([0, 0, 0]);
  });

  it('truncates fractions toward zero', () => {
    const wide: Policy = { ...DEFAULT_POLICY, maxDriftSteps: 3 };
    expect([1.9, -1.9, 0.5, -0.5].map((d) => clamp(wide, d))).toEqual([1, -1, 0, 0]);
  });
});

describe('lockoutLevels', () => {
  it('lists each lockout length until the cap, which then repeats', () => {
    expect(lockoutLevels(DEFAULT_POLICY)).toEqual([60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000]);
    expect(lockoutLevels({ ...DEFAULT_POLICY, lockoutSeconds: 60, lockoutMaxSeconds: 60 })).toEqual([60_000]);
    expect(lockoutLevels({ ...DEFAULT_POLICY, lockoutSeconds: 1, lockoutMaxSeconds: 86_400 * 365 })).toHaveLength(26);
  });
});
