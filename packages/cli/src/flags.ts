import * as Flags from '@oclif/core/flags';
import { usageError } from './errors.js';
import type { TotpAlgorithm } from './operations.js';

/** Flags shared by several commands, each validated here so that a wrong value exits with 2. */

const ALGORITHMS: readonly TotpAlgorithm[] = ['SHA1', 'SHA256', 'SHA512'];

export const algorithmFlag = Flags.custom<TotpAlgorithm>({
  description: 'HMAC algorithm of the codes',
  helpValue: '<sha1|sha256|sha512>',
  parse: async (input) => parseAlgorithm(input, '--algorithm'),
});

export const digitsFlag = Flags.custom<number>({
  description: 'digits per code',
  helpValue: '<6|7|8>',
  parse: async (input) => parseChoice(input, '--digits', [6, 7, 8]),
});

export const periodFlag = Flags.custom<number>({
  description: 'seconds each code lasts',
  helpValue: '<30|60>',
  parse: async (input) => parseChoice(input, '--period', [30, 60]),
});

/** `sha256`, `SHA256` or `sha-256` → `SHA256`. */
export function parseAlgorithm(input: string, what: string): TotpAlgorithm {
  const value = input.trim().toUpperCase().replace('-', '');
  if ((ALGORITHMS as readonly string[]).includes(value)) return value as TotpAlgorithm;
  throw usageError(`${what} ${JSON.stringify(input)} must be sha1, sha256 or sha512`);
}

export function parseChoice(input: string, what: string, choices: readonly number[]): number {
  const value = Number(input.trim());
  if (/^\d+$/.test(input.trim()) && choices.includes(value)) return value;
  throw usageError(`${what} ${JSON.stringify(input)} must be ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`);
}

/** Hidden: how many nodes to ask for per page (tests use it to make several pages). */
export const pageSizeFlag = Flags.integer({ hidden: true, default: 100, min: 1, max: 100, description: 'nodes per page' });
