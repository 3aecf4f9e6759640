/**
 * The benchmark's users and the codes it sends for them. Codes are computed with the core's
 * codeAtStep from the secrets that enrollTotp returned, exactly as an authenticator app would.
 *
 * Valid codes are a scarce supply: with TOTP_WINDOW=1 and a learned drift of at most one step,
 * the server accepts for a user only steps later than the last accepted one and inside
 * [now + drift - 1, now + drift + 1]. So a user offers about two fresh steps at once and one more
 * every period (30 s). The supply below mirrors the server's state per user (last accepted step,
 * drift as answered by `driftSteps`) and only hands out a step that stays valid even if a step
 * boundary passes while the request is in flight. A user with a request in flight is skipped;
 * one whose answer never came (the run ended first) is retired, as its state is unknown.
 */
import { randomUUID } from 'node:crypto';
import { codeAtStep, parseBase32Secret } from '@totp-service/core';
import type { Shot } from './load.js';

const PERIOD = 30;
const PARAMS = { algorithm: 'SHA1', digits: 6, period: PERIOD } as const;

/** A six-digit code that no step within three of `step` has for this secret (SHA1, 30 s). */
export function wrongCodeAt(secret: Uint8Array, step: number): string {
  const near = new Set<string>();
  for (let s = step - 3; s <= step + 3; s++) near.add(codeAtStep(secret, s, PARAMS));
  let code = 0;
  while (near.has(String(code).padStart(6, '0'))) code += 1;
  return String(code).padStart(6, '0');
}

export interface User {
  readonly id: string;
  /** A client address of its own, so the per-address budget is per user as in real logins. */
  readonly ip: string;
  secret: Uint8Array | null;
  /** A second device's secret (the memory phase enrolls one for some users). */
  backup?: Uint8Array | null;
  /** Last accepted step, -1 before activation. */
  last: number;
  drift: number;
  busy: boolean;
  /** Codes of a few steps of `secret`, remembered: a user's next verify asks for the steps after. */
  readonly codes: Map<number, string>;
}

export const VERIFY_QUERY =
  'mutation V($u: ID!, $c: String!, $ip: String) { verifyTotp(userId: $u, code: $c, clientIp: $ip) { valid outcome activated remainingAttempts driftSteps } }';
export const ENROLL_QUERY = 'mutation E($u: ID!) { enrollTotp(input: { userId: $u }) { secret otpauthUri qrCodeDataUrl } }';
export const CEILING_BODY = JSON.stringify({ query: '{ __typename }' });
const BACKUP_QUERY = 'mutation E($u: ID!) { enrollTotp(input: { userId: $u, deviceName: "backup" }) { secret } }';

const nowStep = () => Math.floor(Date.now() / 1000 / PERIOD);

/** Outcome counts of one run. */
export class Tally {
  readonly counts = new Map<string, number>();
  /** Verifies that answered activated: true. */
  activated = 0;
  /** What the supply knew when an answer surprised it (the first few), for the report. */
  readonly surprises: string[] = [];
  surprise(line: string): void {
    if (this.surprises.length < 5) this.surprises.push(line);
  }
  add(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }
  total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }
  /** Everything other than `expected`, as "OUTCOME×n". */
  unexpected(expected: string): string[] {
    return [...this.counts].filter(([k]) => k !== expected).map(([k, v]) => `${k}×${v}`);
  }
}

function outcomeOf(status: number, body: string): { outcome: string; driftSteps: number | null; activated: boolean } {
  if (status !== 200) return { outcome: `HTTP ${status}`, driftSteps: null, activated: false };
  try {
    const r = (JSON.parse(body) as { data?: { verifyTotp?: { outcome: string; driftSteps: number | null; activated: boolean } } }).data?.verifyTotp;
    if (r) return r;
    return { outcome: `error ${/"code":"(\w+)"/.exec(body)?.[1] ?? '?'}`, driftSteps: null, activated: false };
  } catch {
    return { outcome: 'unparsable', driftSteps: null, activated: false };
  }
}

