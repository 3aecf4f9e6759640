--[[
  reseal: compare-and-set of a user's sealed values (rekeyTotp). Each new value is written only
  where the field still holds the value the caller read and re-sealed, byte for byte: a value
  changed meanwhile (a new enrollment, an activation, new recovery codes) is left alone and counted
  as a conflict, so nothing written concurrently is ever lost; a value gone meanwhile (a revoke) is
  neither, unless it moved (a pending secret confirmed meanwhile): that is a conflict too, so the
  caller reads it again where it now is. Only sealed fields are touched: failures, replay state and lockouts are not.

  A pending secret that lapsed unconfirmed is removed instead of re-sealed: no value outlives its
  purpose under a key that is being retired.

  KEYS: the first 3 of the fixed order of per-user scripts (scripts.ts USER_KEYS)
  KEYS[1]  the user's hash          KEYS[3]  the bucket's key counts (what each key seals moves)
  KEYS[2]  the user's recovery codes (unused)
  ARGV[1]  now, epoch ms
  ARGV[2…] triples: field (a device's s or ps, with its prefix; rk), the value read, the value
           re-sealed with the active key

  returns  {rewritten, conflicts}
]]
local h = KEYS[1]

-- A pending secret confirmed since it was read has moved from its device's ps to its s: a
-- conflict (the caller reads again and re-seals it there), not a value gone like a revoked one.
local function movedTo(field, value)
  local device = string.match(field, '^(%d*)ps$')
  return device ~= nil and redis.call('HGET', h, device .. 's') == value
end

local user, devices, ids = readUser(h)
ids = dropLapsed(h, devices, ids, tonumber(ARGV[1]), KEYS[3])
local before = contributionOf(user, devices, ids)
local rewritten, conflicts = 0, 0
for i = 2, #ARGV, 3 do
  local current = redis.call('HGET', h, ARGV[i])
  if current == ARGV[i + 1] then
    redis.call('HSET', h, ARGV[i], ARGV[i + 2])
    rewritten = rewritten + 1
  elseif current or movedTo(ARGV[i], ARGV[i + 1]) then
    conflicts = conflicts + 1
  end
end
if rewritten > 0 then countDiff(KEYS[3], before, contribution(h)) end
return {rewritten, conflicts}
