--[[ shared prelude: reserve.lua's work (see its header for KEYS, ARGV and the reply) as a function
  of the user's hash already read (readUser). reserve.lua reads it and calls this; attempt.lua
  reads it once and hands the same read, which this keeps in step with what it writes (devices
  lapsed, the counters), on to settle.

  With `defer` (a table; attempt.lua), the counters are kept in `user` only and defer.counters
  is set (defer.stored: whether the hash held counters before): settle writes them in the same
  script unless the code is accepted, which removes them (one HSET fewer on the usual login;
  nothing to put back when the server's secrets were stale).
]]
-- ARGV as reserve.lua's, or attempt.lua's whole ARGV: the same first three, and the lockout
-- lengths from ARGV[firstLevel] (reserve.lua: 4) to the end
local function reserve(KEYS, ARGV, user, devices, ids, defer, firstLevel)
  local h = KEYS[1]
  local now = tonumber(ARGV[1])
  local codeLength = tonumber(ARGV[2])
  local maxFailures = tonumber(ARGV[3])

  ids = dropLapsed(h, devices, ids, now, KEYS[3])
  if not isEnrolled(devices, ids) then return {'N'} end
  local f, lu, lc, rk = tonumber(user.f) or 0, tonumber(user.lu) or 0, tonumber(user.lc) or 0, user.rk

  -- meta is "ALGORITHM:digits:period", the digits at a fixed place after the first colon; an
  -- absent one (not stored: codec.ts) is IMPLICIT_META, and goes out as such
  local function digitsOf(meta)
    return tonumber(string.match(meta, '^[^:]+:(%d+):'))
  end
  local candidates, anyActive = {}, false
  for _, id in ipairs(ids) do
    local d = devices[id]
    if d.s then
      anyActive = true
      local meta = d.m or IMPLICIT_META
      if codeLength > 0 and digitsOf(meta) == codeLength then
        for _, x in ipairs({id, 'active', d.s, meta, d.g, d.ls or '', d.dr or '0'}) do candidates[#candidates + 1] = x end
      end
    end
    local pendingMeta = d.pm or IMPLICIT_META
    if d.ps and codeLength > 0 and digitsOf(pendingMeta) == codeLength then
      for _, x in ipairs({id, 'pending', d.ps, pendingMeta, d.pg, '', ''}) do candidates[#candidates + 1] = x end
    end
  end
  if codeLength > 0 and #candidates == 0 then return {'M'} end
  if codeLength == 0 and (not anyActive or not rk or redis.call('EXISTS', KEYS[2]) == 0) then return {'N'} end

  if lu > now then return {'L', lu - now} end
  if lu > 0 then f = 0; lu = 0 end   -- the lockout has run out: a fresh budget
  local function count()
    if defer then
      -- whether the hash holds counters now (before this read is changed): settle removes them
      -- on an accepted code only then
      if not defer.counters then defer.stored = holdsCounters(user) end
      user.f, user.lu, user.lc = f, lu, lc
      defer.counters = true
    else
      writeCounters(h, user, f, lu, lc)
    end
  end
  local first = firstLevel or 4
  local levels = #ARGV - first + 1
  local function arm()
    local length = tonumber(ARGV[first - 1 + math.min(lc + 1, levels)])
    lc = lc + 1
    lu = now + length
    return lu
  end
  if f >= maxFailures then
    -- only after TOTP_MAX_FAILURES was lowered: lock now rather than never
    arm()
    count()
    return {'L', lu - now}
  end

  f = f + 1
  local armed = 0
  if f >= maxFailures then armed = arm() end
  count()

  local reply = {'R', f, armed, rk or false}
  for _, x in ipairs(candidates) do reply[#reply + 1] = x end
  return reply
end