/** The code of a step of the user's secret, from the few remembered or computed and remembered. */
function codeOf(u: User, secret: Uint8Array, step: number): string {
  let code = u.codes.get(step);
  if (code === undefined) {
    code = codeAtStep(secret, step, PARAMS);
    if (u.codes.size >= 4) u.codes.delete(u.codes.keys().next().value!);
    u.codes.set(step, code);
  }
  return code;
}

/**
 * The step an accepted code used up. Two steps share a code about once in a million, and the
 * server then takes the latest in its window (core's matchCode): so a later step of the next two
 * with the same code counts as used too, or the user's next code would be answered REPLAYED.
 */
function latestSharing(u: User, secret: Uint8Array, step: number, code: string): number {
  let last = step;
  for (const later of [step + 1, step + 2]) if (codeOf(u, secret, later) === code) last = later;
  return last;
}

/** One line on a valid code that was not accepted: what the supply believed, and when. */
function surprise(u: User, step: number, code: string, sentAt: number, outcome: string, driftSteps: number | null): string {
  const answeredAt = Date.now();
  // a code is also the code of another step about once in a million: the server takes the latest
  const alsoAt = [-3, -2, -1, 1, 2, 3].map((k) => step + k).filter((s) => u.secret && codeAtStep(u.secret, s, PARAMS) === code);
  const lastAlso = [1, 2, 3].map((k) => u.last + k).filter((s) => u.secret && u.last >= 0 && codeAtStep(u.secret, s, PARAMS) === codeAtStep(u.secret, u.last, PARAMS));
  const at = (ms: number) => `${Math.floor(ms / 1000 / PERIOD)}+${((ms / 1000) % PERIOD).toFixed(3)}s`;
  return (
    `${outcome} for step ${step} (last accepted ${u.last}, drift ${u.drift}, driftSteps ${driftSteps}), ` +
    `sent at step ${at(sentAt)}, answered at ${at(answeredAt)}${alsoAt.length ? `; the code is also step ${alsoAt.join(', ')}'s` : ''}` +
    (lastAlso.length ? `; the last accepted code was also step ${lastAlso.join(', ')}'s` : '')
  );
}

export class Population {
  readonly users: User[];
  private validCursor = 0;
  private wrongCursor = 0;

  constructor(count: number) {
    // UUIDs: a common shape of application user ids (36 characters), and what memory is paid for
    this.users = Array.from({ length: count }, (_, i) => ({
      id: randomUUID(),
      ip: `198.18.${(i >> 8) & 255}.${i & 255}`,
      secret: null,
      last: -1,
      drift: 0,
      busy: false,
      codes: new Map(),
    }));
  }

  /** enrollTotp for each user in turn, keeping the secret it answers with. */
  enrollSupply(tally: Tally): () => Shot | null {
    let i = 0;
    return () => {
      if (i >= this.users.length) return null;
      const u = this.users[i++]!;
      return {
        body: JSON.stringify({ query: ENROLL_QUERY, variables: { u: u.id } }),
        done: (status, body) => {
          const secret = status === 200 ? /"secret":"([A-Z2-7]+)"/.exec(body)?.[1] : undefined;
          const ok = secret !== undefined && body.includes('"qrCodeDataUrl":"data:image/png;base64,');
          if (ok) u.secret = parseBase32Secret(secret);
          tally.add(ok ? 'ENROLLED' : status !== 200 ? `HTTP ${status}` : `error ${/"code":"(\w+)"/.exec(body)?.[1] ?? '?'}`);
        },
      };
    };
  }

  /** The next user with a step that will be accepted, or null when none has one now. */
  validSupply(tally: Tally, clientIp: boolean): () => Shot | null {
    return () => {
      const n = this.users.length;
      const now = nowStep();
      for (let tries = 0; tries < n; tries++) {
        const u = this.users[this.validCursor]!;
        this.validCursor = (this.validCursor + 1) % n;
        if (u.busy || !u.secret) continue;
        // safe against one step boundary passing in flight: the window only moves up
        const step = Math.max(u.last + 1, now + u.drift);
        if (step > now + u.drift + 1) continue;
        u.busy = true;
        const secret = u.secret;
        const code = codeOf(u, secret, step);
        const sentAt = Date.now();
        return {
          body: JSON.stringify({ query: VERIFY_QUERY, variables: { u: u.id, c: code, ...(clientIp ? { ip: u.ip } : {}) } }),
          done: (status, body) => {
            const r = outcomeOf(status, body);
            tally.add(r.outcome);
            if (r.activated) tally.activated += 1;
            if (r.outcome !== 'ACCEPTED' || r.driftSteps === null) {
              tally.surprise(surprise(u, step, code, sentAt, r.outcome, r.driftSteps));
              u.secret = null; // its state is no longer known: retire it
              return;
            }
            u.last = latestSharing(u, secret, step, code);
            u.drift = Math.max(-1, Math.min(1, r.driftSteps));
            u.busy = false;
          },
        };
      }
      return null;
    };
  }

