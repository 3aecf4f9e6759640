--[[
  reseal: compare-and-set of a user's sealed values (rekeyTotp). Each new value is written only
  where the field still holds the value the caller read and re-sealed, byte for byte: a value
  changed meanwhile (a new enrollment, an activation, a revoke, new recovery codes) is left alone
  and counted as a conflict, so nothing written concurrently is ever lost. Only sealed fields are
  touched: failures, replay state and lockouts are not.

  KEYS[1]  the user's hash
  ARGV     triples: field (s | ps | rk), the value read, the value re-sealed with the active key

  returns  {rewritten, conflicts}
]]
local rewritten, conflicts = 0, 0
for i = 1, #ARGV, 3 do
  local field = ARGV[i]
  if redis.call('HGET', KEYS[1], field) == ARGV[i + 1] then
    redis.call('HSET', KEYS[1], field, ARGV[i + 2])
    rewritten = rewritten + 1
  else
    conflicts = conflicts + 1
  end
end
return {rewritten, conflicts}
