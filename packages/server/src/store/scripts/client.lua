--[[
  client: count one attempt of a client address in a fixed window that starts at its first
  attempt (TOTP_CLIENT_LIMIT per minute).

  KEYS[1]  the client's counter
  ARGV[1]  attempts allowed in a window
  ARGV[2]  window length, ms

  returns  {1, remaining}        within budget
           {0, retryAfterMs}     over budget
]]
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local n = redis.call('INCR', KEYS[1])
-- the window starts with the counter; its time left is read only for an answer over budget (a
-- counter found without one, which no script leaves, gets a window there)
if n == 1 then redis.call('PEXPIRE', KEYS[1], window) end
if n <= limit then return {1, limit - n} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], window)
  ttl = window
end
return {0, ttl}
