import type { AuditEvent, TotpDevice, TotpState } from './schema.js';

/**
 * Human output: every table, key/value block and time the commands print goes through here, so
 * that the commands' run() methods only gather data. Nothing here reads flags or the network.
 */

// C0/C1 controls and the escape character: text from the server (a userId, a revoke reason)
// must not be able to move the cursor, recolour or retitle the operator's terminal.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
// Wide characters (CJK, Hangul, fullwidth forms, most emoji) take two columns in a terminal.
const WIDE = /[\u1100-\u115f\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6\u{1f300}-\u{1f64f}\u{1f900}-\u{1f9ff}\u{20000}-\u{3fffd}]/u;
// eslint-disable-next-line no-control-regex -- ANSI colour sequences start with ESC
const ANSI = /\u001b\[[0-9;]*m/g;

/** A value a table or a key/value block prints: text, a count or a flag; nothing prints empty. */
export type Cell = string | number | boolean | null | undefined;

/** Make a value safe to print on a terminal: control characters become `\xNN`. */
export function clean(value: Cell): string {
  if (value === null || value === undefined) return '';
  return String(value).replace(CONTROL, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The columns a string takes on a terminal (ANSI colours take none, wide characters two). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text.replace(ANSI, '')) width += WIDE.test(ch) ? 2 : 1;
  return width;
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

/** A plain table: upper-case headers, columns two spaces apart, no trailing blanks. */
export function table(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const cells = rows.map((row) => row.map(clean));
  const widths = headers.map((h, i) => Math.max(displayWidth(h), ...cells.map((row) => displayWidth(row[i] ?? ''))));
  const render = (row: readonly string[]): string =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : pad(cell, widths[i]!)))
      .join('  ')
      .trimEnd();
  return [render(headers), ...cells.map(render)].join('\n');
}

/** Aligned `label  value` lines; null and undefined values are left out. */
export function keyValues(pairs: readonly (readonly [string, Cell])[]): string {
  const shown = pairs.filter(([, value]) => value !== null && value !== undefined);
  const width = Math.max(...shown.map(([label]) => label.length));
  return shown.map(([label, value]) => `${label.padEnd(width)}  ${clean(value)}`).join('\n');
}

/** A base32 secret in groups of four, as people read and type it. */
export function groupSecret(secret: string): string {
  return secret.replace(/(.{4})(?=.)/g, '$1 ');
}

/** An ISO time as the server sends it, shortened to the second: `2024-05-01T12:00:03Z`. */
export function time(iso: string | null | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return clean(iso);
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `SHA1, 6 digits, 30 s`: a factor's parameters in one phrase. */
export function params(p: { algorithm: string; digits: number; period: number }): string {
  return `${p.algorithm}, ${p.digits} digits, ${p.period} s`;
}

/** `1 row` / `2 rows`. */
export function plural(count: number, noun: string, pluralNoun = `${noun}s`): string {
  return `${count} ${count === 1 ? noun : pluralNoun}`;
}

/** The widest line of a block of text, in terminal columns. */
export function blockWidth(text: string): number {
  return Math.max(0, ...text.split('\n').map(displayWidth));
}

/** Quote a shell argument only when it needs it, for the commands the CLI suggests. */
export function shellArg(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/** `SHA1/6/30s`: a factor's parameters in a table cell. */
export function shortParams(p: { algorithm: string; digits: number; period: number }): string {
  return `${p.algorithm}/${p.digits}/${p.period}s`;
}

/** `"phone" (id 1)`: a device as messages name it. */
export function deviceLabel(d: { id: string; name: string }): string {
  return `"${clean(d.name)}" (id ${clean(d.id)})`;
}

/** A user's devices, one row each, oldest first as the server lists them (status, devices). */
export function devicesTable(devices: readonly TotpDevice[]): string {
  return table(
    ['ID', 'NAME', 'STATUS', 'CODES', 'CREATED', 'ACTIVATED', 'LAST USED', 'PENDING EXPIRES'],
    devices.map((d) => [
      d.id,
      d.name,
      d.status,
      shortParams(d),
      time(d.createdAt),
      time(d.activatedAt),
      time(d.lastUsedAt) || 'never',
      time(d.pendingExpiresAt),
    ]),
  );
}

/** A TotpState as aligned lines, then its devices as a table (status, unlock). */
export function stateBlock(s: TotpState): string {
  const devices = s.devices.length > 1 ? `${s.devices.length} (the lines above describe the oldest ACTIVE one)` : s.devices.length;
  const block = keyValues([
    ['User', s.userId],
    ['Status', s.status],
    ['Codes', params(s)],
    ['Issuer', s.issuer],
    ['Account', s.accountName],
    ['Created', time(s.createdAt)],
    ['Activated', s.activatedAt ? time(s.activatedAt) : null],
    ['Last verified', s.lastVerifiedAt ? time(s.lastVerifiedAt) : 'never'],
    ['Failed attempts', s.failedAttempts],
    ['Locked until', s.lockedUntil && new Date(s.lockedUntil).getTime() > Date.now() ? time(s.lockedUntil) : null],
    ['Recovery codes', `${s.recoveryCodesRemaining} left`],
    ['Devices', devices],
  ]);
  return s.devices.length === 0 ? block : `${block}\n\n${devicesTable(s.devices)}`;
}

/** The columns of the audit log, for the table and for CSV. */
// deviceId comes last (version 2 added it), so that scripts reading the columns by position keep working.
export const AUDIT_COLUMNS = ['id', 'at', 'type', 'userId', 'actor', 'clientIp', 'outcome', 'detail', 'deviceId'] as const;

/** The audit log as a table (the id is left to --json and --csv). */
export function auditTable(events: readonly AuditEvent[]): string {
  return table(
    ['AT', 'TYPE', 'USER', 'DEVICE', 'OUTCOME', 'ACTOR', 'CLIENT IP', 'DETAIL'],
    events.map((e) => [time(e.at), e.type, e.userId, e.deviceId, e.outcome, e.actor, e.clientIp, e.detail]),
  );
}

/** One audit event on one line, for `--follow`, where later lines cannot realign a table. */
export function auditLine(e: AuditEvent): string {
  return [
    time(e.at),
    e.type.padEnd(24),
    clean(e.userId ?? '-'),
    e.deviceId === null ? '' : `device ${clean(e.deviceId)}`,
    e.outcome ?? '',
    `by ${clean(e.actor)}`,
    e.clientIp ? `from ${clean(e.clientIp)}` : '',
    clean(e.detail),
  ]
    .filter(Boolean)
    .join('  ');
}
