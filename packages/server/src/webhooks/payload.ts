import type { AuditEvent } from '../store/store.js';

/**
 * The body of a webhook (docs/api.md, "Security events out"): the audit event as the API shows it,
 * under a Standard Webhooks envelope. Audit events hold no secret, code or token by construction;
 * this is all that leaves.
 */
export interface WebhookPayload {
  readonly type: string;
  readonly timestamp: string;
  readonly data: {
    readonly eventId: string;
    readonly at: string;
    readonly userId: string | null;
    readonly deviceId: string | null;
    readonly actor: string;
    readonly clientIp: string | null;
    readonly outcome: string | null;
    readonly detail: string | null;
  };
}

export function payloadOf(e: AuditEvent): WebhookPayload {
  const at = new Date(e.at).toISOString();
  return {
    type: `totp.${e.type.toLowerCase()}`,
    timestamp: at,
    data: { eventId: e.id, at, userId: e.userId, deviceId: e.deviceId, actor: e.actor, clientIp: e.clientIp, outcome: e.outcome, detail: e.detail },
  };
}
