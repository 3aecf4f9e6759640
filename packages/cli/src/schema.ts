import type { Algorithm, AuditEventType, VerifyOutcome } from '@totp-service/core';

/**
 * The types of the public schema (docs/api.md, "GraphQL schema", and "Several devices per user")
 * as the CLI asks for them: a field the CLI does not select is left out, and a nullable field is
 * `| null`, as the server sends it.
 */

// The enums are the core's, so that a value the server adds (an audit event type) reaches the CLI
// with the next build instead of being refused by a stale copy. Types only: loading the core's
// code (otplib) is left to the commands that compute codes or filter by audit event type.
export type { AuditEventType, VerifyOutcome };
export type TotpAlgorithm = Algorithm;
export type TotpStatus = 'PENDING' | 'ACTIVE';

export interface EnrollTotpInput {
  userId: string;
  accountName?: string;
  issuer?: string;
  algorithm?: TotpAlgorithm;
  digits?: number;
  period?: number;
  replace?: boolean;
  /** The server's default is `default`, the one device of a version 1 client. */
  deviceName?: string;
}

export interface ImportTotpInput {
  userId: string;
  secret: string;
  accountName?: string;
  issuer?: string;
  algorithm?: TotpAlgorithm;
  digits?: number;
  period?: number;
  deviceName?: string;
  /** ISO time: the steps that start at or before it count as used. */
  lastUsedAt?: string;
}

/** TotpEnrollment without the two QR renderings: the CLI draws its own from `otpauthUri`. */
export interface TotpEnrollment {
  userId: string;
  status: TotpStatus;
  secret: string;
  otpauthUri: string;
  algorithm: TotpAlgorithm;
  digits: number;
  period: number;
  issuer: string;
  accountName: string;
  expiresAt: string | null;
  /** The device enrolled: a new one, or the one whose secret is replaced. */
  deviceId: string;
  deviceName: string;
}

export interface VerifyTotpResult {
  valid: boolean;
  outcome: VerifyOutcome;
  activated: boolean;
  retryAfterSeconds: number | null;
  remainingAttempts: number | null;
  driftSteps: number | null;
  /** With ACCEPTED: the device whose code it was. */
  deviceId: string | null;
  deviceName: string | null;
}

/** One of a user's authenticators, each with its own secret. */
export interface TotpDevice {
  /** Made by the server, stable, unique within the user. */
  id: string;
  /** The operator's or the application's label, unique within the user. */
  name: string;
  status: TotpStatus;
  algorithm: TotpAlgorithm;
  digits: number;
  period: number;
  issuer: string;
  accountName: string;
  createdAt: string;
  activatedAt: string | null;
  lastUsedAt: string | null;
  /** When its pending secret (a new device's, or a replacement's) lapses unconfirmed. */
  pendingExpiresAt: string | null;
}

export interface TotpState {
  userId: string;
  status: TotpStatus;
  algorithm: TotpAlgorithm;
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
  /** Every device, oldest first; the fields above describe the oldest ACTIVE one (else the pending one). */
  devices: TotpDevice[];
}

export interface AuditEvent {
  id: string;
  at: string;
  type: AuditEventType;
  userId: string | null;
  actor: string;
  clientIp: string | null;
  outcome: VerifyOutcome | null;
  detail: string | null;
  /** On every event about one device. */
  deviceId: string | null;
}

export interface PageInfo {
  endCursor: string | null;
  hasNextPage: boolean;
}

export interface Connection<T> {
  nodes: T[];
  pageInfo: PageInfo;
}

export interface RecoveryCodes {
  codes: string[];
  generatedAt: string;
}

export interface RekeyResult {
  rekeyed: number;
  activeKeyId: string;
}

export interface AuditFilter {
  userId?: string;
  types?: AuditEventType[];
  since?: string;
  until?: string;
}

/** exportTotp: one page, an ASCII-armored age file, and how many factors it holds. */
export interface TotpExportPage {
  ciphertext: string;
  count: number;
  pageInfo: PageInfo;
}

export interface EncryptionKeyUsage {
  keyId: string;
  sealedValues: number;
  configured: boolean;
  active: boolean;
}

/**
 * One device in an export's plaintext (docs/api.md "Moving factors out and in"): the fields every
 * version 1 export has. The CLI writes the entries as the server made them, fields it does not
 * know included.
 */
export interface ExportedFactor {
  userId: string;
  deviceId: string;
  deviceName: string;
  status: TotpStatus;
  secret: string;
  algorithm: TotpAlgorithm;
  digits: number;
  period: number;
  issuer: string;
  accountName: string;
  lastUsedAt: string | null;
  createdAt: string;
  activatedAt: string | null;
  [field: string]: unknown;
}
