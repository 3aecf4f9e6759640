--[[ shared prelude, prepended to every script that writes audit events (after the tables
  AUDIT_TYPE_CODES and AUDIT_OUTCOME_CODES, which scripts.ts writes from store/audit-codes.ts).

  appendAudit(auditKey, eventsKey, auditMax, userMax, toUser, now, fields)
    Appends one event to the bucket's stream and, when toUser, its entry id to the head of the
    user's list of event ids (newest first). The id's time is the server's `now` when the stream
    allows it. The stream is capped (approximate MAXLEN: whole nodes are trimmed, so at least the
    cap is kept), the user's list exactly. `fields` is what eventFields returns.

    A user's list holds ids, not copies: a user's query reads the user's ids and then those entries
    of the bucket stream, so it costs in proportion to that user's events, while a user costs a
    small list (a stream of its own would cost about 4.7 KB even when nearly empty: Redis 7
    preallocates a stream's first node). An id whose sequence is 0 (nearly all) is listed as its
    time alone, which Redis keeps as an integer: 10 bytes instead of 18. events.lua reads both.
]]
local function appendAudit(auditKey, eventsKey, auditMax, userMax, toUser, now, fields)
  local id = redis.pcall('XADD', auditKey, 'MAXLEN', '~', auditMax, now .. '-*', unpack(fields))
  if type(id) == 'table' then
    id = redis.call('XADD', auditKey, 'MAXLEN', '~', auditMax, '*', unpack(fields))
  end
  if toUser then
    local ms, seq = string.match(id, '^(%d+)%-(%d+)$')
    if redis.call('LPUSH', eventsKey, seq == '0' and ms or id) > tonumber(userMax) then
      redis.call('LTRIM', eventsKey, 0, tonumber(userMax) - 1)
    end
  end
  return id
end

local SEPARATOR = '\31'

-- the older form, a field per value (empty ones left out): for a value holding the separator
local function namedFields(v)
  local names, f = {'t', 'u', 'dv', 'a', 'ip', 'o', 'd'}, {}
  for i = 1, 7 do
    if v[i] ~= '' then f[#f + 1] = names[i]; f[#f + 1] = v[i] end
  end
  return f
end

--[[ an event's stream fields: one field, e, with type, user id, device id, actor, client address,
  outcome and detail joined by the separator, the type and outcome as numbers and the empty values
  at the end left out (store/audit-codes.ts says why and reads it back) ]]
local function eventFields(eventType, userId, actor, clientIp, outcome, detail, deviceId)
  local v = {eventType, userId, deviceId or '', actor, clientIp, outcome, detail}
  for i = 1, 7 do
    if string.find(v[i], SEPARATOR, 1, true) then return namedFields(v) end
  end
  v[1] = AUDIT_TYPE_CODES[eventType] or eventType
  v[6] = AUDIT_OUTCOME_CODES[outcome] or outcome
  while v[#v] == '' do v[#v] = nil end
  return {'e', table.concat(v, SEPARATOR)}
end
