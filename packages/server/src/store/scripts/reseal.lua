--[[
  reseal: compare-and-set of a user's sealed values (rekeyTotp). Each new value is written only
  where the field still holds the value the caller read and re-sealed, byte for byte: a value
  changed meanwhile (a new enrollment, an activation, a revoke, new recovery codes) is left alone
  and counted as a conflict, so nothing written concurrently is ever lost. Only sealed fields are
  touched: failures, replay state and lockouts are not.

  A replacement secret that lapsed unconfirmed is removed instead of re-sealed (and counted as
  neither): no value outlives its purpose under a key that is being retired.

  KEYS[1]  the user's hash
  ARGV[1]  now, epoch ms
  ARGV[2…] triples: field (s | ps | rk), the value read, the value re-sealed with the active key

  returns  {rewritten, conflicts}
]]
local rewritten, conflicts = 0, 0
local pe = tonumber(redis.call('HGET', KEYS[1], 'pe'))
local lapsed = pe and pe <= tonumber(ARGV[1]) and redis.call('HEXISTS', KEYS[1], 's') == 1
if lapsed then redis.call('HDEL', KEYS[1], 'ps', 'pm', 'pi', 'pn', 'pg', 'pc', 'pe') end
for i = 2, #ARGV, 3 do
  local field = ARGV[i]
  if lapsed and field == 'ps' then
    -- removed above
  elseif redis.call('HGET', KEYS[1], field) == ARGV[i + 1] then
    redis.call('HSET', KEYS[1], field, ARGV[i + 2])
    rewritten = rewritten + 1
  else
    conflicts = conflicts + 1
  end
end
return {rewritten, conflicts}
