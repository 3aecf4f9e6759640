import { pino, type Logger } from 'pino';

/**
 * Structured JSON logs. Anything that could carry a secret is redacted by path, whatever the
 * call site passes: tokens, codes, secrets, recovery codes, Authorization headers.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'token',
  'secret',
  'code',
  'codes',
  'variables.code',
  'variables.secret',
  'variables.input.secret',
  '*.token',
  '*.secret',
  '*.code',
];

/**
 * A logger writing to `destination`, or asynchronously to stdout; `flush()` writes out what is
 * buffered (call it before process.exit).
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const stream = destination ?? pino.destination({ dest: 1, sync: false });
  const logger = pino(
    {
      level,
      base: { service: 'totp-service' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream as pino.DestinationStream,
  );
  return logger;
}

/** Write out buffered log lines synchronously (before exiting). */
export function flushLogs(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as { flushSync?: () => void } | undefined;
  try {
    stream?.flushSync?.();
  } catch {
    /* nothing buffered, or the stream is gone */
  }
}

export type { Logger };
