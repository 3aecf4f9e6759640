--[[ shared prelude, prepended to every script that writes audit events.

  appendAudit(auditKey, eventsKey, auditMax, userMax, toUser, now, fields)
    Appends one event to the bucket's stream and, when toUser, to the user's stream under the
    same entry id. The id's time is the server's `now` when the stream allows it. Both streams
    are capped (approximate MAXLEN: whole nodes are trimmed, so at least the cap is kept).
    `fields` is a flat list of name/value pairs: t type, u user id, a actor, ip, o outcome, d detail.
]]
local function appendAudit(auditKey, eventsKey, auditMax, userMax, toUser, now, fields)
  local id = redis.pcall('XADD', auditKey, 'MAXLEN', '~', auditMax, now .. '-*', unpack(fields))
  if type(id) == 'table' then
    id = redis.call('XADD', auditKey, 'MAXLEN', '~', auditMax, '*', unpack(fields))
  end
  if toUser then
    local copied = redis.pcall('XADD', eventsKey, 'MAXLEN', '~', userMax, id, unpack(fields))
    if type(copied) == 'table' then
      redis.call('XADD', eventsKey, 'MAXLEN', '~', userMax, '*', unpack(fields))
    end
  end
  return id
end

-- event fields without the empty ones
local function eventFields(eventType, userId, actor, clientIp, outcome, detail)
  local f = {'t', eventType}
  if userId ~= '' then f[#f + 1] = 'u'; f[#f + 1] = userId end
  f[#f + 1] = 'a'; f[#f + 1] = actor
  if clientIp ~= '' then f[#f + 1] = 'ip'; f[#f + 1] = clientIp end
  if outcome ~= '' then f[#f + 1] = 'o'; f[#f + 1] = outcome end
  if detail ~= '' then f[#f + 1] = 'd'; f[#f + 1] = detail end
  return f
end
