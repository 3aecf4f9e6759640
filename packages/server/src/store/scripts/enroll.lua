--[[
  enroll: write a new factor for a user, as PENDING (enrollTotp) or ACTIVE at once (importTotp).
  A pending factor replaces any earlier pending one; an ACTIVE user is refused unless `replace`,
  and then (pending mode) keeps the old factor working until the new one is confirmed.

  KEYS: all 8 of the fixed order of per-user scripts (scripts.ts USER_KEYS); KEYS[5] is unused.
  Recovery codes made during a pending enrollment (KEYS[2]) share its life.
  KEYS[1]  the user's hash                 KEYS[5]  the bucket's audit stream of ids not enrolled
  KEYS[2]  the user's recovery codes       KEYS[6]  the bucket's ACTIVE index
  KEYS[3]  the user's event ids            KEYS[7]  the bucket's PENDING index
  KEYS[4]  the bucket's audit stream       KEYS[8]  the bucket's pending-expiry index

  ARGV[1]  now, epoch ms           ARGV[2]  mode: pending | active
  ARGV[3]  replace: 1 | 0          ARGV[4]  pending: expiresAt, epoch ms
  ARGV[5]  pending: its life in ms
  ARGV[6]  sealed secret           ARGV[7]  meta "ALGORITHM:digits:period"
  ARGV[8]  issuer                  ARGV[9]  account name ('' when it is the user id: not stored)
  ARGV[10] generation              ARGV[11] the user id, base64url (index member)
  ARGV[12] the user id             ARGV[13] actor
  ARGV[14] client address ('' when none)
  ARGV[15] bucket audit cap        ARGV[16] user audit cap
  ARGV[17] event type: ENROLLED | IMPORTED
  ARGV[18] event detail

  returns  'OK' | 'ALREADY_ENROLLED'
]]
local h = KEYS[1]
local now, mode, replace = tonumber(ARGV[1]), ARGV[2], ARGV[3] == '1'
local member = ARGV[11]

local v = redis.call('HMGET', h, 's', 'pe')
local active = v[1] ~= false
if active and not replace then return 'ALREADY_ENROLLED' end
-- a record whose only enrollment has lapsed is gone, even if its TTL has not fired yet (clock
-- skew between servers and Redis): start afresh, without its counters or recovery codes
local pe = tonumber(v[2])
if not active and not (pe and pe > now) then redis.call('DEL', h, KEYS[2]) end

-- lapsed pending enrollments of this bucket leave its indexes (a few per call: bounded work)
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[8], '-inf', now, 'LIMIT', 0, 16)
for _, m in ipairs(lapsed) do
  redis.call('ZREM', KEYS[7], m)
  redis.call('ZREM', KEYS[8], m)
end

-- the account name when it is not the user id (the default), else nothing
local function accountName(field)
  if ARGV[9] == '' then redis.call('HDEL', h, field) else redis.call('HSET', h, field, ARGV[9]) end
end

if mode == 'pending' then
  redis.call('HSET', h, 'ps', ARGV[6], 'pm', ARGV[7], 'pi', ARGV[8],
    'pg', ARGV[10], 'pc', now, 'pe', ARGV[4])
  accountName('pn')
  if not active then
    -- nothing else to keep: the record lives exactly as long as the pending enrollment
    redis.call('PEXPIRE', h, ARGV[5])
    if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
    redis.call('ZADD', KEYS[7], 0, member)
    redis.call('ZADD', KEYS[8], ARGV[4], member)
  end
else
  redis.call('HSET', h, 's', ARGV[6], 'm', ARGV[7], 'i', ARGV[8],
    'g', ARGV[10], 'c', now, 'v', now)
  accountName('n')
  redis.call('HDEL', h, 'ps', 'pm', 'pi', 'pn', 'pg', 'pc', 'pe')
  redis.call('PERSIST', h)
  redis.call('PERSIST', KEYS[2])
  redis.call('ZREM', KEYS[7], member)
  redis.call('ZREM', KEYS[8], member)
  redis.call('ZADD', KEYS[6], 0, member)
end

appendAudit(KEYS[4], KEYS[3], ARGV[15], ARGV[16], true, now,
  eventFields(ARGV[17], ARGV[12], ARGV[13], ARGV[14], '', ARGV[18]))
return 'OK'
