--[[
  client: count one attempt of a client address in a fixed window that starts at its first
  attempt (TOTP_CLIENT_LIMIT per minute).

  KEYS[1]  the client's counter
  ARGV[1]  attempts allowed in a window
  ARGV[2]  window length, ms

  returns  {1, remaining}        within budget
           {0, retryAfterMs}     over budget
]]
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  ttl = tonumber(ARGV[2])
end
if n > tonumber(ARGV[1]) then return {0, ttl} end
return {1, tonumber(ARGV[1]) - n}
