import { ErrorCode, TotpError } from '@totp-service/core';
import type { GraphQLSchema } from 'graphql';
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
