import { describe } from 'vitest';
import { MemoryStore } from '../src/store/memory-store.js';
import { storeContract } from './contract/index.js';

describe('embedded store', () => {
  storeContract(async (options) => {
    const store = new MemoryStore({ auditMaxEvents: 10_000, auditUserMaxEvents: 1000, ...options });
    return { store, dispose: () => store.close() };
  });
});
