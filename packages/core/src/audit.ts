/**
 * The kinds of event the audit trail records (the GraphQL enum AuditEventType), in one list that
 * the server's schema and store and the CLI's filters all use.
 */
export const AUDIT_EVENT_TYPES = [
  'ENROLLED',
  'ACTIVATED',
  'VERIFY',
  'REVOKED',
  'LOCKED',
  'UNLOCKED',
  'RECOVERY_CODES_GENERATED',
  'RECOVERY_CODE_USED',
  'IMPORTED',
  'REKEYED',
  // version 2
  'EXPORTED',
  'DEVICE_RENAMED',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];
