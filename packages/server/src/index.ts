/**
 * @totp-service/server as a library: build the service in your own process (createServer over a
 * store from connectStore, with a configuration from loadConfig or your own), or only its use cases
 * (buildServices). main.ts is the same wiring, from the environment.
 */
import 'reflect-metadata';

export { createServer, type ServerDeps, type TotpServer } from './server.js';
export { buildServices, type Services, type ServiceDeps } from './services.js';
export { loadConfig, parseApiKeys, sha256, ConfigError, type Config, type ApiKey, type Role } from './config.js';
export { createLogger, REDACT_PATHS, type Logger } from './logger.js';
export { connectStore, FAIL_FAST, clusterOptions } from './store/connect.js';
export { MemoryStore } from './store/memory-store.js';
export { RedisStore } from './store/redis-store.js';
export * from './store/store.js';
/** The Redis key layout (for tools and tests that inspect a store). */
export * as keys from './store/keys.js';
/** How an audit event and a user's list of event ids are kept on Redis (for the same). */
export { auditFields, fullEntryId } from './store/audit-codes.js';
export type { VerifyResult } from './totp/attempt.js';
export type { TotpState } from './totp/state.js';
