--[[
  recount: count again, from the users themselves, what each key seals in one bucket: every
  sealed value (each device's secret and pending secret, the recovery key) of every user with a
  confirmed device (the others carry a TTL and are not counted, see _user.lua). One atomic step,
  so nothing written meanwhile is counted twice or missed; its work is the bucket's confirmed
  users (a stop of Redis for about 2 µs per user). For a store written before the counts existed
  (an upgrade), and by rekeyTotp. The counts hash also records that it was counted ('#counted').

  KEYS[1]  the bucket's key counts   KEYS[2]  the bucket's ACTIVE index
  ARGV[1]  what comes before <id> in a user hash's full name (key prefix, hash tag, ':u:'):
           the users are named by the index, not by the caller

  returns  the users counted
]]
-- an index member is the <id> of the user's hash name, or a UUID's mark and 16 bytes (keys.ts),
-- from which that <id> (the UUID's text in base64url) is made again here
local B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
local B64_VALUE = {}
for i = 1, 64 do B64_VALUE[string.byte(B64, i)] = i - 1 end

local function fromBase64(s)
  local out = {}
  for i = 1, #s, 4 do
    local n, k = 0, 0
    for j = i, math.min(i + 3, #s) do
      n, k = n * 64 + B64_VALUE[string.byte(s, j)], k + 1
    end
    n = n * 64 ^ (4 - k)
    local bytes = {math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256}
    for j = 1, k - 1 do out[#out + 1] = string.char(bytes[j]) end
  end
  return table.concat(out)
end

local function toBase64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = string.byte(s, i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    for j = 1, (c and 4) or (b and 3) or 2 do
      local v = math.floor(n / 64 ^ (4 - j)) % 64
      out[#out + 1] = string.sub(B64, v + 1, v + 1)
    end
  end
  return table.concat(out)
end

local UUID_CASE = {['.'] = string.lower, ['~'] = string.upper}
local function idOf(member)
  local case = UUID_CASE[string.sub(member, 1, 1)]
  if not case then return member end
  local hex = string.gsub(fromBase64(string.sub(member, 2)), '.', function(c) return string.format('%02x', string.byte(c)) end)
  local text = string.sub(hex, 1, 8) .. '-' .. string.sub(hex, 9, 12) .. '-' .. string.sub(hex, 13, 16) .. '-' ..
    string.sub(hex, 17, 20) .. '-' .. string.sub(hex, 21)
  return toBase64(case(text))
end

local members = indexAll(KEYS[2])
local counts = {}
for _, m in ipairs(members) do
  local user, devices, ids = readUser(ARGV[1] .. idOf(m))
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
