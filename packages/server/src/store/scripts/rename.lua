--[[
  rename: give one of a user's devices a new name (unique within the user), and record it.

  KEYS: the first 5 of the fixed order of per-user scripts (scripts.ts USER_KEYS)
  KEYS[1]  the user's hash                 KEYS[4]  the user's event ids
  KEYS[2]  the user's recovery codes       KEYS[5]  the bucket's audit stream
  KEYS[3]  the bucket's key counts

  ARGV[1]  now, epoch ms     ARGV[2]  the user id     ARGV[3]  actor
  ARGV[4]  client address ('' when none)
  ARGV[5]  bucket audit cap  ARGV[6]  user audit cap
  ARGV[7]  the device id     ARGV[8]  its new name

  returns  {'OK', old name} | {'NOT_ENROLLED'} (no such device) | {'NAME_TAKEN'}
]]
local h, now, deviceId, name = KEYS[1], tonumber(ARGV[1]), ARGV[7], ARGV[8]
local user, devices, ids = readUser(h)
ids = dropLapsed(h, devices, ids, now, KEYS[3])
local d = devices[deviceId]
if not d then return {'NOT_ENROLLED'} end
for _, id in ipairs(ids) do
  if id ~= deviceId and deviceName(devices[id]) == name then return {'NAME_TAKEN'} end
end
local old = deviceName(d)
if name == 'default' then redis.call('HDEL', h, prefix(deviceId) .. 'nm') else redis.call('HSET', h, prefix(deviceId) .. 'nm', name) end
if old ~= name then
  appendAudit(KEYS[5], KEYS[4], ARGV[5], ARGV[6], true, now,
    eventFields('DEVICE_RENAMED', ARGV[2], ARGV[3], ARGV[4], '', 'from "' .. old .. '" to "' .. name .. '"', deviceId))
end
return {'OK', old}
