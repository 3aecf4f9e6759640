--[[
  revoke: remove a user's factors, recovery codes and counters, and record it.

  KEYS: all 8 of the fixed order of per-user scripts (scripts.ts USER_KEYS); KEYS[5] is unused.
  KEYS[1]  the user's hash                 KEYS[5]  the bucket's audit stream of ids not enrolled
  KEYS[2]  the user's recovery codes       KEYS[6]  the bucket's ACTIVE index
  KEYS[3]  the user's event ids            KEYS[7]  the bucket's PENDING index
  KEYS[4]  the bucket's audit stream       KEYS[8]  the bucket's pending-expiry index

  ARGV[1]  now, epoch ms          ARGV[2]  the user id, base64url (index member)
  ARGV[3]  the user id            ARGV[4]  actor
  ARGV[5]  client address ('' when none)
  ARGV[6]  bucket audit cap       ARGV[7]  user audit cap
  ARGV[8]  reason ('' when none)

  returns  1 when something was enrolled, else 0
]]
local h, now = KEYS[1], tonumber(ARGV[1])
local v = redis.call('HMGET', h, 's', 'pe')
local pe = tonumber(v[2])
local enrolled = v[1] or (pe and pe > now)

redis.call('DEL', h, KEYS[2])
redis.call('ZREM', KEYS[6], ARGV[2])
redis.call('ZREM', KEYS[7], ARGV[2])
redis.call('ZREM', KEYS[8], ARGV[2])
if not enrolled then return 0 end

appendAudit(KEYS[4], KEYS[3], ARGV[6], ARGV[7], true, now,
  eventFields('REVOKED', ARGV[3], ARGV[4], ARGV[5], '', ARGV[8]))
return 1
