/**
 * A setting that cannot be used: main.ts prints it as one line naming the variable and exits 2.
 * Its own module so that the modules config.ts reads from (tracing.ts) can throw it without an
 * import cycle.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}
