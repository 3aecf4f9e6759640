--[[
  giveback: return the attempt a reservation counted, when the request failed for the store's sake
  after it (the client-address counter of the same verify could not be reached). Like settle's
  release, without an audit event: the request answered SERVICE_UNAVAILABLE and changed nothing.

  KEYS[1]  the user's hash
  ARGV[1]  armedUntil of the reservation (0 when it armed no lockout)

  returns  1 when an attempt was given back, else 0
]]
local v = redis.call('HMGET', KEYS[1], 'f', 'lu', 'lc')
local f, lu, lc = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0
if f == 0 then return 0 end
f = f - 1
local armed = tonumber(ARGV[1])
if armed > 0 and lu == armed then
  lu = 0
  if lc > 0 then lc = lc - 1 end
end
-- counters at zero are not stored (codec.ts)
if f == 0 and lu == 0 and lc == 0 then
  redis.call('HDEL', KEYS[1], 'f', 'lu', 'lc')
else
  redis.call('HSET', KEYS[1], 'f', f, 'lu', lu, 'lc', lc)
end
return 1
