import { ALGORITHMS, VerifyOutcome as Outcomes } from '@totp-service/core';
import { DateTimeResolver } from 'graphql-scalars';
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { AUDIT_EVENT_TYPES } from '../store/store.js';

/**
 * The GraphQL types of docs/api.md, field for field. Every @Field names its type explicitly, so the
 * schema does not depend on decorator metadata (vitest and tsx compile without it).
 */

const asEnum = <T extends string>(values: readonly T[]) => Object.fromEntries(values.map((v) => [v, v])) as { [K in T]: K };

export const TotpAlgorithm = asEnum(ALGORITHMS);
export const TotpStatus = asEnum(['PENDING', 'ACTIVE'] as const);
export const VerifyOutcome = Outcomes;
export const AuditEventType = asEnum(AUDIT_EVENT_TYPES);

registerEnumType(TotpAlgorithm, { name: 'TotpAlgorithm' });
registerEnumType(TotpStatus, { name: 'TotpStatus' });
registerEnumType(VerifyOutcome, {
  name: 'VerifyOutcome',
  valuesConfig: {
    ACCEPTED: { description: 'right code, step not used before; a PENDING enrollment becomes ACTIVE' },
    INVALID_CODE: { description: 'wrong code; counts as a failure' },
    REPLAYED: { description: 'right code, but its time-step (or a later one) was already accepted; counts as a failure' },
    LOCKED: { description: 'too many failures; retryAfterSeconds tells when to try again' },
    RATE_LIMITED: { description: 'this clientIp used its budget; retryAfterSeconds tells when' },
    NOT_ENROLLED: { description: 'nothing enrolled for this user (or the pending enrollment expired)' },
    MALFORMED: { description: 'not 6-8 ASCII digits, or not the enrolled length; never counts as a failure' },
  },
});
registerEnumType(AuditEventType, { name: 'AuditEventType' });

export { DateTimeResolver as DateTime };

@ObjectType({ description: 'Returned once, at enrollment: the only time the secret leaves the service.' })
export class TotpEnrollment {
  @Field(() => ID) userId!: string;
  @Field(() => TotpStatus) status!: string;
  @Field(() => String, { description: 'base32, RFC 4648 alphabet, no padding' }) secret!: string;
  @Field(() => String, { description: 'Key URI Format: otpauth://totp/Issuer:account?secret=…' }) otpauthUri!: string;
  @Field(() => String, { description: 'data:image/png;base64,… of otpauthUri' }) qrCodeDataUrl!: string;
  @Field(() => String, { description: '<svg …> of otpauthUri' }) qrCodeSvg!: string;
  @Field(() => TotpAlgorithm) algorithm!: string;
  @Field(() => Int) digits!: number;
  @Field(() => Int) period!: number;
  @Field(() => String) issuer!: string;
  @Field(() => String) accountName!: string;
  @Field(() => DateTimeResolver, { nullable: true, description: 'when this PENDING enrollment lapses unconfirmed' })
  expiresAt?: Date | null;
  @Field(() => ID, { description: 'the device enrolled (a new one, or the one whose secret is replaced)' }) deviceId!: string;
  @Field(() => String) deviceName!: string;
}

@ObjectType()
export class VerifyTotpResult {
  @Field(() => Boolean, { description: 'true exactly when outcome is ACCEPTED' }) valid!: boolean;
  @Field(() => VerifyOutcome) outcome!: string;
  @Field(() => Boolean, { description: 'this call confirmed a PENDING enrollment' }) activated!: boolean;
  @Field(() => Int, { nullable: true, description: 'with LOCKED and RATE_LIMITED; whole seconds, rounded up' })
  retryAfterSeconds?: number | null;
  @Field(() => Int, { nullable: true, description: 'failures left before a lockout, after this attempt' })
  remainingAttempts?: number | null;
  @Field(() => Int, { nullable: true, description: 'with ACCEPTED: the matched step minus the current step' })
  driftSteps?: number | null;
  @Field(() => ID, { nullable: true, description: 'with ACCEPTED: the device that matched' }) deviceId?: string | null;
  @Field(() => String, { nullable: true }) deviceName?: string | null;
}

