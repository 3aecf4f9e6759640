import type { ApiError, GraphQLClient } from './client.js';
import type {
  AuditEvent,
  AuditFilter,
  Connection,
  EncryptionKeyUsage,
  EnrollTotpInput,
  ImportTotpInput,
  RecoveryCodes,
  RekeyResult,
  TotpDevice,
  TotpEnrollment,
  TotpExportPage,
  TotpState,
  TotpStatus,
  VerifyTotpResult,
} from './schema.js';

export type * from './schema.js';

/**
 * The operations of the public schema (docs/api.md, "GraphQL schema") that the CLI calls, typed
 * as the schema declares them. One function per operation; each returns the `data` field it asked for.
 */

const DEVICE_FIELDS = `id name status algorithm digits period issuer accountName createdAt activatedAt lastUsedAt
  pendingExpiresAt`;
const STATE_FIELDS = `userId status algorithm digits period issuer accountName createdAt activatedAt
  lastVerifiedAt failedAttempts lockedUntil recoveryCodesRemaining devices { ${DEVICE_FIELDS} }`;
const AUDIT_FIELDS = 'id at type userId deviceId actor clientIp outcome detail';

export async function enrollTotp(client: GraphQLClient, input: EnrollTotpInput): Promise<TotpEnrollment> {
  const data = await client.request<{ enrollTotp: TotpEnrollment }>(
    `mutation Enroll($input: EnrollTotpInput!) { enrollTotp(input: $input) {
      userId status secret otpauthUri algorithm digits period issuer accountName expiresAt deviceId deviceName } }`,
    { input },
  );
  return data.enrollTotp;
}

export async function verifyTotp(
  client: GraphQLClient,
  userId: string,
  code: string,
  clientIp?: string,
): Promise<VerifyTotpResult> {
  const data = await client.request<{ verifyTotp: VerifyTotpResult }>(
    `mutation Verify($userId: ID!, $code: String!, $clientIp: String) {
      verifyTotp(userId: $userId, code: $code, clientIp: $clientIp) {
        valid outcome activated retryAfterSeconds remainingAttempts driftSteps deviceId deviceName } }`,
    { userId, code, clientIp: clientIp ?? null },
  );
  return data.verifyTotp;
}

/** Everything the user has, or with `deviceId` that device only; false when there was nothing to revoke. */
export async function revokeTotp(
  client: GraphQLClient,
  userId: string,
  options: { reason?: string | undefined; deviceId?: string | undefined } = {},
): Promise<boolean> {
  const data = await client.request<{ revokeTotp: { revoked: boolean } }>(
    `mutation Revoke($userId: ID!, $reason: String, $deviceId: ID) {
      revokeTotp(userId: $userId, reason: $reason, deviceId: $deviceId) { revoked } }`,
    { userId, reason: options.reason ?? null, deviceId: options.deviceId ?? null },
  );
  return data.revokeTotp.revoked;
}

export async function renameTotpDevice(client: GraphQLClient, userId: string, deviceId: string, name: string): Promise<TotpDevice> {
  const data = await client.request<{ renameTotpDevice: TotpDevice }>(
    `mutation RenameDevice($userId: ID!, $deviceId: ID!, $name: String!) {
      renameTotpDevice(userId: $userId, deviceId: $deviceId, name: $name) { ${DEVICE_FIELDS} } }`,
    { userId, deviceId, name },
  );
  return data.renameTotpDevice;
}

export async function totpStatus(client: GraphQLClient, userId: string): Promise<TotpState | null> {
  const data = await client.request<{ totpStatus: TotpState | null }>(
    `query Status($userId: ID!) { totpStatus(userId: $userId) { ${STATE_FIELDS} } }`,
    { userId },
  );
  return data.totpStatus;
}

