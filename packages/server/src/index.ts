import 'reflect-metadata';

export { createServer, type ServerDeps, type TotpServer } from './server.js';
export { loadConfig, parseApiKeys, sha256, ConfigError, type Config, type ApiKey, type Role } from './config.js';
export { createLogger, REDACT_PATHS, type Logger } from './logger.js';
export { MemoryStore } from './store/memory-store.js';
export { RedisStore, Redis, Cluster } from './store/redis-store.js';
export { connectStore, FAIL_FAST } from './store/connect.js';
export * from './store/store.js';
export * as keys from './store/keys.js';
export { TotpService } from './totp/totp.service.js';
