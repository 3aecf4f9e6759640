import { Cluster, type Redis } from 'ioredis';
import { coalesceWrites } from './coalesce.js';

/**
 * Running the scripts as Redis functions (Redis 7: FUNCTION LOAD, FCALL). A script sent by
 * EVALSHA runs its shared preludes (readUser, reserve, settle, …: some forty local functions and
 * tables) on every call before doing its own work; a function library defines them once, when it
 * is loaded. On this project's machine that is 7-11 µs of Redis time a verify out of 45-60
 * (bench/README.md). Redis keeps loaded libraries in its RDB and AOF and sends them to replicas,
 * so a promoted replica has them; a Redis that lost them (a restart without persistence, a new
 * Cluster master, `FUNCTION FLUSH`) answers "Function not found", and the library is loaded then,
 * on every master, and the call sent once more: the call that failed ran nothing, so nothing is
 * counted twice.
 *
 * The library's name and its functions' names carry a hash of its code, so servers of two
 * versions (a rolling deploy) each call their own. Where Redis has no functions (before 7) or the
 * ACL user may not load or call them, the scripts run by EVALSHA, as before (ioredis's defined
 * commands, which load a script on NOSCRIPT).
 *
 * The library's top-level tables are shared by every call: the scripts read them and never write
 * them (a write would carry over to the next call).
 */

type Arg = string | number | Buffer;
type FcallBuffer = { fcallBuffer(fn: string, numKeys: number, ...args: readonly Arg[]): Promise<unknown> };

export interface FunctionLibrary {
  /** `totp_` and the hash of the code: what FUNCTION LIST and FUNCTION DELETE name. */
  readonly name: string;
  /** FUNCTION LOAD's argument: `#!lua name=…` and the code. */
  readonly code: string;
  /** The name a script's function has in this library. */
  readonly functionName: (script: string) => string;
}

const MISSING = /^ERR Function not found/;
const UNSUPPORTED = /^ERR unknown command|^NOPERM/;
const LOADED = /already exists/;

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class ScriptRunner {
  /** False once Redis has refused functions: every later call goes by EVALSHA. */
  private functions = true;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly client: Redis | Cluster,
    private readonly library: FunctionLibrary,
  ) {}

  /** Run a script (`args` its keys, then its arguments); replies as Buffers when `buffers`. */
  async run(script: string, numKeys: number, args: readonly Arg[], buffers: boolean): Promise<unknown> {
    if (!(this.client instanceof Cluster)) coalesceWrites(this.client);
    if (this.functions) {
      try {
        return await this.fcall(script, numKeys, args, buffers);
      } catch (err) {
        const message = messageOf(err);
        if (UNSUPPORTED.test(message)) this.functions = false;
        else if (!MISSING.test(message)) throw err;
        else await this.load();
      }
      if (this.functions) return this.fcall(script, numKeys, args, buffers);
    }
    return this.evalsha(script, args, buffers);
  }

  /** Whether the scripts still run as functions (false after Redis refused them). */
  get usesFunctions(): boolean {
    return this.functions;
  }

  private fcall(script: string, numKeys: number, args: readonly Arg[], buffers: boolean): Promise<unknown> {
    const fn = this.library.functionName(script);
    // ioredis has FCALL's Buffer form at run time (every command has one) but not in its types
    if (buffers) return (this.client as unknown as FcallBuffer).fcallBuffer(fn, numKeys, ...args);
    return this.client.fcall(fn, numKeys, ...args);
  }

  /** ioredis's command of the same name, defined by scripts.ts's defineScripts (EVALSHA). */
  private evalsha(script: string, args: readonly Arg[], buffers: boolean): Promise<unknown> {
    const commands = this.client as unknown as Record<string, (...a: readonly Arg[]) => Promise<unknown>>;
    return commands[buffers ? `${script}Buffer` : script]!(...args);
  }

  /** Loads the library on every master, once for all the calls that found it missing meanwhile. */
  private load(): Promise<void> {
    this.loading ??= this.loadEverywhere().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async loadEverywhere(): Promise<void> {
    const nodes = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
    try {
      await Promise.all(
        nodes.map((node) =>
          node.call('FUNCTION', 'LOAD', this.library.code).catch((err: unknown) => {
            if (!LOADED.test(messageOf(err))) throw err;
          }),
        ),
      );
    } catch (err) {
      if (!UNSUPPORTED.test(messageOf(err))) throw err;
      this.functions = false;
    }
  }
}
