import type { AuditEventType, VerifyOutcome } from '@totp-service/core';

/**
 * How an audit event is kept in a Redis stream. An event has seven values (type t, user id u,
 * device id dv, actor a, client address ip, outcome o, detail d), most of them short or empty, and
 * a stream stores every entry's field names again whenever they differ from its node's first entry
 * (the events' optional fields made most of them differ). So an event is one field, `e`, holding
 * the seven values in that order joined by SEPARATOR, empty ones at the end left out, with the type
 * and the outcome as the small numbers below: a verify's entry takes about 67 bytes without a
 * client address and 81 with one, instead of 90 and 103 (bench/README.md). A value holding the
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
    return fields;
  }
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return fields;
}

/** An entry id as a user's list of event ids holds it: "<ms>" stands for "<ms>-0". */
export const fullEntryId = (listed: string): string => (listed.includes('-') ? listed : `${listed}-0`);