export async function totpEnrollments(
  client: GraphQLClient,
  args: { status?: TotpStatus; first: number; after?: string },
): Promise<Connection<TotpState>> {
  const data = await client.request<{ totpEnrollments: Connection<TotpState> }>(
    `query Enrollments($status: TotpStatus, $first: Int, $after: String) {
      totpEnrollments(status: $status, first: $first, after: $after) {
        nodes { ${STATE_FIELDS} } pageInfo { endCursor hasNextPage } } }`,
    { status: args.status ?? null, first: args.first, after: args.after ?? null },
  );
  return data.totpEnrollments;
}

export async function unlockTotp(client: GraphQLClient, userId: string): Promise<TotpState | null> {
  const data = await client.request<{ unlockTotp: TotpState | null }>(
    `mutation Unlock($userId: ID!) { unlockTotp(userId: $userId) { ${STATE_FIELDS} } }`,
    { userId },
  );
  return data.unlockTotp;
}

export async function generateRecoveryCodes(client: GraphQLClient, userId: string): Promise<RecoveryCodes> {
  const data = await client.request<{ generateRecoveryCodes: RecoveryCodes }>(
    `mutation RecoveryCodes($userId: ID!) { generateRecoveryCodes(userId: $userId) { codes generatedAt } }`,
    { userId },
  );
  return data.generateRecoveryCodes;
}

export async function importTotp(client: GraphQLClient, input: ImportTotpInput): Promise<TotpState> {
  const data = await client.request<{ importTotp: TotpState }>(
    `mutation Import($input: ImportTotpInput!) { importTotp(input: $input) { ${STATE_FIELDS} } }`,
    { input },
  );
  return data.importTotp;
}

/** One page of exportTotp: its factors encrypted on the server to TOTP_EXPORT_RECIPIENTS (admin). */
export async function exportTotp(
  client: GraphQLClient,
  args: { status?: TotpStatus | undefined; first: number; after?: string | undefined },
): Promise<TotpExportPage> {
  const data = await client.request<{ exportTotp: TotpExportPage }>(
    `query Export($status: TotpStatus, $first: Int, $after: String) {
      exportTotp(status: $status, first: $first, after: $after) { ciphertext count pageInfo { endCursor hasNextPage } } }`,
    { status: args.status ?? null, first: args.first, after: args.after ?? null },
  );
  return data.exportTotp;
}

/**
 * How many values each encryption key seals, and whether the server has it (admin): `keys` and
 * `doctor` show it; the export's progress bar takes the sum as its estimate.
 */
export async function encryptionKeys(client: GraphQLClient): Promise<EncryptionKeyUsage[]> {
  const data = await client.request<{ encryptionKeys: EncryptionKeyUsage[] }>(
    `query Keys { encryptionKeys { keyId sealedValues configured active } }`,
  );
  return data.encryptionKeys;
}

/**
 * The most aliased fields the server takes in one request (its GRAPHQL_LIMITS.maxAliases): an
 * import sends its rows this many at a time, which costs the server and the CLI a fraction of
 * one request per row.
 */
export const MAX_ALIASES = 15;

/** What each batched result holds: the user's state after the import, or the error of that row. */
export type BatchResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ApiError } | { readonly ok: false; readonly notRun: true };

/**
 * importTotp for several rows in one request, run by the server one after the other in this
 * order. importTotp is non-null, so when one fails GraphQL stops there and answers no data:
 * the rows before it were imported (their state is then unknown: null), the rows after it not
 * run (send them again).
 */
