import type * as Core from '@totp-service/core';

/** The part of the core that computes codes locally (`totp-admin code`). */
export type TotpFunctions = Pick<typeof Core, 'parseBase32Secret' | 'codeAt' | 'timeStep'>;

/** Load the core on demand: commands that never compute a code do not pay for it. */
export function loadTotp(): Promise<TotpFunctions> {
  return import('@totp-service/core');
}
