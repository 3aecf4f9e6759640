import type { Principal } from './auth.js';
import type { TotpService } from './totp/totp.service.js';

/** What every resolver receives: the authenticated caller and the services. */
export interface Context {
  readonly principal: Principal;
  readonly totp: TotpService;
}
