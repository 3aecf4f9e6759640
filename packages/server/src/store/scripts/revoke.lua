--[[
  revoke: remove one device of a user, or everything the user has (every device, the recovery
  codes, the counters), and record it. Removing the last device removes everything.

  KEYS: all 9 of the fixed order of per-user scripts (scripts.ts USER_KEYS); KEYS[6] is unused.
  KEYS[1]  the user's hash                 KEYS[6]  the bucket's audit stream of ids not enrolled
  KEYS[2]  the user's recovery codes       KEYS[7]  the bucket's ACTIVE index
  KEYS[3]  the bucket's key counts         KEYS[8]  the bucket's PENDING index
  KEYS[4]  the user's event ids            KEYS[9]  the bucket's pending-expiry index
  KEYS[5]  the bucket's audit stream

  ARGV[1]  now, epoch ms          ARGV[2]  the user's index member (keys.ts)
  ARGV[3]  the user id            ARGV[4]  actor
  ARGV[5]  client address ('' when none)
  ARGV[6]  bucket audit cap       ARGV[7]  user audit cap
  ARGV[8]  reason ('' when none)  ARGV[9]  the device to remove ('' for everything)

  returns  1 when something was removed, else 0
]]
local h, codes, now, deviceId = KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[9]
local user, devices, ids = readUser(h)
ids = dropLapsed(h, devices, ids, now, KEYS[3])
local before = contributionOf(user, devices, ids)

if deviceId ~= '' then
  if not devices[deviceId] then return 0 end
  hdelDevice(h, deviceId, ALL_DEVICE_FIELDS)
  devices[deviceId] = nil
  local left = {}
  for _, id in ipairs(ids) do if id ~= deviceId then left[#left + 1] = id end end
  -- the last device takes the recovery codes and counters with it (reindex deletes the record)
  reindex(h, codes, KEYS[7], KEYS[8], KEYS[9], ARGV[2], devices, left, now)
  countDiff(KEYS[3], before, contribution(h))
else
  redis.call('DEL', h, codes)
  unindex(h, KEYS[7], KEYS[8], KEYS[9], ARGV[2])
  countDiff(KEYS[3], before, {})
  if not isEnrolled(devices, ids) then return 0 end
end

appendAudit(KEYS[5], KEYS[4], ARGV[6], ARGV[7], true, now,
  eventFields('REVOKED', ARGV[3], ARGV[4], ARGV[5], '', ARGV[8], deviceId))
return 1
