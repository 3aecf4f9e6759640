import { ErrorCode, SealError, TotpError } from '@totp-service/core';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { withoutValues } from './graphql-messages.js';
import { QUERY_TOO_COMPLEX, QueryLimitError } from './limits.js';
import { StoreUnavailableError } from './store/store.js';

/**
 * The one place where failures become GraphQL errors with `extensions.code`. Domain errors keep
 * their code and message; a failing store is SERVICE_UNAVAILABLE; anything unexpected is masked
 * as INTERNAL_SERVER_ERROR (its details go to the log, not to the client).
 */

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  SERVICE_UNAVAILABLE: 503,
};

/** Turn a domain error into a GraphQLError (for errors raised outside resolvers, e.g. in context). */
export function toGraphQLError(err: TotpError): GraphQLError {
  const status = HTTP_STATUS[err.code];
  return new GraphQLError(err.message, {
    extensions: {
      code: err.code,
      ...(err.argument ? { argument: err.argument } : {}),
      ...(status ? { http: { status } } : {}),
    },
  });
}

export interface FormatOptions {
  /** Development: keep internal messages (never in production). */
  readonly exposeInternals: boolean;
  /** Called with every error that was masked, for the log. */
  readonly onInternalError: (err: unknown) => void;
}

export function makeFormatError(opts: FormatOptions) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const base = { message: formatted.message, locations: formatted.locations, path: formatted.path };
    if (original instanceof TotpError) {
      return {
        ...base,
        message: original.message,
        extensions: { code: original.code, ...(original.argument ? { argument: original.argument } : {}) },
      };
    }
    if (original instanceof StoreUnavailableError) {
      return { ...base, message: 'the store is unavailable; try again shortly', extensions: { code: ErrorCode.SERVICE_UNAVAILABLE } };
    }
    if (original instanceof SealError) {
      opts.onInternalError(original);
      return { ...base, message: original.message, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } };
    }
    const limit = queryLimit(error, formatted);
    if (limit) return { message: limit.message, extensions: { code: QUERY_TOO_COMPLEX, limit: limit.limit } };
    // GraphQL's and Apollo's own errors about the request (parse, validation, variables) keep
    // their codes; the stack trace goes, and so does any value they quote (a secret sent unquoted)
    const code = formatted.extensions?.code;
    if (original instanceof GraphQLError && typeof code === 'string' && code !== ErrorCode.INTERNAL_SERVER_ERROR) {
      const { stacktrace: _drop, ...extensions } = formatted.extensions ?? {};
      return { ...base, message: withoutValues(original, code), extensions };
    }
    opts.onInternalError(original);
    return {
      ...base,
      message: opts.exposeInternals && original instanceof Error ? original.message : 'Internal server error',
      extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR },
    };
  };
}

/** graphql-js's parser aborts a document over `maxTokens` with this message ("more that" in 16.x). */
const TOKEN_LIMIT = /^Syntax Error: Document contains more th(?:an|at) (\d+) tokens\./;

/** A rejection by one of the limits of limits.ts, whichever step raised it. */
function queryLimit(error: unknown, formatted: GraphQLFormattedError): { message: string; limit: string } | null {
  if (error instanceof GraphQLError && error.originalError instanceof QueryLimitError) {
    return { message: error.originalError.message, limit: error.originalError.limit };
  }
  const tokens = formatted.extensions?.code === 'GRAPHQL_PARSE_FAILED' ? TOKEN_LIMIT.exec(formatted.message) : null;
  return tokens ? { message: `Query too complex: Token limit of ${tokens[1]} exceeded.`, limit: 'tokens' } : null;
}
