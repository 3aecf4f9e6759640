--[[
  recount: count again, from the users themselves, what each key seals in one bucket: every
  sealed value (each device's secret and pending secret, the recovery key) of every user with a
  confirmed device (the others carry a TTL and are not counted, see _user.lua). One atomic step,
  so nothing written meanwhile is counted twice or missed; its work is the bucket's confirmed
  users (a stop of Redis for about 2 µs per user). For a store written before the counts existed
  (an upgrade), and by rekeyTotp. The counts hash also records that it was counted ('#counted').

  KEYS[1]  the bucket's key counts   KEYS[2]  the bucket's ACTIVE index
  ARGV[1]  what comes before a member in a user hash's full name (key prefix, hash tag, ':u:'):
           the users are named by the index, not by the caller

  returns  the users counted
]]
local members = indexAll(KEYS[2])
local counts = {}
for _, m in ipairs(members) do
  local user, devices, ids = readUser(ARGV[1] .. m)
  for k, n in pairs(contributionOf(user, devices, ids)) do counts[k] = (counts[k] or 0) + n end
end
redis.call('DEL', KEYS[1])
local fields = {'#counted', 1}
for k, n in pairs(counts) do
  fields[#fields + 1] = k
  fields[#fields + 1] = n
end
redis.call('HSET', KEYS[1], unpack(fields))
return #members
