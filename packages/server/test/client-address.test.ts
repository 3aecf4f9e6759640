import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkClientIp } from '../src/totp/validate.js';

const key = (ip: string) => checkClientIp(ip)!.budgetKey;
const hex = (n: number) => n.toString(16);

/** Every way of writing one IPv4 client, IPv4-mapped and NAT64 spellings included. */
function spellings([a, b, c, d]: number[]): string[] {
  const hi = hex((a! << 8) | b!);
  const lo = hex((c! << 8) | d!);
  const dotted = `${a}.${b}.${c}.${d}`;
  return [
    dotted,
    `::ffff:${dotted}`,
    `::FFFF:${dotted}`,
    `0:0:0:0:0:ffff:${dotted}`,
    `0000:0000:0000:0000:0000:FFFF:${dotted}`,
    `::ffff:${hi}:${lo}`,
    `0:0:0:0:0:ffff:${hi}:${lo}`,
    `::ffff:0:${dotted}`,
    `64:ff9b::${dotted}`,
    `64:ff9b::${hi}:${lo}`,
  ];
}

describe('client address budgets', () => {
  it('count an IPv4 client as itself, however it is written', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), (octets) => {
        const all = spellings(octets).map(key);
        expect(new Set(all)).toEqual(new Set([octets.join('.')]));
      }),
    );
  });

  it('count an IPv6 client by its /64, however it is written', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), (groups) => {
        fc.pre(groups[0] !== 0 && groups[0] !== 0x64);
        const full = groups.map(hex).join(':');
        const padded = groups.map((g) => hex(g).padStart(4, '0').toUpperCase()).join(':');
        const other = [...groups.slice(0, 4), 0, 0, 0, 1].map(hex).join(':');
        expect(key(padded)).toBe(key(full));
        expect(key(other)).toBe(key(full));
        expect(key(full)).toBe(`${groups.slice(0, 4).map(hex).join(':')}::/64`);
      }),
    );
  });

  it('keep the loopback, the unspecified address and mapped clients apart', () => {
    expect(key('::1')).toBe('0:0:0:0::/64');
    expect(key('::')).toBe('0:0:0:0::/64');
    expect(key('::ffff:a00:1')).toBe('10.0.0.1');
    expect(key('::ffff:102:304')).toBe('1.2.3.4');
    expect(key('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(checkClientIp('  192.0.2.1 ')).toEqual({ ip: '192.0.2.1', budgetKey: '192.0.2.1' });
  });

  it('refuses what is not an address', () => {
    for (const ip of ['', 'localhost', '1.2.3', '01.2.3.4', '300.1.1.1', '::ffff:300.1.1.1', '1::2::3', 'x'.repeat(100)]) {
      expect(() => checkClientIp(ip), ip).toThrow(/clientIp/);
    }
  });
});
