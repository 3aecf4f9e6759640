import { timingSafeEqual } from 'node:crypto';
import { ErrorCode, TotpError } from '@totp-service/core';
import { sha256, type ApiKey, type Role } from './config.js';

/** Who is calling: the API key's name (the audit trail's actor) and its role. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
}

const MAX_TOKEN = 512;

/**
 * Authenticate an `Authorization: Bearer <token>` header against the configured keys. The token is
 * hashed and compared with every key's digest in constant time, without stopping at a match, so
 * neither a prefix nor which key matched shows in the timing.
 */
export function authenticate(header: string | undefined, keys: readonly ApiKey[]): Principal {
  const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (!m || m[1]!.length > MAX_TOKEN) {
    throw new TotpError(
      ErrorCode.UNAUTHENTICATED,
      header === undefined ? 'missing Authorization: Bearer <token>' : 'malformed Authorization header: expected Bearer <token>',
    );
  }
  const digest = sha256(m[1]!);
  let found: ApiKey | undefined;
  for (const key of keys) {
    if (timingSafeEqual(digest, key.digest) && !found) found = key;
  }
  if (!found) throw new TotpError(ErrorCode.UNAUTHENTICATED, 'unknown API token');
  return { name: found.name, role: found.role };
}

/** Whether a role may run an operation that needs `required`. */
export function allows(role: Role, required: Role): boolean {
  return role === 'admin' || required === 'app';
}
