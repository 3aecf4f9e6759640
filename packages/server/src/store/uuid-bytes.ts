/**
 * A user id that is a UUID written in lower or in upper case, as its 16 bytes: audit events
 * (audit-codes.ts) and index members (keys.ts) store such an id in 22 characters of base64url
 * instead of 36, behind a mark of their own that also says which case. A UUID in mixed case is
 * not one of them: it would not read back as the same text.
 */
const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The id's 16 bytes in base64url and its case, or null when it is no UUID in one case. */
export function uuidBytes(id: string): { bytes: string; upper: boolean } | null {
  if (id.length !== 36) return null;
  const lower = id.toLowerCase();
  if (!UUID_SHAPE.test(lower)) return null;
  // all digits reads as lower case
  const upper = lower !== id;
  if (upper && id.toUpperCase() !== id) return null;
  return { bytes: Buffer.from(lower.replaceAll('-', ''), 'hex').toString('base64url'), upper };
}

/** The UUID text back from its bytes (base64url) and its case. */
export function uuidText(bytes: string, upper: boolean): string {
  const hex = Buffer.from(bytes, 'base64url').toString('hex');
  const text = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return upper ? text.toUpperCase() : text;
}
