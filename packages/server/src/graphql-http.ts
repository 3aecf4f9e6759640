import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApolloServer, HTTPGraphQLRequest } from '@apollo/server';
import { TotpError } from '@totp-service/core';
import { authenticate } from './auth.js';
import type { ApiKey } from './config.js';
import type { Context } from './context.js';
import { JSON_TYPE, type DirectAnswer } from './direct-verify.js';
import { toGraphQLError } from './errors.js';
import { toGraphQLRequest } from './http.js';
import type { Services } from './services.js';

/** Answers one request to /graphql; resolves with the HTTP status it sent. */
export type GraphQLHandler = (req: IncomingMessage, res: ServerResponse, url: URL, requestId: string) => Promise<number>;

/** A verify's answer from the direct path, with the headers Apollo's answer gets. */
function writeDirect(res: ServerResponse, requestId: string, body: string): number {
  res.writeHead(200, {
    'x-request-id': requestId,
    'cache-control': 'no-store',
    'content-type': JSON_TYPE,
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
  return 200;
}

/**
 * The GraphQL endpoint on plain node:http: the request read within the body limit, a verify
 * answered directly when direct-verify.ts can, anything else handed to Apollo with a context
 * that authenticates the bearer token (an unknown one is UNAUTHENTICATED before any resolver
 * runs), and Apollo's answer written back, never cached.
 */
export function graphqlHandler(
  apollo: ApolloServer<Context>,
  o: {
    readonly apiKeys: readonly ApiKey[];
    readonly services: Services;
    readonly bodyLimit: number;
    /** The verifies answered without Apollo (direct-verify.ts); absent, Apollo answers all. */
    readonly direct?: (request: HTTPGraphQLRequest, authorization: string | undefined) => Promise<DirectAnswer>;
  },
): GraphQLHandler {
  return async (req, res, url, requestId) => {
    const httpGraphQLRequest = await toGraphQLRequest(req, url, o.bodyLimit);
    const direct = await o.direct?.(httpGraphQLRequest, req.headers.authorization);
    if (direct?.body !== undefined) return writeDirect(res, requestId, direct.body);
    // a verify the direct path began (it threw, or its result needs Apollo's formatting) is
    // answered by Apollo with the same answer handed back, not checked a second time
    const services = direct?.services ?? o.services;
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest,
      context: async () => {
        try {
          return { principal: authenticate(req.headers.authorization, o.apiKeys), ...services };
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
