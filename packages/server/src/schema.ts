import { ErrorCode, TotpError } from '@totp-service/core';
import { printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type AuthChecker } from 'type-graphql';
import { allows } from './auth.js';
import type { Role } from './config.js';
import type { Context } from './context.js';
import { AdminResolver } from './totp/admin.resolver.js';
import { TotpResolver } from './totp/totp.resolver.js';

/** Roles: `@Authorized('app')` for what applications may do, `@Authorized('admin')` for operators. */
const authChecker: AuthChecker<Context, Role> = ({ context }, roles) => {
  const required = roles[0] ?? 'app';
  if (allows(context.principal.role, required)) return true;
  throw new TotpError(ErrorCode.FORBIDDEN, `this operation needs an ${required} key; "${context.principal.name}" is an ${context.principal.role} key`);
};

export function buildTotpSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: [TotpResolver, AdminResolver],
    authChecker,
    validate: false,
    emitSchemaFile: false,
  });
}

/** What docs/schema.graphql says above the schema. */
const SCHEMA_HEADER = `# The GraphQL schema of the TOTP service, printed from the code (packages/server/src/schema.ts).
# Generated: do not edit. After changing a type or a resolver, run
#   npm run docs --workspace @totp-service/server
# and commit the result (a test fails while this file is not current). docs/api.md explains it.

`;

/** The schema as docs/schema.graphql holds it: printed in the order the code declares it. */
export async function printTotpSchema(): Promise<string> {
  return `${SCHEMA_HEADER}${printSchema(await buildTotpSchema())}\n`;
}
