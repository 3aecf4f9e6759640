--[[
  settle: round trip 2 of a verify. Decide the outcome with a compare-and-set on the user's last
  accepted step, update failures, lockout, drift and activation, and write the audit events, all
  in one atomic step.

  KEYS: all 8 of the fixed order of per-user scripts (scripts.ts USER_KEYS).
  KEYS[1]  the user's hash                 KEYS[5]  the bucket's audit stream of ids not enrolled
  KEYS[2]  the user's recovery codes       KEYS[6]  the bucket's ACTIVE index
  KEYS[3]  the user's event ids            KEYS[7]  the bucket's PENDING index
  KEYS[4]  the bucket's audit stream       KEYS[8]  the bucket's pending-expiry index

  ARGV[1]  now, epoch ms
  ARGV[2]  settlement: match | recovery | miss | release | none
  ARGV[3]  armedUntil of the reservation (0 when it armed no lockout)
  ARGV[4]  match: slot (active | pending); recovery: the code's keyed hash;
           none, release: the outcome to record ('' for none)
  ARGV[5]  match: the generation of the matched secret; none, release: detail to record
  ARGV[6]  match: the start of the matched step, epoch seconds (steps of 30 s and 60 s compare)
  ARGV[7]  match: the drift to remember
  ARGV[8]  the user id, base64url (index member)
  ARGV[9]  the user id
  ARGV[10] actor             ARGV[11] client address ('' when none)
  ARGV[12] bucket audit cap  ARGV[13] user audit cap
  ARGV[14] event type: VERIFY | RECOVERY_CODE_USED

  returns  {outcome, activated 0|1, failures, lockedUntil, recovery codes left}
           (an accepted recovery code is recorded with the number of codes left as its detail)
]]
local h, events, audit = KEYS[1], KEYS[3], KEYS[4]
local now, kind, armed = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])

local v = redis.call('HMGET', h, 'g', 'pg', 'pe', 'ls', 'f', 'lu', 'lc')
local g, pg, pe, ls = v[1], v[2], tonumber(v[3]), tonumber(v[4])
local f, lu, lc = tonumber(v[5]) or 0, tonumber(v[6]) or 0, tonumber(v[7]) or 0
if pg and (not pe or pe <= now) then pg = false end
local enrolled = g or pg

local outcome, activated, detail = nil, 0, ''
-- counters at zero are not stored (codec.ts)
local function accept()
  f, lu, lc = 0, 0, 0
  redis.call('HDEL', h, 'f', 'lu', 'lc')
end

if kind == 'none' then
  outcome, detail = ARGV[4], ARGV[5]
elseif kind == 'release' then
  outcome, detail = ARGV[4], ARGV[5]
  if enrolled then
    if f > 0 then f = f - 1 end
    if armed > 0 and lu == armed then lu = 0; if lc > 0 then lc = lc - 1 end end
    redis.call('HSET', h, 'f', f, 'lu', lu, 'lc', lc)
  end
elseif kind == 'miss' then
  outcome = 'INVALID_CODE'
elseif kind == 'match' then
  local slot, generation, step = ARGV[4], ARGV[5], tonumber(ARGV[6])
  -- a pending secret confirmed meanwhile (a concurrent verify activated it) is the active one now:
  -- its code is then judged as a code of the active secret (REPLAYED for the same step)
  if slot == 'pending' and pg ~= generation and g == generation then slot = 'active' end
  local current = g
  if slot == 'pending' then current = pg end
  if not current or current ~= generation then
    outcome = 'INVALID_CODE'
    detail = 'factor replaced during verify'
  elseif slot == 'active' and ls and step <= ls then
    -- the last accepted step is the active secret's: a pending secret has accepted nothing yet
    -- (its first accepted code promotes it), so its codes are judged by its own, empty, history
    outcome = 'REPLAYED'
  else
    outcome = 'ACCEPTED'
    accept()
    redis.call('HSET', h, 'lv', now, 'ls', step, 'dr', ARGV[7])
    if ARGV[7] ~= '0' then detail = 'drift ' .. ARGV[7] end
    if slot == 'pending' then
      local p = redis.call('HMGET', h, 'ps', 'pm', 'pi', 'pn', 'pc')
      redis.call('HSET', h, 's', p[1], 'm', p[2], 'i', p[3], 'g', pg, 'c', p[5], 'v', now)
      -- no pn: the account name is the user id, and so stays unstored
      if p[4] then redis.call('HSET', h, 'n', p[4]) else redis.call('HDEL', h, 'n') end
      redis.call('HDEL', h, 'ps', 'pm', 'pi', 'pn', 'pg', 'pc', 'pe')
      redis.call('PERSIST', h)
      redis.call('PERSIST', KEYS[2])
      redis.call('ZREM', KEYS[7], ARGV[8])
      redis.call('ZREM', KEYS[8], ARGV[8])
      redis.call('ZADD', KEYS[6], 0, ARGV[8])
      activated = 1
    end
  end
elseif kind == 'recovery' then
  if g and redis.call('HDEL', KEYS[2], ARGV[4]) == 1 then
    outcome = 'ACCEPTED'
    accept()
    redis.call('HSET', h, 'lv', now)
    local left = redis.call('HLEN', KEYS[2])
    detail = left .. ' codes left'
    -- the last code is used: its key opens nothing any more
    if left == 0 then redis.call('HDEL', h, 'rk') end
  else
    outcome = 'INVALID_CODE'
  end
end

local failed = outcome == 'INVALID_CODE' or outcome == 'REPLAYED'
local lockedNow = failed and armed > 0 and lu == armed

-- events about an id with nothing enrolled go to a stream of their own, never to a user's list:
-- traffic about invented (or revoked) ids must not push enrolled users' events out of the log
local stream = audit
if not enrolled then stream = KEYS[5] end
local auditMax, userMax = ARGV[12], ARGV[13]
local function record(eventType, eventOutcome, eventDetail)
  appendAudit(stream, events, auditMax, userMax, enrolled, now,
    eventFields(eventType, ARGV[9], ARGV[10], ARGV[11], eventOutcome, eventDetail))
end
record(ARGV[14], outcome, detail)
if activated == 1 then record('ACTIVATED', '', '') end
if lockedNow then record('LOCKED', '', 'locked for ' .. math.ceil((lu - now) / 1000) .. 's after ' .. f .. ' failures') end

local left = 0
if kind == 'recovery' then left = redis.call('HLEN', KEYS[2]) end
return {outcome, activated, f, lu, left}
