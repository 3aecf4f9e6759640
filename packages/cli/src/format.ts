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

/** The fields of a TotpState as aligned lines (status, unlock). */
export function stateBlock(s: {
  userId: string;
  status: string;
  algorithm: string;
  digits: number;
  period: number;
  issuer: string;
  accountName: string;
  createdAt: string;
  activatedAt: string | null;
  lastVerifiedAt: string | null;
  failedAttempts: number;
  lockedUntil: string | null;
  recoveryCodesRemaining: number;
}): string {
  return keyValues([
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
  ]);
}

/** The columns of the audit log, for the table and for CSV. */
export const AUDIT_COLUMNS = ['id', 'at', 'type', 'userId', 'actor', 'clientIp', 'outcome', 'detail'] as const;

interface EventLike {
  id: string;
  at: string;
  type: string;
  userId: string | null;
  actor: string;
  clientIp: string | null;
  outcome: string | null;
  detail: string | null;
}

/** The audit log as a table (the id is left to --json and --csv). */
export function auditTable(events: readonly EventLike[]): string {
  return table(
    ['AT', 'TYPE', 'USER', 'OUTCOME', 'ACTOR', 'CLIENT IP', 'DETAIL'],
    events.map((e) => [time(e.at), e.type, e.userId, e.outcome, e.actor, e.clientIp, e.detail]),
  );
}

/** One audit event on one line, for `--follow`, where later lines cannot realign a table. */
export function auditLine(e: EventLike): string {
  return [
    time(e.at),
    e.type.padEnd(24),
    clean(e.userId ?? '-'),
    e.outcome ?? '',
    `by ${clean(e.actor)}`,
    e.clientIp ? `from ${clean(e.clientIp)}` : '',
    clean(e.detail),
  ]
    .filter(Boolean)
    .join('  ');
}
