import type { VerifyOutcome } from '@totp-service/core';
import { num, text, unpackMeta } from './codec.js';
import type { MemoryAuditLog } from './memory-audit.js';
import { type UserHash, deviceName, isActive, type Device } from './memory-user.js';
import type { CandidateFactor, Reservation, SettleResult, Store } from './store.js';

/**
 * The two round trips of a verify in the embedded store: reserve.lua and settle.lua, in process,
 * over the same fields. Each runs to completion without awaiting, so it is atomic per user.
 */
export interface AttemptState {
  hash(userId: string, now: number): UserHash | undefined;
  reindex(userId: string, devices: readonly Device[]): void;
  readonly recovery: Map<string, Set<string>>;
  readonly audit: MemoryAuditLog;
  readonly clients: Map<string, { count: number; resetAt: number }>;
}

type ReserveReq = Parameters<Store['reserve']>[0];
type SettleReq = Parameters<Store['settle']>[0];

/** Every secret of every device whose length fits the code (none for a recovery code). */
function candidatesOf(devices: readonly Device[], codeLength: number): CandidateFactor[] {
  const out: CandidateFactor[] = [];
  if (codeLength === 0) return out;
  for (const d of devices) {
    const active = isActive(d) ? unpackMeta(text(d.f.m)) : null;
    if (active?.digits === codeLength) {
      out.push({ deviceId: d.id, slot: 'active', sealed: d.f.s as Buffer, generation: text(d.f.g)!, ...active, lastStepAt: num(d.f.ls) ?? null, drift: num(d.f.dr) ?? 0 });
    }
    const pending = d.f.ps !== undefined ? unpackMeta(text(d.f.pm)) : null;
    if (pending?.digits === codeLength) {
      out.push({ deviceId: d.id, slot: 'pending', sealed: d.f.ps as Buffer, generation: text(d.f.pg)!, ...pending, lastStepAt: null, drift: 0 });
    }
  }
  return out;
}

/** reserve.lua, in process. */
function reserveUser(state: AttemptState, req: ReserveReq): Reservation {
  const { now, codeLength, limits } = req;
  const h = state.hash(req.userId, now);
  const devices = h?.devices(now) ?? [];
  if (!h || devices.length === 0) return { kind: 'refused', outcome: 'NOT_ENROLLED' };
  const candidates = candidatesOf(devices, codeLength);
  if (codeLength > 0 && candidates.length === 0) return { kind: 'refused', outcome: 'MALFORMED' };
  if (codeLength === 0 && (!devices.some(isActive) || h.fields.rk === undefined || !state.recovery.get(req.userId)?.size)) {
    return { kind: 'refused', outcome: 'NOT_ENROLLED' };
  }
  let [f, lu, lc] = [h.num('f'), h.num('lu'), h.num('lc')];
  if (lu > now) return { kind: 'refused', outcome: 'LOCKED', retryAfterMillis: lu - now };
  if (lu > 0) [f, lu] = [0, 0];
  const arm = () => {
    lc += 1;
    lu = now + limits.lockoutMillis[Math.min(lc, limits.lockoutMillis.length) - 1]!;
    return lu;
  };
  const write = () => Object.assign(h.fields, { f: String(f), lu: String(lu), lc: String(lc) });
  if (f >= limits.maxFailures) {
    arm();
    write();
    return { kind: 'refused', outcome: 'LOCKED', retryAfterMillis: lu - now };
  }
  f += 1;
  const armedUntil = f >= limits.maxFailures ? arm() : 0;
  write();
  return {
    kind: 'reserved',
    hold: { failures: f, armedUntil },
    candidates,
    ...(h.fields.rk !== undefined ? { recoveryKey: h.fields.rk as Buffer } : {}),
  };
}

/** The user's reservation, and the client address's counter when a clientIp is given. */
export function reserveAttempt(state: AttemptState, req: ReserveReq): Reservation {
  const user = reserveUser(state, req);
  if (req.clientIp === undefined) return user;
  const now = req.now;
  let c = state.clients.get(req.clientIp);
  if (!c || c.resetAt <= now) state.clients.set(req.clientIp, (c = { count: 0, resetAt: now + req.limits.clientWindowMillis }));
  c.count += 1;
  if (c.count > req.limits.clientLimit) {
    return { kind: 'refused', outcome: 'RATE_LIMITED', retryAfterMillis: c.resetAt - now, ...(user.kind === 'reserved' ? { hold: user.hold } : {}) };
  }
  return user;
}

interface Settled {
  outcome: VerifyOutcome | null;
  detail: string;
  activated: boolean;
  device: { id: string; name: string } | null;
}

