--[[
  outbox: the webhook consumer group of one audit stream, through a script so that the stream's
  key goes through KEYS (key prefix, Cluster routing): XGROUP and XINFO name their key after a
  subcommand, which clients cannot route.

  KEYS[1]  an audit stream
  ARGV[1]  create | info
  ARGV[2]  the group's name

  returns  create: 1 (made, from the stream's end: no history), or 0 (there already)
           info:   {pending, lag} of the group (lag: entries not handed out yet; when Redis
                   cannot tell, counted, up to LAG_COUNT_CAP: at least that many)
]]
-- Counting the entries past the group's position walks them: bounded, a lower bound beyond.
local LAG_COUNT_CAP = 10000

if ARGV[1] == 'create' then
  -- ENTRIESREAD (Redis 7) tells a group made at the end of a non-empty stream how many entries
  -- lie behind it; without it Redis reports no lag until the group has caught up once.
  local added = 0
  local ok, info = pcall(redis.call, 'XINFO', 'STREAM', KEYS[1])
  if ok then
    for i = 1, #info, 2 do if info[i] == 'entries-added' then added = info[i + 1] end end
  end
  local r = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[2], '$', 'MKSTREAM', 'ENTRIESREAD', added)
  if type(r) == 'table' and r.err and not string.find(r.err, 'BUSYGROUP') then
    r = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[2], '$', 'MKSTREAM')
  end
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
    if type(lag) ~= 'number' then
      local after = redis.call('XRANGE', KEYS[1], fields['last-delivered-id'], '+', 'COUNT', LAG_COUNT_CAP + 1)
      lag = #after
      if after[1] and after[1][1] == fields['last-delivered-id'] then lag = lag - 1 end
      if lag > LAG_COUNT_CAP then lag = LAG_COUNT_CAP end
    end
    return {fields['pending'], lag}
  end
end
return {0, 0}