@ObjectType({ description: "One of a user's authenticators, each with its own secret." })
export class TotpDevice {
  @Field(() => ID, { description: 'made by the server, stable, unique within the user' }) id!: string;
  @Field(() => String, { description: "the caller's label, unique within the user; 1-64 characters" }) name!: string;
  @Field(() => TotpStatus) status!: string;
  @Field(() => TotpAlgorithm) algorithm!: string;
  @Field(() => Int) digits!: number;
  @Field(() => Int) period!: number;
  @Field(() => String) issuer!: string;
  @Field(() => String) accountName!: string;
  @Field(() => DateTimeResolver) createdAt!: Date;
  @Field(() => DateTimeResolver, { nullable: true }) activatedAt?: Date | null;
  @Field(() => DateTimeResolver, { nullable: true, description: 'start of the last accepted step: no code of it or earlier is accepted again' })
  lastUsedAt?: Date | null;
  @Field(() => DateTimeResolver, { nullable: true, description: 'when its pending secret (new, or a replacement) lapses' })
  pendingExpiresAt?: Date | null;
}

@ObjectType()
export class TotpState {
  @Field(() => ID) userId!: string;
  @Field(() => TotpStatus) status!: string;
  @Field(() => TotpAlgorithm) algorithm!: string;
  @Field(() => Int) digits!: number;
  @Field(() => Int) period!: number;
  @Field(() => String) issuer!: string;
  @Field(() => String) accountName!: string;
  @Field(() => DateTimeResolver) createdAt!: Date;
  @Field(() => DateTimeResolver, { nullable: true }) activatedAt?: Date | null;
  @Field(() => DateTimeResolver, { nullable: true }) lastVerifiedAt?: Date | null;
  @Field(() => Int) failedAttempts!: number;
  @Field(() => DateTimeResolver, { nullable: true }) lockedUntil?: Date | null;
  @Field(() => Int) recoveryCodesRemaining!: number;
  @Field(() => DateTimeResolver, {
    nullable: true,
    description: 'when a pending enrollment (a first one, or a replacement of an ACTIVE one) lapses',
  })
  pendingExpiresAt?: Date | null;
  @Field(() => [TotpDevice], { description: 'every device, oldest first; the fields above describe the oldest ACTIVE one' })
  devices!: TotpDevice[];
}

@ObjectType()
export class RevokeTotpResult {
  @Field(() => Boolean, { description: 'false when nothing was enrolled' }) revoked!: boolean;
}

@ObjectType()
export class RecoveryCodes {
  @Field(() => [String]) codes!: string[];
  @Field(() => DateTimeResolver) generatedAt!: Date;
}

@ObjectType()
export class RekeyResult {
  @Field(() => Int) rekeyed!: number;
  @Field(() => String) activeKeyId!: string;
}

@ObjectType()
export class AuditEvent {
  @Field(() => ID) id!: string;
  @Field(() => DateTimeResolver) at!: Date;
  @Field(() => AuditEventType) type!: string;
  @Field(() => ID, { nullable: true }) userId?: string | null;
  @Field(() => String, { description: "the API key's name" }) actor!: string;
  @Field(() => String, { nullable: true }) clientIp?: string | null;
  @Field(() => VerifyOutcome, { nullable: true, description: 'with VERIFY and RECOVERY_CODE_USED' }) outcome?: string | null;
  @Field(() => String, { nullable: true }) detail?: string | null;
  @Field(() => ID, { nullable: true, description: 'on every event about one device' }) deviceId?: string | null;
}

@ObjectType()
export class PageInfo {
  @Field(() => String, { nullable: true }) endCursor?: string | null;
  @Field(() => Boolean) hasNextPage!: boolean;
}

@ObjectType({ description: 'What one encryption key seals in the store' })
export class EncryptionKeyUsage {
  @Field(() => String) keyId!: string;
  @Field(() => Int, { description: 'sealed values of confirmed users (secrets, pending secrets, recovery keys) under this key' })
  sealedValues!: number;
  @Field(() => Boolean, { description: 'in TOTP_ENCRYPTION_KEYS' }) configured!: boolean;
  @Field(() => Boolean, { description: 'the key new values are sealed with (the first configured)' }) active!: boolean;
}

@ObjectType({ description: 'One page of an export: its factors as an age file only the operator can read.' })
export class TotpExportPage {
  @Field(() => String, { description: 'ASCII-armored age file, encrypted to every TOTP_EXPORT_RECIPIENTS recipient' }) ciphertext!: string;
  @Field(() => Int, { description: 'factors (devices) in this page' }) count!: number;
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType()
export class AuditEventConnection {
  @Field(() => [AuditEvent]) nodes!: AuditEvent[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

@ObjectType()
export class TotpStateConnection {
  @Field(() => [TotpState]) nodes!: TotpState[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}
