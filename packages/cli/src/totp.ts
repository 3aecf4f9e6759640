import type * as Core from '@totp-service/core';

/** The part of the core that computes codes locally (`totp-admin code`). */
export type TotpFunctions = Pick<typeof Core, 'parseBase32Secret' | 'codeAt' | 'timeStep'>;

/**
 * Load the core's code functions without its QR renderer: the core's index also loads qrcode
 * and pngjs (about 60 modules), a third of `totp-admin code`'s start-up. The core does not export
 * its modules one by one, so they are found beside its entry point; if that layout ever changes,
 * the whole index is loaded instead, which is only slower.
 */
export async function loadTotp(): Promise<TotpFunctions> {
  try {
    const entry = import.meta.resolve('@totp-service/core');
    const [verify, secret] = (await Promise.all([
      import(new URL('./verify.js', entry).href),
      import(new URL('./secret.js', entry).href),
    ])) as [Partial<TotpFunctions>, Partial<TotpFunctions>];
    const { codeAt, timeStep } = verify;
    const { parseBase32Secret } = secret;
    if (codeAt && timeStep && parseBase32Secret) return { codeAt, timeStep, parseBase32Secret };
  } catch {
    // fall through to the public entry point
  }
  return import('@totp-service/core');
}
