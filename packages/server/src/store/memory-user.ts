import { DEVICE_FIELDS, PENDING_FIELDS, fieldOf, num, pendingLapsed, splitRecord, text } from './codec.js';

/**
 * A user's hash in the embedded store: the same flat fields as on Redis (codec.ts), with the
 * operations of scripts/_user.lua, so that each port of a script reads like the script.
 */
export type Fields = Record<string, Buffer | string>;

/** A device as read: its id and its fields (without prefix). A snapshot: writes go through the hash. */
export interface Device {
  readonly id: string;
  readonly f: Readonly<Record<string, Buffer | string | undefined>>;
}

export const deviceName = (d: Device): string => text(d.f.nm) ?? 'default';
export const isActive = (d: Device): boolean => d.f.s !== undefined;

export class UserHash {
  constructor(readonly fields: Fields) {}

  /** readUser + dropLapsed of _user.lua: the devices left, oldest first; a lapsed pending secret is removed. */
  devices(now: number): Device[] {
    for (const [id, f] of splitRecord(this.fields).devices) {
      if (pendingLapsed(f, now)) this.drop(id, f.s !== undefined ? PENDING_FIELDS : DEVICE_FIELDS);
    }
    return [...splitRecord(this.fields).devices].filter(([, f]) => f.s !== undefined || f.ps !== undefined).map(([id, f]) => ({ id, f }));
  }

  device(id: string): Device {
    return { id, f: splitRecord(this.fields).devices.get(id) ?? {} };
  }

  /** A device's field: '' or undefined deletes it (what is not stored reads as its default). */
  put(deviceId: string, field: string, value: Buffer | string | number | undefined): void {
    this.user(fieldOf(deviceId, field), value);
  }

  drop(deviceId: string, fields: readonly string[]): void {
    for (const f of fields) delete this.fields[fieldOf(deviceId, f)];
  }

  /** A field of the user's own: '' or undefined deletes it. */
  user(field: string, value: Buffer | string | number | undefined): void {
    if (value === undefined || value === '') delete this.fields[field];
    else this.fields[field] = typeof value === 'number' ? String(value) : value;
  }

  num(field: string): number {
    return num(this.fields[field]) ?? 0;
  }
}
