--[[ shared prelude, prepended to every script that writes audit events.

  appendAudit(auditKey, eventsKey, auditMax, userMax, toUser, now, fields)
    Appends one event to the bucket's stream and, when toUser, its entry id to the head of the
    user's list of event ids (newest first). The id's time is the server's `now` when the stream
    allows it. The stream is capped (approximate MAXLEN: whole nodes are trimmed, so at least the
    cap is kept), the user's list exactly. `fields` is a flat list of name/value pairs: t type,
    u user id, dv device id, a actor, ip, o outcome, d detail.

    A user's list holds ids, not copies: a user's query reads the user's ids and then those entries
    of the bucket stream, so it costs in proportion to that user's events, while a user costs a
    small list (a stream of its own would cost about 4.7 KB even when nearly empty: Redis 7
    preallocates a stream's first node).
]]
local function appendAudit(auditKey, eventsKey, auditMax, userMax, toUser, now, fields)
  local id = redis.pcall('XADD', auditKey, 'MAXLEN', '~', auditMax, now .. '-*', unpack(fields))
  if type(id) == 'table' then
    id = redis.call('XADD', auditKey, 'MAXLEN', '~', auditMax, '*', unpack(fields))
  end
  if toUser and redis.call('LPUSH', eventsKey, id) > tonumber(userMax) then
    redis.call('LTRIM', eventsKey, 0, tonumber(userMax) - 1)
  end
  return id
end

-- event fields without the empty ones
local function eventFields(eventType, userId, actor, clientIp, outcome, detail, deviceId)
  local f = {'t', eventType}
  if userId ~= '' then f[#f + 1] = 'u'; f[#f + 1] = userId end
  if deviceId and deviceId ~= '' then f[#f + 1] = 'dv'; f[#f + 1] = deviceId end
  f[#f + 1] = 'a'; f[#f + 1] = actor
  if clientIp ~= '' then f[#f + 1] = 'ip'; f[#f + 1] = clientIp end
  if outcome ~= '' then f[#f + 1] = 'o'; f[#f + 1] = outcome end
  if detail ~= '' then f[#f + 1] = 'd'; f[#f + 1] = detail end
  return f
end
