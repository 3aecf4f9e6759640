import { StoreUnavailableError, type Store } from '../../src/store/store.js';

/** A store whose reserve fails as Redis away would, while `down` is true. */
export function flaky(store: Store): { store: Store; down: boolean } {
  const state = { down: false, store: store };
  state.store = new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (prop !== 'reserve' || typeof value !== 'function') return value;
      return (...args: unknown[]) => (state.down ? Promise.reject(new StoreUnavailableError('store down')) : (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
  return state;
}
