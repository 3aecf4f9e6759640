import type { AuditEventType, VerifyOutcome } from '@totp-service/core';
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { uuidBytes, uuidText } from './uuid-bytes.js';

/**
 * How an audit event is kept in a Redis stream. An event has seven values (type t, user id u,
 * device id dv, actor a, client address ip, outcome o, detail d), most of them short or empty, and
 * a stream stores every entry's field names again whenever they differ from its node's first entry
 * (the events' optional fields made most of them differ). So an event is one field, `e`, holding
 * the seven values in that order joined by SEPARATOR, empty ones at the end left out, with the type
 * and the outcome as the small numbers below: a verify's entry takes about 67 bytes without a
 * client address and 81 with one, instead of 90 and 103; a UUID user id and an IPv4 client address
 * written shorter (compactUserId, compactClientIp) take about 20 bytes more off (bench/README.md:
 * one more event of a user, 75 bytes in all, 95.5 before). A value holding the
 * separator (the service refuses control characters in every text it records, so none should) is
 * written the older way, a field per value, which is also how every event written before this
 * form is kept: readers take both (`auditFields`). scripts/_audit.lua writes the same order.
 *
 * The numbers are stored: never change or reuse one; a new type or outcome takes the next.
 */
const TYPE_CODES = {
  ENROLLED: 1,
  ACTIVATED: 2,
  VERIFY: 3,
  REVOKED: 4,
  LOCKED: 5,
  UNLOCKED: 6,
  RECOVERY_CODES_GENERATED: 7,
  RECOVERY_CODE_USED: 8,
  IMPORTED: 9,
  REKEYED: 10,
  EXPORTED: 11,
  DEVICE_RENAMED: 12,
} as const satisfies Record<AuditEventType, number>;

const OUTCOME_CODES = {
  ACCEPTED: 1,
  INVALID_CODE: 2,
  REPLAYED: 3,
  LOCKED: 4,
  RATE_LIMITED: 5,
  NOT_ENROLLED: 6,
  MALFORMED: 7,
} as const satisfies Record<VerifyOutcome, number>;

/** The packed event's one field name, and the separator of its values (ASCII unit separator). */
const PACKED_FIELD = 'e';
export const SEPARATOR = '\x1f';
/** The order of the packed values. */
const PACKED_ORDER = ['t', 'u', 'dv', 'a', 'ip', 'o', 'd'] as const;

const invert = (codes: Record<string, number>): ReadonlyMap<string, string> => new Map(Object.entries(codes).map(([name, n]) => [String(n), name]));
const TYPE_NAMES = invert(TYPE_CODES);
const OUTCOME_NAMES = invert(OUTCOME_CODES);

const luaTable = (codes: Record<string, number>): string => `{${Object.entries(codes).map(([name, n]) => `${name} = ${n}`).join(', ')}}`;

/** The two tables as Lua, put before scripts/_audit.lua: one source for the numbers. */
export function auditCodesLua(): string {
  return `local AUDIT_TYPE_CODES = ${luaTable(TYPE_CODES)}\nlocal AUDIT_OUTCOME_CODES = ${luaTable(OUTCOME_CODES)}`;
}

/**
 * Two values most events carry are written shorter when they have a usual shape, as a marker and
 * their bytes in base64url: a user id that is a UUID (23 characters instead of 36) and a client
 * address in its usual spelling (an IPv4 address in 7 instead of up to 15; an IPv6 address in 23,
 * when its text is longer). The markers are control characters, which no recorded text holds (the
 * service refuses them in every text it records), so a marked value is never a caller's text. Only
 * a value that reads back as exactly the same text is shortened: an address spelt otherwise (a
 * zone, an IPv4 tail, capitals, zeros a shorter form drops) or a UUID of mixed case is written as
 * it is. The markers are stored: never change or reuse one.
 */
const MARK = { uuid: '\x01', UUID: '\x02', ipv4: '\x03', ipv6: '\x04' } as const;

/** A user id as an event stores it: a UUID in lower or upper case shortened, anything else as it is. */
export function compactUserId(userId: string): string {
  const uuid = uuidBytes(userId);
  return uuid ? (uuid.upper ? MARK.UUID : MARK.uuid) + uuid.bytes : userId;
}

/** A client address as an event stores it: shortened when it reads back as the same text. */
export function compactClientIp(ip: string): string {
  if (isIPv4(ip)) {
    const bytes = ip.split('.').map(Number);
    return bytes.join('.') === ip ? MARK.ipv4 + Buffer.from(bytes).toString('base64url') : ip;
  }
  if (ip.length <= 23 || !isIPv6(ip) || ip.includes('%')) return ip;
  const addr = ipaddr.IPv6.parse(ip);
  return addr.toRFC5952String() === ip ? MARK.ipv6 + Buffer.from(addr.toByteArray()).toString('base64url') : ip;
}

/** A stored user id or client address as its text, whichever form it was written in. */
export function expandValue(stored: string): string {
  const bytes = (): Buffer => Buffer.from(stored.slice(1), 'base64url');
  switch (stored[0]) {
    case MARK.uuid:
    case MARK.UUID:
      return uuidText(stored.slice(1), stored[0] === MARK.UUID);
    case MARK.ipv4:
      return [...bytes()].join('.');
    case MARK.ipv6:
      return new ipaddr.IPv6([...bytes()]).toRFC5952String();
    default:
      return stored;
  }
}

/** A number read back as its name; anything else (an older event's name) as it is. */
const named = (value: string, names: ReadonlyMap<string, string>): string => names.get(value) ?? value;

/**
 * An entry's fields ([field, value, …] as XRANGE gives them) by name, empty values left out,
 * whichever form it was written in.
 */
export function auditFields(flat: readonly string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  if (flat.length === 2 && flat[0] === PACKED_FIELD) {
    const values = flat[1]!.split(SEPARATOR);
    PACKED_ORDER.forEach((name, i) => {
      const v = values[i];
      if (v) fields[name] = name === 't' ? named(v, TYPE_NAMES) : name === 'o' ? named(v, OUTCOME_NAMES) : v;
    });
  } else {
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  }
  if (fields.u) fields.u = expandValue(fields.u);
  if (fields.ip) fields.ip = expandValue(fields.ip);
  return fields;
}

/** An entry id as a user's list of event ids holds it: "<ms>" stands for "<ms>-0". */
export const fullEntryId = (listed: string): string => (listed.includes('-') ? listed : `${listed}-0`);
