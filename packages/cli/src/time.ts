import { usageError } from './errors.js';

/** Seconds per unit of a span: `30s`, `15m`, `24h`, `7d`, `2w`. */
const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };
const SPAN = /^(?:\d+[smhdw])+$/;
const SPAN_PART = /(\d+)([smhdw])/g;
// An ISO-8601 date, optionally with a time and a zone; a time without a zone is read as UTC.
const ISO = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** The length of a span like `15m`, `24h`, `7d` or `1h30m`, in seconds; null if it is not one. */
export function parseSpan(text: string): number | null {
  const input = text.trim().toLowerCase();
  if (!SPAN.test(input)) return null;
  let seconds = 0;
  for (const [, amount, unit] of input.matchAll(SPAN_PART)) seconds += Number(amount) * UNIT_SECONDS[unit as string]!;
  return seconds;
}

/**
 * A moment given on the command line: an ISO-8601 time (UTC unless it names a zone), a span
 * before `now` (`15m` is fifteen minutes ago), or `now`. Anything else is wrong usage naming `flag`.
 */
export function parseMoment(text: string, flag: string, now: Date = new Date()): Date {
  const input = text.trim();
  if (input.toLowerCase() === 'now') return now;
  const span = parseSpan(input);
  if (span !== null) return new Date(now.getTime() - span * 1000);
  const iso = ISO.exec(input);
  if (iso) {
    const hasTime = /[T ]/i.test(input);
    const normalized = input.replace(' ', 'T') + (hasTime && !iso[1] ? 'Z' : '');
    const date = new Date(normalized);
    if (!Number.isNaN(date.getTime())) return date;
  }
  throw usageError(
    `${flag} ${JSON.stringify(text)} is neither an ISO-8601 time nor a span`,
    `use e.g. ${flag} 2024-05-01T12:00:00Z, ${flag} 15m, ${flag} 24h or ${flag} 7d`,
  );
}
