import { availableParallelism } from 'node:os';
import { renderQr, type QrImages } from '@totp-service/core';
import { Piscina } from 'piscina';

/**
 * QR codes are rendered on worker threads. A PNG costs about 8 ms of CPU; rendered on the main
 * thread, a burst of enrollments would stall every request in flight for as long (long enough for
 * Redis replies to miss their timeout), so an app key could slow everyone's logins by enrolling.
 */

export interface QrRenderer {
  readonly render: (uri: string) => Promise<QrImages>;
  close(): Promise<void>;
}

/** Render in this thread (tests, and `threads: 0`). */
export const inlineQrRenderer: QrRenderer = { render: renderQr, close: async () => {} };

/** A pool of worker threads running core's renderQr; one fewer than the cores, at least one. */
export function createQrPool(threads = Math.max(1, availableParallelism() - 1)): QrRenderer {
  if (threads <= 0) return inlineQrRenderer;
  const pool = new Piscina<string, QrImages>({
    filename: import.meta.resolve('@totp-service/core/qr-task'),
    minThreads: 1,
    maxThreads: threads,
    // a burst waits its turn rather than growing memory without bound
    maxQueue: 1000,
    // in turn: by default a task that finds the worker busy goes back to the END of the queue, so
    // under a steady stream of enrollments the oldest ones waited until the stream stopped
    // (30 s and more in the benchmark, with one worker)
    stricterFIFO: true,
    idleTimeout: 60_000,
  });
  return {
    render: (uri) => pool.run(uri),
    close: () => pool.destroy(),
  };
}
