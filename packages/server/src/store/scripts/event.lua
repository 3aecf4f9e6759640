--[[
  event: record an audit event that concerns no single user (the summary of a rekey run).

  KEYS[1]  the bucket's audit stream
  ARGV[1]  now, epoch ms      ARGV[2]  event type     ARGV[3]  actor
  ARGV[4]  client address ('' when none)              ARGV[5]  bucket audit cap
  ARGV[6]  detail ('' when none)

  returns  the event's stream id
]]
return appendAudit(KEYS[1], KEYS[1], ARGV[5], 1, false, tonumber(ARGV[1]),
  eventFields(ARGV[2], '', ARGV[3], ARGV[4], '', ARGV[6]))
