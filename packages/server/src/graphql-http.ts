import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import { TotpError } from '@totp-service/core';
import { authenticate } from './auth.js';
import type { ApiKey } from './config.js';
import type { Context } from './context.js';
import { toGraphQLError } from './errors.js';
import { toGraphQLRequest } from './http.js';
import type { Services } from './services.js';

/** Answers one request to /graphql; resolves with the HTTP status it sent. */
export type GraphQLHandler = (req: IncomingMessage, res: ServerResponse, url: URL, requestId: string) => Promise<number>;

/**
 * The GraphQL endpoint on plain node:http: the request read within the body limit, handed to
 * Apollo with a context that authenticates the bearer token (an unknown one is UNAUTHENTICATED
 * before any resolver runs), and Apollo's answer written back, never cached.
 */
export function graphqlHandler(
  apollo: ApolloServer<Context>,
  o: { readonly apiKeys: readonly ApiKey[]; readonly services: Services; readonly bodyLimit: number },
): GraphQLHandler {
  return async (req, res, url, requestId) => {
    const httpGraphQLRequest = await toGraphQLRequest(req, url, o.bodyLimit);
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest,
      context: async () => {
        try {
          return { principal: authenticate(req.headers.authorization, o.apiKeys), ...o.services };
        } catch (err) {
          throw err instanceof TotpError ? toGraphQLError(err) : err;
        }
      },
    });
    const status = response.status ?? 200;
    const headers: Record<string, string> = { 'x-request-id': requestId, 'cache-control': 'no-store' };
    for (const [k, v] of response.headers) headers[k] = v;
    if (response.body.kind === 'complete') {
      headers['content-length'] = String(Buffer.byteLength(response.body.string));
      res.writeHead(status, headers);
      res.end(response.body.string);
    } else {
      res.writeHead(status, headers);
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    }
    return status;
  };
}
