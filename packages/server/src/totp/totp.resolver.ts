import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../context.js';
import { EnrollTotpInput } from './totp.inputs.js';
import { RevokeTotpResult, TotpEnrollment, TotpState, VerifyTotpResult } from './totp.types.js';

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
  verifyTotp(
    @Arg('userId', () => ID) userId: string,
    @Arg('code', () => String) code: string,
    @Arg('clientIp', () => String, { nullable: true }) clientIp: string | null | undefined,
    @Ctx() ctx: Context,
  ) {
    return ctx.totp.verify(ctx.principal, userId, code, clientIp);
  }

  @Authorized('app')
  @Mutation(() => RevokeTotpResult)
  async revokeTotp(
    @Arg('userId', () => ID) userId: string,
    @Arg('reason', () => String, { nullable: true }) reason: string | null | undefined,
    @Ctx() ctx: Context,
  ) {
    return { revoked: await ctx.totp.revoke(ctx.principal, userId, reason) };
  }

  @Authorized('admin')
  @Mutation(() => TotpState, { nullable: true, description: 'admin; null for a user with nothing enrolled' })
  unlockTotp(@Arg('userId', () => ID) userId: string, @Ctx() ctx: Context) {
    return ctx.totp.unlock(ctx.principal, userId);
  }
}
