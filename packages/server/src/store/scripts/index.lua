--[[
  index: one slice of a bucket's enrollment indexes, for listing and for rekeyTotp. Both indexes
  are read in one atomic step, so a user moving from PENDING to ACTIVE between two reads can be
  neither missed nor seen twice. Read only.

  KEYS[1]  the bucket's ACTIVE index   KEYS[2]  the bucket's PENDING index
  ARGV[1]  lower bound: '-' (from the start) or '(' .. member (after that member)
  ARGV[2]  at most this many members from each index
  ARGV[3]  which: all | active | pending

  returns  {active members, pending members}, each ascending in byte order
]]
local function range(key)
  return redis.call('ZRANGE', key, ARGV[1], '+', 'BYLEX', 'LIMIT', 0, tonumber(ARGV[2]))
end
local active, pending = {}, {}
if ARGV[3] ~= 'pending' then active = range(KEYS[1]) end
if ARGV[3] ~= 'active' then pending = range(KEYS[2]) end
return {active, pending}
