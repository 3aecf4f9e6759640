--[[
  unlock: clear a user's failures and lockout, and record it.

  KEYS: the first 5 of the fixed order of per-user scripts (scripts.ts USER_KEYS)
  KEYS[1]  the user's hash                 KEYS[4]  the user's event ids
  KEYS[2]  the user's recovery codes       KEYS[5]  the bucket's audit stream
  KEYS[3]  the bucket's key counts

  ARGV[1]  now, epoch ms     ARGV[2]  the user id     ARGV[3]  actor
  ARGV[4]  client address ('' when none)
  ARGV[5]  bucket audit cap  ARGV[6]  user audit cap

  returns  1 when something is enrolled (and was unlocked), else 0
]]
local h, now = KEYS[1], tonumber(ARGV[1])
local user, devices, ids = readUser(h)
ids = dropLapsed(h, devices, ids, now, KEYS[3])
if not isEnrolled(devices, ids) then return 0 end

local was = ''
if (tonumber(user.lu) or 0) > now then was = 'was locked' end
-- counters at zero are not stored (codec.ts)
redis.call('HDEL', h, 'f', 'lu', 'lc')
appendAudit(KEYS[5], KEYS[4], ARGV[5], ARGV[6], true, now,
  eventFields('UNLOCKED', ARGV[2], ARGV[3], ARGV[4], '', was))
return 1
