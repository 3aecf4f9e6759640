import * as Flags from '@oclif/core/flags';
import * as Args from '@oclif/core/args';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closest, editDistance } from '../src/suggest.js';
import { usageLine } from '../src/usage.js';

const COMMANDS = ['enroll', 'verify', 'revoke', 'status', 'list', 'unlock', 'recovery-codes', 'import', 'rekey', 'audit', 'code', 'keygen', 'help', 'autocomplete', 'version'];

describe('editDistance', () => {
  it.each([
    ['enrol', 'enroll', 1],
    ['rekye', 'rekey', 1],
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
    ['same', 'same', 0],
  ])('%s → %s: %i', (a, b, d) => expect(editDistance(a, b)).toBe(d));

  it('is a distance: zero only for equal words, symmetric, within the longer length', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 }), (a, b) => {
        const d = editDistance(a, b);
        expect(d === 0).toBe(a === b);
        expect(editDistance(b, a)).toBe(d);
        expect(d).toBeLessThanOrEqual(Math.max(a.length, b.length));
      }),
    );
  });
});

describe('closest', () => {
  it.each([
    ['enrol', 'enroll'],
    ['ENROLL', 'enroll'],
    ['verfy', 'verify'],
    ['rekye', 'rekey'],
    ['recovery', 'recovery-codes'],
    ['lsit', 'list'],
    ['hepl', 'help'],
    ['autocompete', 'autocomplete'],
    ['st', 'status'],
  ])('%s → %s', (typed, meant) => expect(closest(typed, COMMANDS)).toBe(meant));

  it.each(['bogus', 'nope', 'x', '', 're', 'deploy'])('%j → nothing', (typed) => expect(closest(typed, COMMANDS)).toBeUndefined());
});

describe('usageLine', () => {
  it('names the arguments and the required flags, and folds the rest into [flags]', () => {
    const shape = {
      args: { userId: Args.string({ required: true }), code: Args.string({ required: false }) },
      flags: { role: Flags.option({ options: ['app', 'admin'] as const, required: true })(), name: Flags.string({ required: true, helpValue: '<name>' }), yes: Flags.boolean() },
      enableJsonFlag: true,
    };
    expect(usageLine('totp-admin', 'thing', shape)).toBe('totp-admin thing <userId> [<code>] --role <app|admin> --name <name> [flags]');
    expect(usageLine('totp-admin', 'thing', { ...shape, flags: {} })).toBe('totp-admin thing <userId> [<code>] [--json]');
  });
});