/** settleMatch of settle.lua: the compare-and-set on the matched secret's own last step. */
function settleMatch(state: AttemptState, h: UserHash, userId: string, devices: readonly Device[], req: SettleReq, accept: () => void): Settled {
  const s = req.settlement as Extract<SettleReq['settlement'], { kind: 'match' }>;
  const d = devices.find((x) => x.id === s.deviceId);
  const g = text(d?.f.g);
  const pg = text(d?.f.pg);
  // a pending secret promoted meanwhile is the device's secret now (settle.lua)
  const slot = s.slot === 'pending' && pg !== s.generation && g === s.generation ? 'active' : s.slot;
  const current = slot === 'active' ? g : pg;
  if (!d || current === undefined || current !== s.generation) {
    return { outcome: 'INVALID_CODE', detail: 'factor replaced during verify', activated: false, device: null };
  }
  if (slot === 'active' && d.f.ls !== undefined && s.stepAt <= num(d.f.ls)!) return { outcome: 'REPLAYED', detail: '', activated: false, device: null };
  accept();
  h.put(d.id, 'ls', s.stepAt);
  h.put(d.id, 'dr', s.drift === 0 ? undefined : s.drift);
  if (slot === 'pending') {
    const f = d.f;
    for (const [k, v] of Object.entries({ s: f.ps, m: f.pm, i: f.pi, g: f.pg, c: f.pc, v: String(req.now), n: f.pn })) h.put(d.id, k, v);
    h.drop(d.id, ['ps', 'pm', 'pi', 'pn', 'pg', 'pc', 'pe']);
    state.reindex(userId, h.devices(req.now));
  }
  const detail = s.drift !== 0 ? `drift ${s.drift}` : '';
  return { outcome: 'ACCEPTED', detail, activated: slot === 'pending', device: { id: d.id, name: deviceName(d) } };
}

/** settle.lua, in process. */
export function settleAttempt(state: AttemptState, req: SettleReq): SettleResult {
  const { userId, now, settlement: s } = req;
  const armed = req.hold?.armedUntil ?? 0;
  const h = state.hash(userId, now);
  const devices = h?.devices(now) ?? [];
  const enrolled = devices.length > 0;
  let [f, lu, lc] = [h?.num('f') ?? 0, h?.num('lu') ?? 0, h?.num('lc') ?? 0];
  const accept = () => {
    [f, lu, lc] = [0, 0, 0];
    for (const k of ['f', 'lu', 'lc']) h!.user(k, undefined);
    h!.user('lv', now);
  };
  let r: Settled = { outcome: 'INVALID_CODE', detail: '', activated: false, device: null };
  if (s.kind === 'none') {
    r = { ...r, outcome: s.outcome, detail: s.detail ?? '' };
  } else if (s.kind === 'release') {
    r = { ...r, outcome: s.outcome, detail: s.detail ?? '' };
    if (enrolled) {
      if (f > 0) f -= 1;
      if (armed > 0 && lu === armed) [lu, lc] = [0, Math.max(0, lc - 1)];
      Object.assign(h!.fields, { f: String(f), lu: String(lu), lc: String(lc) });
    }
  } else if (s.kind === 'match') {
    r = settleMatch(state, h!, userId, devices, req, accept);
  } else if (s.kind === 'recovery') {
    const codes = state.recovery.get(userId);
    if (devices.some(isActive) && codes?.delete(s.hash)) {
      accept();
      r = { ...r, outcome: 'ACCEPTED', detail: `${codes.size} codes left` };
      if (codes.size === 0) h!.user('rk', undefined);
    }
  }
  record(state, req, enrolled, r, armed > 0 && lu === armed && (r.outcome === 'INVALID_CODE' || r.outcome === 'REPLAYED') ? { lu, f } : null);
  return {
    outcome: r.outcome,
    activated: r.activated,
    failures: f,
    lockedUntil: lu,
    ...(req.recovery ? { recoveryCodesRemaining: state.recovery.get(userId)?.size ?? 0 } : {}),
    device: r.device,
  };
}

/** The audit events of a settled attempt (settle.lua's record). */
function record(state: AttemptState, req: SettleReq, enrolled: boolean, r: Settled, lockedNow: { lu: number; f: number } | null): void {
  const { userId, now, actor } = req;
  const deviceId = r.device?.id ?? '';
  state.audit.append(userId, enrolled, now, req.recovery ? 'RECOVERY_CODE_USED' : 'VERIFY', actor, r.outcome ?? '', r.detail, deviceId);
  if (r.activated) state.audit.append(userId, enrolled, now, 'ACTIVATED', actor, '', '', deviceId);
  if (lockedNow) {
    state.audit.append(userId, enrolled, now, 'LOCKED', actor, '', `locked for ${Math.ceil((lockedNow.lu - now) / 1000)}s after ${lockedNow.f} failures`);
  }
}

