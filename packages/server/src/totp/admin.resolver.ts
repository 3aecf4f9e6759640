import { Arg, Args, Authorized, Ctx, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../context.js';
import { AuditEventsArgs, EnrollmentsArgs, ExportArgs, ImportTotpInput } from './totp.inputs.js';
import { AuditEventConnection, EncryptionKeyUsage, RekeyResult, TotpExportPage, TotpState, TotpStateConnection } from './totp.types.js';

/** The operators' operations (admin keys); adapts GraphQL to AdminService, no logic of its own. */
@Resolver()
export class AdminResolver {
  @Authorized('admin')
  @Query(() => TotpStateConnection, { description: 'admin: every enrollment, in a stable order' })
  totpEnrollments(@Args(() => EnrollmentsArgs) a: EnrollmentsArgs, @Ctx() ctx: Context) {
    return ctx.admin.enrollments(a);
  }

  @Authorized('admin')
  @Query(() => AuditEventConnection, { description: 'admin; newest first' })
  auditEvents(@Args(() => AuditEventsArgs) a: AuditEventsArgs, @Ctx() ctx: Context) {
    return ctx.admin.auditEvents(a);
  }

  @Authorized('admin')
  @Query(() => [EncryptionKeyUsage], { description: 'admin: what each encryption key seals, and whether it is configured' })
  encryptionKeys(@Ctx() ctx: Context) {
    return ctx.admin.encryptionKeys();
  }

  @Authorized('admin')
  @Query(() => TotpExportPage, { description: 'admin: factors encrypted to TOTP_EXPORT_RECIPIENTS (EXPORT_DISABLED when none)' })
  exportTotp(@Args(() => ExportArgs) a: ExportArgs, @Ctx() ctx: Context) {
    return ctx.admin.exportTotp(ctx.principal, a);
  }

  @Authorized('admin')
  @Mutation(() => TotpState, { description: 'admin: migrate a factor from another system, ACTIVE at once' })
  importTotp(@Arg('input', () => ImportTotpInput) input: ImportTotpInput, @Ctx() ctx: Context) {
    return ctx.admin.importTotp(ctx.principal, input);
  }

  @Authorized('admin')
  @Mutation(() => RekeyResult, { description: 'admin: re-encrypt every secret with the active key' })
  rekeyTotp(@Ctx() ctx: Context) {
    return ctx.admin.rekey(ctx.principal);
  }
}