  /** A wrong code for the next user: one that no step near now has. */
  wrongSupply(tally: Tally): () => Shot {
    return () => {
      const n = this.users.length;
      let u = this.users[this.wrongCursor]!;
      for (let tries = 0; tries < n && (!u.secret || u.busy); tries++) {
        this.wrongCursor = (this.wrongCursor + 1) % n;
        u = this.users[this.wrongCursor]!;
      }
      this.wrongCursor = (this.wrongCursor + 1) % n;
      const code = u.secret ? wrongCodeAt(u.secret, nowStep()) : '000000';
      return {
        body: JSON.stringify({ query: VERIFY_QUERY, variables: { u: u.id, c: code, ip: u.ip } }),
        done: (status, body) => tally.add(outcomeOf(status, body).outcome),
      };
    };
  }

  /** A second device, "backup", for each of the first `count` users (enrollTotp with a deviceName). */
  backupEnrollSupply(tally: Tally, count: number): () => Shot | null {
    let i = 0;
    return () => {
      if (i >= Math.min(count, this.users.length)) return null;
      const u = this.users[i++]!;
      return {
        body: JSON.stringify({ query: BACKUP_QUERY, variables: { u: u.id } }),
        done: (status, body) => {
          const secret = status === 200 ? /"secret":"([A-Z2-7]+)"/.exec(body)?.[1] : undefined;
          if (secret) u.backup = parseBase32Secret(secret);
          tally.add(secret ? 'ENROLLED' : `HTTP ${status}`);
        },
      };
    };
  }

  /** Each backup device confirmed by a code of its own (its history is empty: the current step). */
  backupActivateSupply(tally: Tally): () => Shot | null {
    const pending = this.users.filter((u) => u.backup);
    let i = 0;
    return () => {
      const u = pending[i++];
      if (!u) return null;
      const code = codeAtStep(u.backup!, nowStep(), PARAMS);
      return {
        body: JSON.stringify({ query: VERIFY_QUERY, variables: { u: u.id, c: code } }),
        done: (status, body) => {
          const r = outcomeOf(status, body);
          tally.add(r.outcome);
          if (r.activated) tally.activated += 1;
        },
      };
    };
  }

  /** A code that is not one (MALFORMED): verifyTotp through GraphQL and the service, never the store. */
  malformedSupply(tally: Tally): () => Shot {
    return () => {
      const u = this.users[this.wrongCursor]!;
      this.wrongCursor = (this.wrongCursor + 1) % this.users.length;
      return {
        body: JSON.stringify({ query: VERIFY_QUERY, variables: { u: u.id, c: 'not-a-code', ip: u.ip } }),
        done: (status, body) => tally.add(outcomeOf(status, body).outcome),
      };
    };
  }

  /** `{ __typename }`: authenticated, no resolver, no store. */
  ceilingSupply(tally: Tally): () => Shot {
    const shot: Shot = {
      body: CEILING_BODY,
      done: (status, body) => tally.add(status === 200 && body.includes('"__typename":"Query"') ? 'OK' : `HTTP ${status}`),
    };
    return () => shot;
  }

  /** Users with a known state (enrolled, not retired). */
  live(): number {
    return this.users.filter((u) => u.secret && !u.busy).length;
  }

  /** Retire users whose request was still in flight when a run ended. */
  settle(): void {
    for (const u of this.users) if (u.busy) [u.secret, u.busy] = [null, false];
  }
}
