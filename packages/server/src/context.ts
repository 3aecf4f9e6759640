import type { Principal } from './auth.js';
import type { AdminService } from './totp/admin.service.js';
import type { RecoveryService } from './totp/recovery.service.js';
import type { TotpService } from './totp/totp.service.js';

/** What every resolver receives: the authenticated caller and the services. */
export interface Context {
  readonly principal: Principal;
  readonly totp: TotpService;
  readonly recovery: RecoveryService;
  readonly admin: AdminService;
}
