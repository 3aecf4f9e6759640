/**
 * @totp-service/core: the pure TOTP domain. No network, no files, no clock: time is a parameter.
 */
export { ErrorCode, TotpError, InvalidInputError, SealError } from './errors.js';
export {
  ALGORITHMS,
  DIGITS,
  PERIODS,
  SECRET_BYTES,
  MIN_SECRET_BYTES,
  MAX_SECRET_BYTES,
  DEFAULT_POLICY,
  lockoutMillis,
  lockoutLevels,
  clampDrift,
  type Algorithm,
  type Digits,
  type Period,
  type Policy,
} from './policy.js';
export { AUDIT_EVENT_TYPES, type AuditEventType } from './audit.js';
export { generateSecret, encodeBase32, parseBase32Secret } from './secret.js';
export { buildKeyUri, type KeyUriParams } from './uri.js';
export { qrPngDataUrl, qrPng, qrSvg, qrTerminal } from './qr.js';
export { default as renderQr, type QrImages } from './qr-task.js';
export { KeyRing, keyIdOf, parseKeyRing, type SealKey } from './seal.js';
export {
  VerifyOutcome,
  normalizeCode,
  timeStep,
  codeAtStep,
  codeAt,
  matchCode,
  matchSteps,
  StepCodes,
  type TotpParams,
  type MatchInput,
  type CodeMatch,
} from './verify.js';
