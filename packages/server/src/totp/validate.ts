import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { InvalidInputError, type Digits, type Period } from '@totp-service/core';

/**
 * Checks on the arguments that GraphQL types cannot express. Each failure names its argument
 * (BAD_USER_INPUT) and never echoes a value that might be a secret.
 */

const CONTROL = /\p{Cc}/u;

/** 1 to 256 UTF-8 bytes of well-formed Unicode without control characters; compared byte for byte. */
export function checkUserId(userId: string, argument = 'userId'): string {
  if (typeof userId !== 'string' || userId.length === 0) throw new InvalidInputError(argument, `${argument} must not be empty`);
  if (userId.length > 256 || Buffer.byteLength(userId, 'utf8') > 256) {
    throw new InvalidInputError(argument, `${argument} must be at most 256 bytes of UTF-8`);
  }
  // a lone surrogate would be encoded as U+FFFD, making two ids one
  if (!userId.isWellFormed()) throw new InvalidInputError(argument, `${argument} is not well-formed Unicode`);
  if (CONTROL.test(userId)) throw new InvalidInputError(argument, `${argument} must not contain control characters`);
  return userId;
}

/** A label shown in authenticator apps: 1 to 256 characters, no control characters. */
export function checkLabel(value: string, argument: string): string {
  if (value.length === 0 || value.trim().length === 0) throw new InvalidInputError(argument, `${argument} must not be empty`);
  if (value.length > 256) throw new InvalidInputError(argument, `${argument} must be at most 256 characters`);
  if (!value.isWellFormed() || CONTROL.test(value)) {
    throw new InvalidInputError(argument, `${argument} must be well-formed text without control characters`);
  }
  return value;
}

/** A device's name: 1 to 64 characters of well-formed text without control characters. */
export function checkDeviceName(value: string, argument: string): string {
  if (typeof value !== 'string' || value.trim().length === 0) throw new InvalidInputError(argument, `${argument} must not be empty`);
  if (value.length > 64) throw new InvalidInputError(argument, `${argument} must be at most 64 characters`);
  if (!value.isWellFormed() || CONTROL.test(value)) {
    throw new InvalidInputError(argument, `${argument} must be well-formed text without control characters`);
  }
  return value;
}

/**
 * A device id (the server makes them: '0', '1', …). An ID is opaque to callers, so one that names
 * no device is an answer (revoked: false, NOT_ENROLLED), not an error; only an empty or an
 * over-long one (no id is) is BAD_USER_INPUT. `null` for an id no device can have.
 */
export function checkDeviceId(value: string, argument = 'deviceId'): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) {
    throw new InvalidInputError(argument, `${argument} must be 1-64 characters (devices and their ids are listed in totpStatus)`);
  }
  return /^\d{1,9}$/.test(value) ? value : null;
}

/** Free text for the audit trail (a revoke reason): at most 512 characters, no control characters. */
export function checkNote(value: string | undefined | null, argument: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (value.length > 512) throw new InvalidInputError(argument, `${argument} must be at most 512 characters`);
  if (!value.isWellFormed() || CONTROL.test(value)) {
    throw new InvalidInputError(argument, `${argument} must be well-formed text without control characters`);
  }
  return value;
}

export interface ClientAddress {
  /** As given (for the audit trail). */
  readonly ip: string;
  /** What the rate limit counts: an IPv4 address, or an IPv6 /64 (one subscriber's usual share). */
  readonly budgetKey: string;
}

/**
 * IPv6 prefixes whose last 32 bits are an IPv4 client: IPv4-mapped (::ffff:0:0/96), IPv4-translated
 * (::ffff:0:0:0/96, RFC 6145) and the NAT64 well-known prefix (64:ff9b::/96, RFC 6052). Each such
 * address is that IPv4 client, however it is spelt; otherwise every IPv4 client behind one of them
 * would share the one budget of its /64.
 */
const CARRIES_IPV4: ReadonlySet<string> = new Set(['ipv4Mapped', 'rfc6145', 'rfc6052']);

/** An IPv4 or IPv6 address; anything else is BAD_USER_INPUT. */
export function checkClientIp(value: string | undefined | null): ClientAddress | undefined {
  if (value === undefined || value === null) return undefined;
  const ip = value.trim();
  // Node's parser is the gate (strict: no octal or short IPv4 forms); ipaddr.js reads the 16 bytes
  const kind = ip.length > 64 ? 0 : isIP(ip);
  if (kind === 0) throw new InvalidInputError('clientIp', 'clientIp must be an IPv4 or IPv6 address');
  // Node's IPv4 is four decimals without leading zeros: already the one spelling of the address
  if (kind === 4) return { ip, budgetKey: ip };
  const v6 = ipaddr.IPv6.parse(ip);
  if (CARRIES_IPV4.has(v6.range())) {
    const [a, b, c, d] = v6.toByteArray().slice(12);
    return { ip, budgetKey: `${a}.${b}.${c}.${d}` };
  }
  return { ip, budgetKey: `${v6.parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::/64` };
}

/** A page size: a whole number from 1 to `max`. */
export function checkFirst(first: number | null | undefined, dflt: number, max = 1000): number {
  const n = first ?? dflt;
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidInputError('first', `first must be from 1 to ${max}`);
  return n;
}

/** A time range: each end a valid date, and `since` not after `until`. */
export function checkRange(since: Date | null | undefined, until: Date | null | undefined): { since?: number; until?: number } {
  const ms = (d: Date | null | undefined, argument: string) => {
    if (d === null || d === undefined) return undefined;
    const t = d.getTime();
    if (!Number.isFinite(t)) throw new InvalidInputError(argument, `${argument} is not a valid time`);
    return t;
  };
  const range = { since: ms(since, 'since'), until: ms(until, 'until') };
  if (range.since !== undefined && range.until !== undefined && range.since > range.until) {
    throw new InvalidInputError('until', 'until is earlier than since');
  }
  return { ...(range.since !== undefined ? { since: range.since } : {}), ...(range.until !== undefined ? { until: range.until } : {}) };
}

/** The parameters of a factor: 6, 7 or 8 digits, a period of 30 or 60 seconds. */
export function checkCodeShape(digits: number, period: number): { digits: Digits; period: Period } {
  if (digits !== 6 && digits !== 7 && digits !== 8) throw new InvalidInputError('digits', 'digits must be 6, 7 or 8');
  if (period !== 30 && period !== 60) throw new InvalidInputError('period', 'period must be 30 or 60');
  return { digits, period };
}
