/**
 * makeFormatError (errors.ts), the one place errors become codes: unexpected errors are masked in
 * production and logged, stack traces never leave, domain errors keep their code. Tested on the
 * function itself: no input a client can send makes a resolver throw something unexpected.
 */
import { ErrorCode, InvalidInputError, SealError, TotpError } from '@totp-service/core';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { makeFormatError } from '../src/errors.js';
import { QueryLimitError } from '../src/limits.js';
import { StoreUnavailableError } from '../src/store/store.js';

/** What Apollo hands formatError for an error a resolver threw at `path`. */
function fromResolver(err: Error): [GraphQLFormattedError, unknown] {
  const wrapped = new GraphQLError(err.message, { path: ['verifyTotp'], originalError: err });
  return [{ message: err.message, path: ['verifyTotp'], extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['at x (y.js:1:1)'] } }, wrapped];
}

function format(production: boolean, err: Error) {
  const logged: unknown[] = [];
  const out = makeFormatError({ exposeInternals: !production, onInternalError: (e) => logged.push(e) })(...fromResolver(err));
  return { out, logged };
}

describe('makeFormatError', () => {
  const internal = new TypeError("Cannot read properties of undefined (reading 'sealed') at redis://:hunter2@10.0.0.1");

  it('masks an unexpected error in production, and logs the original', () => {
    const { out, logged } = format(true, internal);
    expect(out).toEqual({ message: 'Internal server error', path: ['verifyTotp'], locations: undefined, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
    expect(logged).toEqual([internal]);
  });

  it('shows its message (never its stack) in development', () => {
    const { out } = format(false, internal);
    expect(out.message).toBe(internal.message);
    expect(out.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
  });

  it('masks a thrown non-Error too', () => {
    const wrapped = new GraphQLError('boom', { path: ['x'], originalError: { weird: true } as unknown as Error });
    const out = makeFormatError({ exposeInternals: true, onInternalError: () => {} })({ message: 'boom', extensions: { code: 'INTERNAL_SERVER_ERROR' } }, wrapped);
    expect(out.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
  });

  it('keeps domain codes and the argument, in production too', () => {
    expect(format(true, new InvalidInputError('userId', 'userId must not be empty')).out).toMatchObject({
      message: 'userId must not be empty',
      extensions: { code: 'BAD_USER_INPUT', argument: 'userId' },
    });
    expect(format(true, new TotpError(ErrorCode.ALREADY_ENROLLED, 'x')).out.extensions).toEqual({ code: 'ALREADY_ENROLLED' });
    expect(format(true, new StoreUnavailableError('connect ECONNREFUSED 10.1.2.3:6379')).out).toMatchObject({
      message: 'the store is unavailable; try again shortly',
      extensions: { code: 'SERVICE_UNAVAILABLE' },
    });
  });

  it('answers a secret that cannot be opened as INTERNAL_SERVER_ERROR, and logs it', () => {
    const { out, logged } = format(true, new SealError('no key "k0" in the key ring', 'k0'));
    expect(out.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
    expect(logged).toHaveLength(1);
  });

  it("drops the stack trace of GraphQL's own errors, keeping their code", () => {
    const err = new GraphQLError('Syntax Error: Unexpected <EOF>.', { extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
    const out = makeFormatError({ exposeInternals: false, onInternalError: () => {} })(
      { message: err.message, extensions: { code: 'GRAPHQL_PARSE_FAILED', stacktrace: ['at parse'] } },
      err,
    );
    expect(out.extensions).toEqual({ code: 'GRAPHQL_PARSE_FAILED' });
  });

  it('gives every limit QUERY_TOO_COMPLEX, the token limit of graphql-js included', () => {
    const f = makeFormatError({ exposeInternals: false, onInternalError: () => {} });
    const limit = new GraphQLError('Query too complex: Aliases limit of 15 exceeded, found 16.', {
      originalError: new QueryLimitError('aliases', 'Query too complex: Aliases limit of 15 exceeded, found 16.'),
    });
    expect(f({ message: limit.message, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }, limit)).toEqual({
      message: 'Query too complex: Aliases limit of 15 exceeded, found 16.',
      extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'aliases' },
    });
    for (const message of ['Syntax Error: Document contains more that 500 tokens. Parsing aborted.', 'Syntax Error: Document contains more than 500 tokens. Parsing aborted.']) {
      const parse = new GraphQLError(message, { extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
      expect(f({ message, extensions: { code: 'GRAPHQL_PARSE_FAILED' } }, parse)).toEqual({
        message: 'Query too complex: Token limit of 500 exceeded.',
        extensions: { code: 'QUERY_TOO_COMPLEX', limit: 'tokens' },
      });
    }
  });
});
