--[[
  reserve: round trip 1 of a verify. Refuse a locked or unknown user; otherwise count the attempt
  as a failure BEFORE the code is checked (settle gives it back on a match), arming the lockout
  when this attempt spends the budget, and return what checking the code needs.

  KEYS[1]  the user's hash          KEYS[2]  the user's recovery codes
  ARGV[1]  now, epoch ms
  ARGV[2]  the code's length (6-8), or 0 for a recovery code
  ARGV[3]  failures that start a lockout
  ARGV[4…] lockout lengths in ms for the 1st, 2nd, … lockout (the last repeats)

  returns  {'N'}                       nothing enrolled (or only a lapsed pending enrollment), or for a
                                       recovery code: no unused recovery code left
           {'M'}                       no enrolled factor has this code length
           {'L', retryAfterMs}         locked
           {'R', failures, armedUntil, lastStep|false, drift,
                 active sealed|false, active meta|false, active generation|false,
                 pending sealed|false, pending meta|false, pending generation|false,
                 recovery key|false}
]]
local h = KEYS[1]
local now = tonumber(ARGV[1])
local codeLength = tonumber(ARGV[2])
local maxFailures = tonumber(ARGV[3])

local v = redis.call('HMGET', h, 's', 'm', 'g', 'ps', 'pm', 'pg', 'pe', 'ls', 'dr', 'f', 'lu', 'lc', 'rk')
local s, m, g, ps, pm, pg, pe = v[1], v[2], v[3], v[4], v[5], v[6], tonumber(v[7])
local ls, dr, f, lu, lc, rk = v[8], tonumber(v[9]) or 0, tonumber(v[10]) or 0, tonumber(v[11]) or 0, tonumber(v[12]) or 0, v[13]

if ps and (not pe or pe <= now) then
  ps, pm, pg = false, false, false
  -- a replacement that lapsed unconfirmed is gone: its sealed secret is not kept (nor rekeyed)
  if s then redis.call('HDEL', h, 'ps', 'pm', 'pi', 'pn', 'pg', 'pc', 'pe') end
end
if not s and not ps then return {'N'} end

-- meta is "ALGORITHM:digits:period"; the digits sit at a fixed place after the first colon
local function digitsOf(meta)
  if not meta then return -1 end
  return tonumber(string.match(meta, '^[^:]+:(%d+):'))
end
if codeLength > 0 and digitsOf(m) ~= codeLength and digitsOf(pm) ~= codeLength then return {'M'} end
if codeLength == 0 and (not s or not rk or redis.call('EXISTS', KEYS[2]) == 0) then return {'N'} end

if lu > now then return {'L', lu - now} end
if lu > 0 then f = 0; lu = 0 end   -- the lockout has run out: a fresh budget
local levels = #ARGV - 3
local function arm()
  local length = tonumber(ARGV[3 + math.min(lc + 1, levels)])
  lc = lc + 1
  lu = now + length
  return lu
end
if f >= maxFailures then
  -- only after TOTP_MAX_FAILURES was lowered: lock now rather than never
  arm()
  redis.call('HSET', h, 'f', f, 'lu', lu, 'lc', lc)
  return {'L', lu - now}
end

f = f + 1
local armed = 0
if f >= maxFailures then armed = arm() end
redis.call('HSET', h, 'f', f, 'lu', lu, 'lc', lc)

return {'R', f, armed, ls or false, dr, s or false, m or false, g or false, ps or false, pm or false, pg or false, rk or false}
