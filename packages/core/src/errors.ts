/**
 * The public error codes of the service (docs/api.md, "Error codes"). Every domain error carries one;
 * the server maps them to `extensions.code` in a single module.
 */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  ALREADY_ENROLLED: 'ALREADY_ENROLLED',
  NOT_ENROLLED: 'NOT_ENROLLED',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
  // version 2
  TOO_MANY_DEVICES: 'TOO_MANY_DEVICES',
  EXPORT_DISABLED: 'EXPORT_DISABLED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error meant for the caller: a stable code and a message safe to show (never a secret). */
export class TotpError extends Error {
  override readonly name: string = 'TotpError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The argument at fault, for BAD_USER_INPUT. */
    readonly argument?: string,
  ) {
    super(message);
  }
}

/** Bad input from the caller, naming the argument that is wrong. */
export class InvalidInputError extends TotpError {
  override readonly name = 'InvalidInputError';
  constructor(argument: string, message: string) {
    super(ErrorCode.BAD_USER_INPUT, message, argument);
  }
}

/**
 * A sealed value could not be opened: its key id is not in the key ring, or the ciphertext does
 * not authenticate (tampered, or bound to another user). A fault, never a wrong code.
 */
export class SealError extends Error {
  override readonly name = 'SealError';
  constructor(
    message: string,
    readonly keyId?: string,
  ) {
    super(message);
  }
}
