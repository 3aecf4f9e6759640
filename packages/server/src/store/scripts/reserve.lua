--[[
  reserve: round trip 1 of a verify. Refuse a locked or unknown user; otherwise count the attempt
  as a failure BEFORE the code is checked (settle gives it back on a match), arming the lockout
  when this attempt spends the budget, and return what checking the code needs: every secret of
  every device of the user (one attempt, however many devices).

  KEYS[1]  the user's hash          KEYS[2]  the user's recovery codes
  KEYS[3]  the bucket's key counts
  ARGV[1]  now, epoch ms
  ARGV[2]  the code's length (6-8), or 0 for a recovery code
  ARGV[3]  failures that start a lockout
  ARGV[4…] lockout lengths in ms for the 1st, 2nd, … lockout (the last repeats)

  returns  {'N'}                       nothing enrolled (or only lapsed pending devices), or for a
                                       recovery code: no unused recovery code left
           {'M'}                       no secret of the user has this code length
           {'L', retryAfterMs}         locked
           {'R', failures, armedUntil, recovery key|false, candidates…}
             each candidate is 7 values: device id, slot (active | pending), sealed secret,
             meta "ALGORITHM:digits:period", generation, last accepted step (epoch s) | '',
             learned drift ('' for a pending secret, whose history is empty)
]]
local h = KEYS[1]
local now = tonumber(ARGV[1])
local codeLength = tonumber(ARGV[2])
local maxFailures = tonumber(ARGV[3])

local user, devices, ids = readUser(h)
ids = dropLapsed(h, devices, ids, now, KEYS[3])
if not isEnrolled(devices, ids) then return {'N'} end
local f, lu, lc, rk = tonumber(user.f) or 0, tonumber(user.lu) or 0, tonumber(user.lc) or 0, user.rk

-- meta is "ALGORITHM:digits:period"; the digits sit at a fixed place after the first colon
local function digitsOf(meta)
  return tonumber(string.match(meta, '^[^:]+:(%d+):'))
end
local candidates, anyActive = {}, false
for _, id in ipairs(ids) do
  local d = devices[id]
  if d.s then
    anyActive = true
    if codeLength > 0 and digitsOf(d.m) == codeLength then
      for _, x in ipairs({id, 'active', d.s, d.m, d.g, d.ls or '', d.dr or '0'}) do candidates[#candidates + 1] = x end
    end
  end
  if d.ps and codeLength > 0 and digitsOf(d.pm) == codeLength then
    for _, x in ipairs({id, 'pending', d.ps, d.pm, d.pg, '', ''}) do candidates[#candidates + 1] = x end
  end
end
if codeLength > 0 and #candidates == 0 then return {'M'} end
if codeLength == 0 and (not anyActive or not rk or redis.call('EXISTS', KEYS[2]) == 0) then return {'N'} end

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

local reply = {'R', f, armed, rk or false}
for _, x in ipairs(candidates) do reply[#reply + 1] = x end
return reply
