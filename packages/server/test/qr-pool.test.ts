/**
 * The QR worker pool serves renders in the order they were asked for. Under a steady stream (each
 * finished enrollment followed at once by the next, as from many app servers), a render that
 * found the worker busy used to go back to the end of the queue, so the first ones of a burst
 * waited until the stream stopped (seconds to half a minute in the benchmark).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createQrPool } from '../src/qr-pool.js';

describe('the QR worker pool', () => {
  const pool = createQrPool(1);
  afterAll(() => pool.close());

  it('renders in turn under a steady stream of requests', async () => {
    const loops = 16;
    const total = 96;
    let asked = 0;
    const askedAt: number[] = [];
    const doneAt: number[] = [];
    let finished = 0;
    await Promise.all(
      Array.from({ length: loops }, async () => {
        while (asked < total) {
          const n = asked++;
          askedAt[n] = finished;
          const images = await pool.render(`otpauth://totp/Test:user-${n}?secret=JBSWY3DPEHPK3PXP&issuer=Test`);
          expect(images.dataUrl).toMatch(/^data:image\/png;base64,/);
          doneAt[n] = finished++;
        }
      }),
    );
    // a render waits for at most the renders asked for before it (one per loop), never for the
    // stream of those asked after it
    const waited = doneAt.map((d, n) => d - askedAt[n]!);
    expect(Math.max(...waited)).toBeLessThanOrEqual(loops);
  }, 60_000);
});
