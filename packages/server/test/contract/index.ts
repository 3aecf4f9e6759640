import { auditContract } from './audit.contract.js';
import { devicesContract } from './devices.contract.js';
import { enrollContract } from './enroll.contract.js';
import { importContract } from './import.contract.js';
import { keysContract } from './keys.contract.js';
import { listingContract } from './listing.contract.js';
import { openSecretsContract } from './open-secrets.contract.js';
import { outboxContract } from './outbox.contract.js';
import type { StoreFactory } from './harness.js';
import { racesContract } from './races.contract.js';
import { recoveryContract } from './recovery.contract.js';
import { rekeyContract } from './rekey.contract.js';
import { verifyContract } from './verify.contract.js';

export type { StoreFactory, StoreHandle } from './harness.js';

/** The store contract: one suite, run on every store (embedded, Redis, Redis Cluster). */
export function storeContract(factory: StoreFactory): void {
  enrollContract(factory);
  verifyContract(factory);
  devicesContract(factory);
  racesContract(factory);
  openSecretsContract(factory);
  recoveryContract(factory);
  importContract(factory);
  listingContract(factory);
  auditContract(factory);
  rekeyContract(factory);
  keysContract(factory);
  outboxContract(factory);
}
