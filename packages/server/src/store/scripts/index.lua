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
local limit = tonumber(ARGV[2])
local active, pending = {}, {}
-- the ACTIVE index is in chunks (_index.lua); the PENDING one is one sorted set
if ARGV[3] ~= 'pending' then active = indexRange(KEYS[1], ARGV[1], limit) end
if ARGV[3] ~= 'active' then pending = redis.call('ZRANGE', KEYS[2], ARGV[1], '+', 'BYLEX', 'LIMIT', 0, limit) end
return {active, pending}
