--[[
  events: one user's audit events, newest first, with XREVRANGE's bounds and reply shape. The
  user's list holds the ids of the user's entries in the bucket stream, newest first ("<ms>" for
  "<ms>-0"); each id in the bounds is read from the stream (an entry trimmed from the stream is
  gone for the user too). The work is bounded by the user's own events: the list is walked from
  its head, in slices. Read only.

  KEYS[1]  the user's list of event ids    KEYS[2]  the bucket's audit stream
  ARGV[1]  upper bound: '+', '<ms>', '<ms>-<seq>', or '(' .. '<ms>-<seq>' (exclusive)
  ARGV[2]  lower bound: '-', '<ms>', '<ms>-<seq>', or '(' .. '<ms>-<seq>' (exclusive)
  ARGV[3]  at most this many entries

  returns  {{id, {field, value, …}}, …} newest first, like XREVRANGE
]]
local INF = math.huge

-- a bound as {ms, seq, exclusive}; a bare ms covers every seq of that ms
local function bound(b, upper)
  if b == '+' then return {INF, INF, false} end
  if b == '-' then return {-INF, -INF, false} end
  local exclusive = string.sub(b, 1, 1) == '('
  if exclusive then b = string.sub(b, 2) end
  local ms, seq = string.match(b, '^(%d+)%-?(%d*)$')
  if not ms then return nil end
  if seq == '' then seq = upper and INF or -INF end
  return {tonumber(ms), tonumber(seq), exclusive}
end

-- -1, 0, 1 as (ms, seq) compares with the bound's
local function compare(ms, seq, b)
  if ms ~= b[1] then return ms < b[1] and -1 or 1 end
  if seq ~= b[2] then return seq < b[2] and -1 or 1 end
  return 0
end

local hi, lo, count = bound(ARGV[1], true), bound(ARGV[2], false), tonumber(ARGV[3])
if not hi or not lo then return redis.error_reply('ERR invalid stream ID bound') end

local out, from, slice = {}, 0, 64
while #out < count do
  local ids = redis.call('LRANGE', KEYS[1], from, from + slice - 1)
  for _, id in ipairs(ids) do
    -- "<ms>" is listed for "<ms>-0" (see _audit.lua)
    local ms, seq = string.match(id, '^(%d+)%-?(%d*)$')
    if seq == '' then seq = '0'; id = ms .. '-0' end
    ms, seq = tonumber(ms), tonumber(seq)
    local above = compare(ms, seq, hi)
    if above < 0 or (above == 0 and not hi[3]) then
      local below = compare(ms, seq, lo)
      if below < 0 or (below == 0 and lo[3]) then return out end
      local entry = redis.call('XRANGE', KEYS[2], id, id)[1]
      if entry then
        out[#out + 1] = entry
        if #out >= count then return out end
      end
    end
  end
  if #ids < slice then return out end
  from = from + slice
  slice = math.min(slice * 4, 1024)
end
return out
