import { Arg, Args, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../context.js';
import { EnrollTotpInput, RenameDeviceArgs, RevokeArgs, VerifyArgs } from './totp.inputs.js';
import { RecoveryCodes, RevokeTotpResult, TotpDevice, TotpEnrollment, TotpState, VerifyTotpResult } from './totp.types.js';

/** Adapts GraphQL to TotpService; no logic of its own. */
@Resolver()
export class TotpResolver {
  @Authorized('app')
  @Query(() => TotpState, { nullable: true, description: 'null when not enrolled' })
  totpStatus(@Arg('userId', () => ID) userId: string, @Ctx() ctx: Context) {
    return ctx.totp.status(userId);
  }

  @Authorized('app')
  @Mutation(() => TotpEnrollment)
  enrollTotp(@Arg('input', () => EnrollTotpInput) input: EnrollTotpInput, @Ctx() ctx: Context) {
    return ctx.totp.enroll(ctx.principal, input);
  }

  @Authorized('app')
  @Mutation(() => VerifyTotpResult)
  verifyTotp(@Args(() => VerifyArgs) a: VerifyArgs, @Ctx() ctx: Context) {
    return ctx.totp.verify(ctx.principal, a.userId, a.code, a.clientIp);
  }

  @Authorized('app')
  @Mutation(() => RevokeTotpResult)
  async revokeTotp(@Args(() => RevokeArgs) a: RevokeArgs, @Ctx() ctx: Context) {
    return { revoked: await ctx.totp.revoke(ctx.principal, a.userId, a.reason, a.deviceId) };
  }

  @Authorized('app')
  @Mutation(() => TotpDevice)
  renameTotpDevice(@Args(() => RenameDeviceArgs) a: RenameDeviceArgs, @Ctx() ctx: Context) {
    return ctx.totp.renameDevice(ctx.principal, a.userId, a.deviceId, a.name);
  }

  @Authorized('app')
  @Mutation(() => RecoveryCodes, { description: 'replaces any earlier set; the codes are shown this once' })
  generateRecoveryCodes(@Arg('userId', () => ID) userId: string, @Ctx() ctx: Context) {
    return ctx.recovery.generate(ctx.principal, userId);
  }

  @Authorized('app')
  @Mutation(() => VerifyTotpResult)
  verifyRecoveryCode(@Args(() => VerifyArgs) a: VerifyArgs, @Ctx() ctx: Context) {
    return ctx.recovery.verify(ctx.principal, a.userId, a.code, a.clientIp);
  }

  @Authorized('admin')
  @Mutation(() => TotpState, { nullable: true, description: 'admin; null for a user with nothing enrolled' })
  unlockTotp(@Arg('userId', () => ID) userId: string, @Ctx() ctx: Context) {
    return ctx.totp.unlock(ctx.principal, userId);
  }
}
