--[[
  recovery: replace a user's recovery codes, and record it (never the codes: only how many).
  The codes' keyed hashes are computed by the caller with the user's recovery key, which is kept
  sealed in the user's hash (field rk), so a rekey can re-seal it without touching the hashes.

  KEYS: the first 5 of the fixed order of per-user scripts (scripts.ts USER_KEYS)
  KEYS[1]  the user's hash                 KEYS[4]  the user's event ids
  KEYS[2]  the user's recovery codes       KEYS[5]  the bucket's audit stream
  KEYS[3]  the bucket's key counts

  ARGV[1]  now, epoch ms          ARGV[2]  the sealed recovery key
  ARGV[3]  the user id            ARGV[4]  actor
  ARGV[5]  client address ('' when none)
  ARGV[6]  bucket audit cap       ARGV[7]  user audit cap
  ARGV[8…] the codes' keyed hashes

  returns  the number of unused codes replaced, or -1 when nothing is enrolled

  Codes may be made while the enrollment is still PENDING (shown during set-up, usable once it is
  confirmed): they then live exactly as long as the pending record (same TTL), and activation
  (settle) or an import (enroll) makes them permanent with it.
]]
local h, codes, now = KEYS[1], KEYS[2], tonumber(ARGV[1])
local user, devices, ids = readUser(h)
ids = dropLapsed(h, devices, ids, now, KEYS[3])
local before = contributionOf(user, devices, ids)
if not isEnrolled(devices, ids) then return -1 end
local pendingOnly = true
for _, id in ipairs(ids) do if devices[id].s then pendingOnly = false end end

local replaced = redis.call('HLEN', codes)
redis.call('DEL', codes)
local fields = {}
for i = 8, #ARGV do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[1]
end
redis.call('HSET', codes, unpack(fields))
redis.call('HSET', h, 'rk', ARGV[2])
countDiff(KEYS[3], before, contribution(h))
if pendingOnly then
  local ttl = redis.call('PTTL', h)
  if ttl > 0 then redis.call('PEXPIRE', codes, ttl) end
end

local detail = (#ARGV - 7) .. ' codes'
if replaced > 0 then detail = detail .. ', replacing ' .. replaced .. ' unused' end
appendAudit(KEYS[5], KEYS[4], ARGV[6], ARGV[7], true, now,
  eventFields('RECOVERY_CODES_GENERATED', ARGV[3], ARGV[4], ARGV[5], '', detail))
return replaced