export async function importTotpBatch(client: GraphQLClient, inputs: readonly ImportTotpInput[]): Promise<BatchResult<TotpState | null>[]> {
  const variables = Object.fromEntries(inputs.map((input, i) => [`i${i}`, input]));
  const query = `mutation ImportBatch(${inputs.map((_, i) => `$i${i}: ImportTotpInput!`).join(', ')}) {
    ${inputs.map((_, i) => `r${i}: importTotp(input: $i${i}) { ...S }`).join('\n    ')} }
    fragment S on TotpState { ${STATE_FIELDS} }`;
  const { data, errors } = await client.requestFields<Record<string, TotpState>>(query, variables);
  const failed = errors.map((e) => ({ index: Number(e.alias.slice(1)), error: e.error })).sort((a, b) => a.index - b.index)[0];
  return inputs.map((_, i): BatchResult<TotpState | null> => {
    if (data) return { ok: true, value: data[`r${i}`] ?? null };
    if (!failed || i < failed.index) return { ok: true, value: null };
    return i === failed.index ? { ok: false, error: failed.error } : { ok: false, notRun: true };
  });
}

/** The devices of several users in one request (nothing is written): null for a user with none. */
export async function devicesBatch(client: GraphQLClient, userIds: readonly string[]): Promise<BatchResult<TotpDevice[]>[]> {
  const variables = Object.fromEntries(userIds.map((userId, i) => [`u${i}`, userId]));
  const query = `query DevicesBatch(${userIds.map((_, i) => `$u${i}: ID!`).join(', ')}) {
    ${userIds.map((_, i) => `r${i}: totpStatus(userId: $u${i}) { devices { name status } }`).join('\n    ')} }`;
  const { data, errors } = await client.requestFields<Record<string, { devices: TotpDevice[] } | null>>(query, variables);
  return userIds.map((_, i) => {
    const error = errors.find((e) => e.alias === `r${i}`)?.error;
    return error ? { ok: false, error } : { ok: true, value: data?.[`r${i}`]?.devices ?? [] };
  });
}

export async function rekeyTotp(client: GraphQLClient): Promise<RekeyResult> {
  const data = await client.request<{ rekeyTotp: RekeyResult }>(
    `mutation Rekey { rekeyTotp { rekeyed activeKeyId } }`,
  );
  return data.rekeyTotp;
}

export async function auditEvents(
  client: GraphQLClient,
  filter: AuditFilter,
  page: { first: number; after?: string },
  signal?: AbortSignal,
): Promise<Connection<AuditEvent>> {
  const data = await client.request<{ auditEvents: Connection<AuditEvent> }>(
    `query Audit($userId: ID, $types: [AuditEventType!], $since: DateTime, $until: DateTime,
        $first: Int, $after: String) {
      auditEvents(userId: $userId, types: $types, since: $since, until: $until, first: $first, after: $after) {
        nodes { ${AUDIT_FIELDS} } pageInfo { endCursor hasNextPage } } }`,
    {
      userId: filter.userId ?? null,
      types: filter.types?.length ? filter.types : null,
      since: filter.since ?? null,
      until: filter.until ?? null,
      first: page.first,
      after: page.after ?? null,
    },
    signal,
  );
  return data.auditEvents;
}

/** The most the CLI asks for in one page; the server may cap `first` lower, which is fine. */
export const PAGE_SIZE = 100;

/**
 * Follow a connection's cursors until `limit` nodes are collected or the server has no more.
 * `more` tells whether nodes were left on the server past the limit.
 */
export async function collectPages<T>(
  fetchPage: (page: { first: number; after?: string }) => Promise<Connection<T>>,
  limit: number,
  pageSize: number = PAGE_SIZE,
): Promise<{ nodes: T[]; more: boolean; endCursor: string | null }> {
  const nodes: T[] = [];
  let after: string | undefined;
  for (;;) {
    const first = Math.min(pageSize, limit - nodes.length);
    const page = await fetchPage(after === undefined ? { first } : { first, after });
    nodes.push(...page.nodes.slice(0, limit - nodes.length));
    const cursor = page.pageInfo.endCursor;
    if (nodes.length >= limit || !page.pageInfo.hasNextPage || !cursor || page.nodes.length === 0) {
      return { nodes, more: page.pageInfo.hasNextPage && page.nodes.length > 0, endCursor: cursor };
    }
    after = cursor;
  }
}
