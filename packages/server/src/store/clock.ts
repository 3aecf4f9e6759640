import { performance } from 'node:perf_hooks';

/**
 * A clock that follows a reference clock (Redis's TIME): read now and then, and followed in
 * between with this process's monotonic clock, so that a change of this machine's wall clock (or a
 * machine whose clock is simply wrong) moves nothing. Until the first reading it is the wall clock.
 */
export class FollowedClock {
  /** The reference's time (epoch ms) at `at`. */
  private base: number | null = null;
  /** performance.now() at which `base` held. */
  private at = 0;
  private skew = 0;

  now(): number {
    return this.base === null ? Date.now() : Math.round(this.base + (performance.now() - this.at));
  }

  /** This process's wall clock minus the reference's, ms, at the last reading. */
  skewMillis(): number {
    return this.skew;
  }

  /** Take a reading: the reference's time is placed at the middle of the round trip that read it. */
  async sync(read: () => Promise<number>): Promise<void> {
    const sent = performance.now();
    const reference = await read();
    const received = performance.now();
    this.base = reference;
    this.at = (sent + received) / 2;
    this.skew = Date.now() - this.now();
  }
}
