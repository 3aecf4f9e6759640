--[[
  enroll: write a new secret for one of a user's devices, as PENDING (enrollTotp) or ACTIVE at once
  (importTotp). The device is found by name: a name the user does not have adds a device (at most
  `max devices`, pending ones included); the name of a PENDING device replaces its pending secret
  (an import takes the device over); the name of an ACTIVE device is refused unless `replace`, and
  then (pending mode) its secret keeps working until the new one is confirmed.

  KEYS: all 9 of the fixed order of per-user scripts (scripts.ts USER_KEYS); KEYS[6] is unused.
  Recovery codes made during a pending enrollment (KEYS[2]) share its life.
  KEYS[1]  the user's hash                 KEYS[6]  the bucket's audit stream of ids not enrolled
  KEYS[2]  the user's recovery codes       KEYS[7]  the bucket's ACTIVE index
  KEYS[3]  the bucket's key counts         KEYS[8]  the bucket's PENDING index
  KEYS[4]  the user's event ids            KEYS[9]  the bucket's pending-expiry index
  KEYS[5]  the bucket's audit stream

  ARGV[1]  now, epoch ms           ARGV[2]  mode: pending | active
  ARGV[3]  replace: 1 | 0          ARGV[4]  pending: expiresAt, epoch ms
  ARGV[5]  sealed secret           ARGV[6]  meta "ALGORITHM:digits:period" ('' for SHA1:6:30)
  ARGV[7]  issuer ('' for the implicit one)
  ARGV[8]  account name ('' when it is the user id)   ('' values are not stored: codec.ts)
  ARGV[9]  generation              ARGV[10] the user's index member (keys.ts)
  ARGV[11] the user id             ARGV[12] actor
  ARGV[13] client address ('' when none)
  ARGV[14] bucket audit cap        ARGV[15] user audit cap
  ARGV[16] event type: ENROLLED | IMPORTED
  ARGV[17] event detail            ARGV[18] device name
  ARGV[19] most devices a user may hold (TOTP_MAX_DEVICES)
  ARGV[20] active mode: the last step already used, epoch s ('' when none)

  returns  {'OK', device id, device name, devices the user now holds} | {'ALREADY_ENROLLED'} | {'TOO_MANY_DEVICES'}
]]
local h, codes = KEYS[1], KEYS[2]
local now, mode, replace = tonumber(ARGV[1]), ARGV[2], ARGV[3] == '1'
local member, name = ARGV[10], ARGV[18]

local user, devices, ids = readUser(h)
ids = dropLapsed(h, devices, ids, now, KEYS[3])
-- a record whose devices have all lapsed is gone, even if its TTL has not fired yet (clock skew
-- between servers and Redis): start afresh, without its counters or recovery codes
if #ids == 0 then
  redis.call('DEL', h, codes)
  user = {}
end
local before = contributionOf(user, devices, ids)

-- lapsed pending enrollments of this bucket leave its indexes (a few per call: bounded work)
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[9], '-inf', now, 'LIMIT', 0, 16)
for _, m in ipairs(lapsed) do
  redis.call('ZREM', KEYS[8], m)
  redis.call('ZREM', KEYS[9], m)
end

local d
for _, id in ipairs(ids) do
  if deviceName(devices[id]) == name then d = devices[id] end
end
if d then
  if d.s and (mode == 'active' or not replace) then return {'ALREADY_ENROLLED'} end
else
  if #ids >= tonumber(ARGV[19]) then return {'TOO_MANY_DEVICES'} end
  local id = '0'
  if #ids > 0 then
    id = tostring(tonumber(user.nd) or 1)
    redis.call('HSET', h, 'nd', tonumber(id) + 1)
  end
  d = {id = id}
  devices[id] = d
  ids[#ids + 1] = id
  if name == 'default' then redis.call('HDEL', h, prefix(id) .. 'nm') else redis.call('HSET', h, prefix(id) .. 'nm', name) end
end

-- meta, issuer and account name are '' when usual (not stored: codec.ts)
if mode == 'pending' then
  writeDevice(h, d.id, {'ps', 'pm', 'pi', 'pn', 'pg', 'pc', 'pe'},
    {ps = ARGV[5], pm = ARGV[6], pi = ARGV[7], pn = ARGV[8], pg = ARGV[9], pc = now, pe = ARGV[4]})
  d.ps, d.pe = ARGV[5], ARGV[4]
else
  local drop = {'dr', 'ps', 'pm', 'pi', 'pn', 'pg', 'pc', 'pe'}
  writeDevice(h, d.id, {'s', 'm', 'i', 'n', 'g', 'c', 'v', 'ls'},
    {s = ARGV[5], m = ARGV[6], i = ARGV[7], n = ARGV[8], g = ARGV[9], c = now, v = now, ls = ARGV[20]}, drop)
  d.s, d.ps = ARGV[5], nil
end
reindex(h, codes, KEYS[7], KEYS[8], KEYS[9], member, devices, ids, now)
countDiff(KEYS[3], before, contribution(h))

appendAudit(KEYS[5], KEYS[4], ARGV[14], ARGV[15], true, now,
  eventFields(ARGV[16], ARGV[11], ARGV[12], ARGV[13], '', ARGV[17], d.id))
return {'OK', d.id, name, #ids}
