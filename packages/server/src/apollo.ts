import type { Server } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import type { GraphQLSchema } from 'graphql';
import type { Context } from './context.js';
import { makeFormatError } from './errors.js';
import type { graphqlLimits } from './limits.js';
import type { Logger } from './logger.js';
import { operationPlugin, recordError } from './observe.js';

export interface ApolloOptions {
  /** buildTotpSchema's, shared with the direct verify path (direct-verify.ts). */
  readonly schema: GraphQLSchema;
  /** graphqlLimits()'s, shared likewise. */
  readonly limits: ReturnType<typeof graphqlLimits>;
  readonly httpServer: Server;
  readonly logger: Logger;
  /** NODE_ENV=production: no introspection, no internals in errors. */
  readonly production: boolean;
  /** How long a stop lets requests in flight finish before their connections are closed (ms). */
  readonly shutdownGraceMs: number;
}

/**
 * Apollo Server over the schema, started, with the service's limits and hardening: no batching,
 * no persisted queries, CSRF prevention, errors formatted in one place (errors.ts), and the drain
 * plugin that finishes requests in flight when the server stops.
 */
export async function buildApollo(o: ApolloOptions): Promise<ApolloServer<Context>> {
  const formatError = makeFormatError({
    exposeInternals: !o.production,
    onInternalError: (err) => o.logger.error({ err }, 'unexpected error'),
  });
  const { limits } = o;
  const apollo = new ApolloServer<Context>({
    schema: o.schema,
    introspection: !o.production,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: true,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    // no client of this API uses automatic persisted queries: one cache less to fill
    persistedQueries: false,
    parseOptions: limits.parseOptions,
    validationRules: limits.validationRules,
    validationOptions: limits.validationOptions,
    // main.ts owns the signals: it drains, closes the store, then exits
    stopOnTerminationSignals: false,
    formatError: (formatted, error) => {
      const out = formatError(formatted, error);
      recordError(out.extensions?.code);
      return out;
    },
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: o.httpServer, stopGracePeriodMillis: o.shutdownGraceMs }),
      // every response is no-store; without this plugin Apollo wraps each field's resolver to
      // gather cache hints that nothing reads (a cost on every field of every request)
      ApolloServerPluginCacheControlDisabled(),
      operationPlugin,
      ...limits.plugins,
    ],
  });
  await apollo.start();
  return apollo;
}
