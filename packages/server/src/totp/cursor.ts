import { createHash } from 'node:crypto';
import { InvalidInputError } from '@totp-service/core';

/**
 * Opaque page cursors. A cursor holds the position after which the next page starts (an audit
 * event id, or an enrollment's index member) and the scope of the query that made it: the
 * connection and, for the audit log, whose events. A cursor of another connection or of another
 * user's events, or anything that is not a cursor at all, is refused as BAD_USER_INPUT naming
 * `after`; a position is never trusted to be more than a position.
 */

export type CursorKind = 'audit' | 'enrollments' | 'export';

const QUERY_OF: Readonly<Record<CursorKind, string>> = { audit: 'auditEvents', enrollments: 'totpEnrollments', export: 'exportTotp' };

const VERSION = 1;
const MAX_LENGTH = 1024;

/** The scope of an audit query: everyone's events, or one user's (by a digest of the id). */
export function auditScope(userId: string | undefined): string {
  return userId === undefined ? '*' : createHash('sha256').update(userId, 'utf8').digest('base64url').slice(0, 16);
}

export function encodeCursor(kind: CursorKind, scope: string, position: string): string {
  return Buffer.from(JSON.stringify([VERSION, kind, scope, position]), 'utf8').toString('base64url');
}

/** The position held by `cursor`, which must come from a query of this kind and scope. */
export function decodeCursor(cursor: string, kind: CursorKind, scope: string): string {
  const bad = (why: string) => new InvalidInputError('after', `after ${why}; pass a pageInfo.endCursor of the same query`);
  if (cursor.length === 0 || cursor.length > MAX_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad('is not a cursor');
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw bad('is not a cursor');
  }
  if (!Array.isArray(parts) || parts.length !== 4 || parts[0] !== VERSION || typeof parts[3] !== 'string') throw bad('is not a cursor');
  // exactly as this module writes it: no trailing characters, no other spelling of the same bytes
  if (encodeCursor(parts[1] as CursorKind, String(parts[2]), parts[3]) !== cursor) throw bad('is not a cursor');
  if (parts[1] !== kind) throw bad(`is a cursor of ${QUERY_OF[parts[1] as CursorKind] ?? 'another query'}`);
  if (parts[2] !== scope) throw bad('is a cursor of another query');
  return parts[3];
}
