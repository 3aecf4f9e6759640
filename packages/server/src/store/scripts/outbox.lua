--[[
  outbox: the webhook consumer group of one audit stream, through a script so that the stream's
  key goes through KEYS (key prefix, Cluster routing): XGROUP and XINFO name their key after a
  subcommand, which clients cannot route.

  KEYS[1]  an audit stream
  ARGV[1]  create | info
  ARGV[2]  the group's name

  returns  create: 1 (made, from the stream's end: no history), or 0 (there already)
           info:   {pending, lag} of the group (lag -1 when Redis cannot tell, after trimming)
]]
if ARGV[1] == 'create' then
  local r = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[2], '$', 'MKSTREAM')
  if type(r) == 'table' and r.err then
    if string.find(r.err, 'BUSYGROUP') then return 0 end
    return redis.error_reply(r.err)
  end
  return 1
end
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local fields = {}
  for i = 1, #g, 2 do fields[g[i]] = g[i + 1] end
  if fields['name'] == ARGV[2] then
    local lag = fields['lag']
    if type(lag) ~= 'number' then lag = -1 end
    return {fields['pending'], lag}
  end
end
return {0, 0}
