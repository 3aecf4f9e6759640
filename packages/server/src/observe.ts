import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type OperationDefinitionNode } from 'graphql';
import { accessLogger, requestScope, type Logger, type RequestScope } from './logger.js';

/**
 * What a request did, for its closing log line: the operation name and root fields (recorded by
 * the Apollo plugin below), the verify outcomes (recorded by the service's observer) and the
 * error codes answered (recorded where errors are formatted). Never the query text or variables.
 */

const MAX_LISTED = 20;

function push(list: string[], value: string): void {
  if (list.length < MAX_LISTED) list.push(value);
}

export function recordOutcome(outcome: string): void {
  const scope = requestScope.getStore();
  if (scope) push(scope.outcomes, outcome);
}

export function recordError(code: unknown): void {
  const scope = requestScope.getStore();
  if (scope) push(scope.errors, typeof code === 'string' ? code.slice(0, 40) : 'UNKNOWN');
}

function rootFields(op: OperationDefinitionNode): string[] {
  const names: string[] = [];
  for (const sel of op.selectionSet.selections) {
    if (sel.kind === Kind.FIELD) push(names, sel.name.value);
    else push(names, '...');
  }
  return names;
}

/** Records the resolved operation's name and root fields in the request scope. */
export function recordOperation(operationName: string | null, operation: OperationDefinitionNode | undefined): void {
  const scope = requestScope.getStore();
  if (!scope) return;
  if (operationName) scope.operation = operationName.slice(0, 64);
  if (operation) {
    scope.fields = rootFields(operation);
    scope.operationType = operation.operation;
  }
}

/** recordOperation for every operation Apollo resolves. */
export const operationPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation, operationName }) {
        recordOperation(operationName, operation);
      },
    };
  },
};

/** Errors that mean the service (not the caller) failed: logged at warn. */
const SERVICE_ERRORS = new Set(['SERVICE_UNAVAILABLE', 'INTERNAL_SERVER_ERROR']);

/** The closing line of a GraphQL request: info, or warn when the service failed it. */
export function logGraphQL(logger: Logger, scope: RequestScope, status: number, ms: number): void {
  const outcome = scope.errors.length > 0 ? scope.errors[0]! : scope.outcomes.length > 0 ? scope.outcomes.join(',') : 'ok';
  const line = {
    route: 'graphql',
    status,
    ms,
    operation: scope.operation ?? null,
    fields: scope.fields ?? [],
    outcome,
    ...(scope.outcomes.length > 0 ? { outcomes: scope.outcomes } : {}),
    ...(scope.errors.length > 0 ? { errors: scope.errors } : {}),
  };
  const failed = status >= 500 || scope.errors.some((e) => SERVICE_ERRORS.has(e));
  const access = accessLogger(logger);
  if (failed) access.warn(line, 'graphql request failed');
  else access.info(line, 'graphql request');
}
