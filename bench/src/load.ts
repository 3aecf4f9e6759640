/**
 * Load generation with autocannon: a fixed number of keep-alive connections, each with one
 * request in flight, every request body made just before it is sent (a different user and code
 * each time) and every response handed back to its maker. Latencies are autocannon's own
 * per-request times (hrtime from write to the end of the response), kept at full precision here
 * rather than in its millisecond histogram.
 */
import autocannon from 'autocannon';

export interface Shot {
  readonly body: string;
  /** Called with the response (status, body). */
  readonly done?: (status: number, body: string) => void;
}

export interface LoadSpec {
  readonly url: string;
  readonly token: string;
  readonly connections: number;
  /** Seconds; the run ends earlier when `amount` responses arrived or the supply ran out. */
  readonly seconds?: number;
  readonly amount?: number;
  /**
   * The next request. `null` means the supply has run out: the run stops, and what is sent while
   * it stops is `filler` (counted, and left out of the figures).
   */
  readonly next: () => Shot | null;
  readonly filler?: () => Shot;
  /**
   * autocannon's `overallRate`: a quota per connection per second, sent back to back (bursts at
   * each second). The benchmark's open loop is open-loop.ts, not this.
   */
  readonly rate?: number;
}

export interface LoadResult {
  /** Answered requests (2xx or not), fillers excluded. */
  readonly requests: number;
  /** From the start to the end, or, when the supply ran out, to the last answer that was not a filler. */
  readonly seconds: number;
  readonly perSecond: number;
  /** Latency percentiles, ms. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly fillers: number;
  readonly exhausted: boolean;
}

interface Ctx {
  done?: ((status: number, body: string) => void) | undefined;
  filler?: boolean;
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  let fillers = 0;
  let exhausted = false;
  let instance: autocannon.Instance | undefined;

  const setupRequest = (req: autocannon.Request, context: Ctx) => {
    let shot = exhausted ? null : spec.next();
    if (shot === null) {
      if (!exhausted) {
        exhausted = true;
        // stop on the next turn: autocannon is still setting this request up
        setImmediate(() => instance?.stop());
      }
      shot = (spec.filler ?? (() => ({ body: '{"query":"{ __typename }"}' })))();
      context.filler = true;
    } else {
      context.filler = false;
    }
    context.done = shot.done;
    return { ...req, body: shot.body };
  };
  const started = process.hrtime.bigint();
  let lastAnswer = started;
  const onResponse = (status: number, body: string, context: Ctx) => {
    context.done?.(status, body);
    if (context.filler) fillers += 1;
    else lastAnswer = process.hrtime.bigint();
  };

  const opts: autocannon.Options = {
    url: spec.url,
    connections: spec.connections,
    pipelining: 1,
    timeout: 30,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${spec.token}` },
    requests: [{ setupRequest, onResponse }],
    ...(spec.amount !== undefined ? { amount: spec.amount } : { duration: spec.seconds ?? 10 }),
    ...(spec.rate !== undefined ? { overallRate: spec.rate } : {}),
  };
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    instance = autocannon(opts, (err, res) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)));
    instance.on('response', (_client, _status, _bytes, ms) => {
      if (count === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[count++] = ms;
    });
  });
  // a run whose supply ran out ends at autocannon's next whole second, fillers meanwhile: its
  // time is up to the last answer of its own, or its rate would count the fillers' time (a run
  // with none, whose supply was empty from the start, keeps its whole time: a rate of 0, not NaN)
  const ended = exhausted && lastAnswer > started ? lastAnswer : process.hrtime.bigint();
  const seconds = Number(ended - started) / 1e9;
  // fillers are the last requests of an exhausted run; their latencies are left out with them
  const kept = latencies.slice(0, Math.max(0, count - fillers)).sort();
  const requests = kept.length;
  return {
    requests,
    seconds,
    perSecond: requests / seconds,
    p50: percentile(kept, 50),
    p90: percentile(kept, 90),
    p99: percentile(kept, 99),
    max: kept.length ? kept[kept.length - 1]! : NaN,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    fillers,
    exhausted,
  };
}
