import { ArgsType, Field, ID, InputType, Int } from 'type-graphql';
import type { AuditEventType as AuditEventTypeName } from '../store/store.js';
import { AuditEventType, DateTime, TotpAlgorithm, TotpStatus } from './totp.types.js';
import type { Algorithm } from '@totp-service/core';

@InputType()
export class EnrollTotpInput {
  @Field(() => ID) userId!: string;
  @Field(() => String, { nullable: true, description: 'label in the app; default: userId' }) accountName?: string | null;
  @Field(() => String, { nullable: true, description: 'default: TOTP_ISSUER' }) issuer?: string | null;
  @Field(() => TotpAlgorithm, { nullable: true, defaultValue: 'SHA1' }) algorithm?: Algorithm | null;
  @Field(() => Int, { nullable: true, defaultValue: 6, description: '6, 7 or 8' }) digits?: number | null;
  @Field(() => Int, { nullable: true, defaultValue: 30, description: '30 or 60' }) period?: number | null;
  @Field(() => Boolean, { nullable: true, defaultValue: false, description: 're-enroll a user who is ACTIVE' })
  replace?: boolean | null;
  @Field(() => String, { nullable: true, description: 'default "default"' }) deviceName?: string | null;
}

@InputType({ description: 'admin: migrate a factor from another system, ACTIVE at once' })
export class ImportTotpInput {
  @Field(() => ID) userId!: string;
  @Field(() => String, { description: 'base32 (any case; spaces and padding ignored), at least 16 bytes' }) secret!: string;
  @Field(() => String, { nullable: true }) accountName?: string | null;
  @Field(() => String, { nullable: true }) issuer?: string | null;
  @Field(() => TotpAlgorithm, { nullable: true, defaultValue: 'SHA1' }) algorithm?: Algorithm | null;
  @Field(() => Int, { nullable: true, defaultValue: 6 }) digits?: number | null;
  @Field(() => Int, { nullable: true, defaultValue: 30 }) period?: number | null;
  @Field(() => String, { nullable: true, description: 'default "default"' }) deviceName?: string | null;
  @Field(() => DateTime, { nullable: true, description: 'steps that start at or before it count as used (REPLAYED)' })
  lastUsedAt?: Date | null;
}

/*
 * Argument lists as classes: type-graphql keeps a class's field order, whereas separate @Arg
 * parameters come out reversed, and the printed schema should read like docs/api.md.
 */
@ArgsType()
export class VerifyArgs {
  @Field(() => ID) userId!: string;
  @Field(() => String) code!: string;
  @Field(() => String, { nullable: true }) clientIp?: string | null;
}

@ArgsType()
export class RevokeArgs {
  @Field(() => ID) userId!: string;
  @Field(() => String, { nullable: true }) reason?: string | null;
  @Field(() => ID, { nullable: true, description: 'that device only' }) deviceId?: string | null;
}

@ArgsType()
export class RenameDeviceArgs {
  @Field(() => ID) userId!: string;
  @Field(() => ID) deviceId!: string;
  @Field(() => String) name!: string;
}

@ArgsType()
export class EnrollmentsArgs {
  @Field(() => TotpStatus, { nullable: true }) status?: 'PENDING' | 'ACTIVE' | null;
  @Field(() => Int, { nullable: true, defaultValue: 50 }) first?: number | null;
  @Field(() => String, { nullable: true }) after?: string | null;
}

@ArgsType()
export class ExportArgs {
  @Field(() => TotpStatus, { nullable: true }) status?: 'PENDING' | 'ACTIVE' | null;
  @Field(() => Int, { nullable: true, defaultValue: 1000, description: 'users per page (each with all its devices)' }) first?: number | null;
  @Field(() => String, { nullable: true }) after?: string | null;
}

@ArgsType()
export class AuditEventsArgs {
  @Field(() => ID, { nullable: true }) userId?: string | null;
  @Field(() => [AuditEventType], { nullable: true }) types?: AuditEventTypeName[] | null;
  @Field(() => DateTime, { nullable: true }) since?: Date | null;
  @Field(() => DateTime, { nullable: true }) until?: Date | null;
  @Field(() => Int, { nullable: true, defaultValue: 100 }) first?: number | null;
  @Field(() => String, { nullable: true }) after?: string | null;
}
