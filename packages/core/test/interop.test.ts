/**
 * codeAt against two implementations that share no code with otplib: oathtool (C, OATH Toolkit)
 * and pyotp (Python). Random secrets, all three algorithms, 6-8 digits, 30 and 60 s steps, and
 * times chosen where implementations break: 0, around 2^31 and 2^32, a step number past 2^32,
 * the year 9999.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ALGORITHMS,
  type Algorithm,
  codeAt,
  DIGITS,
  type Digits,
  encodeBase32,
  parseBase32Secret,
  type Period,
  PERIODS,
  SECRET_BYTES,
} from '../src/index.js';
import { runPython } from './support/python.js';
import { requireTool } from '../../../test/support/tools.js';

const oathtool = requireTool('oathtool');
const python = requireTool('pyotp');

interface Case {
  readonly secretHex: string;
  readonly secretBase32: string;
  readonly algorithm: Algorithm;
  readonly digits: Digits;
  readonly period: Period;
  readonly epoch: number;
}

const pick = <T>(xs: readonly T[]): T => xs[randomInt(xs.length)]!;

/** 9999-12-31T23:59:59Z: pyotp goes through datetime, which ends there; oathtool goes on. */
const LAST_PYOTP_SECOND = 253402300799;

const EDGE_TIMES = [
  0, 1, 29, 30, 59, 60, 1111111109, 1700000000,
  2 ** 31 - 31, 2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 2 ** 32 - 1, 2 ** 32,
  20000000000,
  2 ** 32 * 30, // the step number itself passes 2^32 (30 s steps)
  2 ** 32 * 60 + 59, // and with 60 s steps
  LAST_PYOTP_SECOND,
];

function makeCases(): Case[] {
  const times = [
    ...EDGE_TIMES,
    ...Array.from({ length: 10 }, () => 2 ** 31 + randomInt(-5000, 5000)),
    ...Array.from({ length: 20 }, () => randomInt(0, 2 ** 34)),
  ];
  let n = 0;
  return times.flatMap((epoch) =>
    ALGORITHMS.map((algorithm) => {
      // Mostly the size the service generates, sometimes any size an import may bring.
      const size = randomInt(4) === 0 ? randomInt(16, 129) : SECRET_BYTES[algorithm];
      const secret = randomBytes(size);
      n++; // cycles through all 6 digits × period pairs, and with the 3 algorithms, all 18
      return {
        secretHex: secret.toString('hex'),
        secretBase32: encodeBase32(secret),
        algorithm,
        digits: DIGITS[Math.floor(n / 3) % 3]!,
        period: PERIODS[Math.floor(n / 9) % 2]!,
        epoch,
      };
    }),
  );
}

const cases = makeCases();
const ours = (c: Case) => codeAt(Buffer.from(c.secretHex, 'hex'), c.epoch, c);

/** Base32 strings as other systems export them: lengths that are not a multiple of 8, and a last
 * character whose unused low bits are (almost always) not zero. */
const ragged = Array.from({ length: 24 }, (_, i) => {
  const length = [26, 28, 29, 31, 34, 36, 37, 39][i % 8]!;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return Array.from({ length }, () => pick([...alphabet])).join('');
});

const PYOTP_CODES = `
import hashlib, json, sys, pyotp
out = []
for c in json.load(sys.stdin):
    totp = pyotp.TOTP(c['secret'], digits=c['digits'], digest=getattr(hashlib, c['algorithm'].lower()),
                      interval=c['period'])
    out.append(totp.at(c['epoch']))
print(json.dumps(out))
`;

it('covers every algorithm, digits and period combination', () => {
  expect(new Set(cases.map((c) => `${c.algorithm}/${c.digits}/${c.period}`)).size).toBe(3 * 3 * 2);
});

describe.skipIf(!oathtool)('against oathtool', () => {
  const run = (args: string[]) => execFileSync(oathtool!, args, { encoding: 'utf8' }).trim();
  const args = (c: Pick<Case, 'algorithm' | 'digits' | 'period' | 'epoch'>) => [
    `--totp=${c.algorithm.toLowerCase()}`,
    `--digits=${c.digits}`,
    `--time-step-size=${c.period}s`,
    `--now=@${c.epoch}`,
  ];

  it(`computes the same codes (${cases.length} cases, hex keys)`, () => {
    const theirs = cases.map((c) => ({ ...c, code: run([...args(c), c.secretHex]) }));
    expect(cases.map((c) => ({ ...c, code: ours(c) }))).toEqual(theirs);
  });

  it('reads base32 secrets with non-zero trailing bits the way we do', () => {
    const c = { algorithm: 'SHA1', digits: 6, period: 30, epoch: 1700000000 } as const;
    const theirs = ragged.map((s) => ({ s, code: run([...args(c), '--base32', s]) }));
    expect(ragged.map((s) => ({ s, code: codeAt(parseBase32Secret(s), c.epoch, c) }))).toEqual(theirs);
  });
});

describe.skipIf(!python)('against pyotp', () => {
  const inRange = cases.filter((c) => c.epoch <= LAST_PYOTP_SECOND);

  it(`computes the same codes (${inRange.length} cases, base32 secrets)`, () => {
    const input = inRange.map((c) => ({ ...c, secret: c.secretBase32 }));
    const theirs = runPython<string[]>(python!, PYOTP_CODES, input);
    expect(inRange.map((c) => ({ ...c, code: ours(c) }))).toEqual(
      inRange.map((c, i) => ({ ...c, code: theirs[i] })),
    );
  });

  it('reads base32 secrets with non-zero trailing bits the way we do', () => {
    const c = { algorithm: 'SHA256', digits: 8, period: 60, epoch: 2 ** 31 } as const;
    const theirs = runPython<string[]>(python!, PYOTP_CODES, ragged.map((secret) => ({ ...c, secret })));
    const mine = ragged.map((s) => codeAt(parseBase32Secret(s), c.epoch, c));
    expect(ragged.map((s, i) => ({ s, code: mine[i] }))).toEqual(
      ragged.map((s, i) => ({ s, code: theirs[i] })),
    );
  });
});
