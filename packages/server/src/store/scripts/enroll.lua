--[[
  enroll: write a new factor for a user, as PENDING (enrollTotp) or ACTIVE at once (importTotp).
  A pending factor replaces any earlier pending one; an ACTIVE user is refused unless `replace`,
  and then (pending mode) keeps the old factor working until the new one is confirmed.

  KEYS[1]  the user's hash          KEYS[4]  the bucket's ACTIVE index
  KEYS[2]  the user's event ids    KEYS[5]  the bucket's PENDING index
  KEYS[3]  the bucket's audit stream KEYS[6] the bucket's pending-expiry index
  KEYS[7]  the user's recovery codes (made during a pending enrollment, they share its life)

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
if not active and not (pe and pe > now) then redis.call('DEL', h, KEYS[7]) end

-- lapsed pending enrollments of this bucket leave its indexes (a few per call: bounded work)
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now, 'LIMIT', 0, 16)
for _, m in ipairs(lapsed) do
  redis.call('ZREM', KEYS[5], m)
  redis.call('ZREM', KEYS[6], m)
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
    if redis.call('EXISTS', KEYS[7]) == 1 then redis.call('PEXPIRE', KEYS[7], ARGV[5]) end
    redis.call('ZADD', KEYS[5], 0, member)
    redis.call('ZADD', KEYS[6], ARGV[4], member)
  end
else
  redis.call('HSET', h, 's', ARGV[6], 'm', ARGV[7], 'i', ARGV[8],
    'g', ARGV[10], 'c', now, 'v', now)
  accountName('n')
  redis.call('HDEL', h, 'ps', 'pm', 'pi', 'pn', 'pg', 'pc', 'pe')
  redis.call('PERSIST', h)
  redis.call('PERSIST', KEYS[7])
  redis.call('ZREM', KEYS[5], member)
  redis.call('ZREM', KEYS[6], member)
  redis.call('ZADD', KEYS[4], 0, member)
end

appendAudit(KEYS[3], KEYS[2], ARGV[15], ARGV[16], true, now,
  eventFields(ARGV[17], ARGV[12], ARGV[13], ARGV[14], '', ARGV[18]))
return 'OK'
