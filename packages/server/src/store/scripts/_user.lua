--[[ shared prelude of the per-user scripts: a user's hash, read as the user's own fields and the
  user's devices.

  A user's hash holds the user's fields (f lu lc failures and lockout, lv last verified, rk sealed
  recovery key, nd next device id) and, for each device, the device's fields (codec.ts) under the
  device id as a prefix: '1s', '1m', … for device 1. Device 0 has no prefix: those are exactly the
  fields of a version 1 user, who is therefore, unchanged, a user with one device, 0, named
  'default' (a name field, nm, is stored only when the name is not 'default'). IMPLICIT_META,
  what an absent m / pm reads as, is put before this prelude by scripts.ts (from codec.ts).

  readUser(h)                     → user, devices (id → fields, with .id), ids ascending
  dropLapsed(h, devices, ids, now, counts)
                                  → ids of the devices left (the list given, compacted): a
                                     lapsed replacement loses its fields, a lapsed new device
                                     (never confirmed) is removed
  writeDevice(h, id, names, values, drop)
                                  → a device's fields written, those nil or '' removed
  writeCounters(h, user, f, lu, lc)
                                  → the failure counters stored, and in `user`
  holdsCounters(user)             → whether the read holds failure counters
  contributionOf(user, devices, ids), contribution(h), countDiff(counts, before, after)
                                  → the record's sealed values by key id, and the bucket's counts
                                     ({bNN}:kc) kept in step with them
  deviceName(d)                   → its name
  isEnrolled(devices, ids)        → any device left
  (reindex, the user's place in the bucket's indexes, is in _index.lua)
]]
local DEVICE_FIELD = {s = 1, m = 1, i = 1, n = 1, g = 1, c = 1, v = 1, ps = 1, pm = 1, pi = 1, pn = 1, pg = 1, pc = 1, pe = 1,
  ls = 1, dr = 1, nm = 1}
local PENDING_FIELDS = {'ps', 'pm', 'pi', 'pn', 'pg', 'pc', 'pe'}
local ALL_DEVICE_FIELDS = {'s', 'm', 'i', 'n', 'g', 'c', 'v', 'ps', 'pm', 'pi', 'pn', 'pg', 'pc', 'pe', 'ls', 'dr', 'nm'}

local function prefix(id)
  if id == '0' then return '' end
  return id
end

local function readUser(h)
  local flat = redis.call('HGETALL', h)
  local user, devices, ids = {}, {}, {}
  for i = 1, #flat, 2 do
    local k, v = flat[i], flat[i + 1]
    -- device 0's fields and the user's own are most fields: a lookup and a byte tell them apart
    -- before the pattern (a prefixed field starts with a digit, no unprefixed one does)
    local id, name
    if DEVICE_FIELD[k] then
      id, name = '0', k
    elseif string.byte(k, 1) <= 57 then
      id, name = string.match(k, '^(%d+)(%l+)$')
    end
    if id then
      local d = devices[id]
      if not d then
        d = {id = id}
        devices[id] = d
        ids[#ids + 1] = id
      end
      d[name] = v
    else
      user[k] = v
    end
  end
  table.sort(ids, function(a, b) return tonumber(a) < tonumber(b) end)
  return user, devices, ids
end

local function hdelDevice(h, id, fields)
  local p, names = prefix(id), {}
  for _, f in ipairs(fields) do names[#names + 1] = p .. f end
  redis.call('HDEL', h, unpack(names))
end

-- a device's fields in one HSET and one HDEL: `values` by name, for each of `names`; one that is
-- nil or '' is not stored (it reads as its default, codec.ts) and goes, with the fields of `drop`
local function writeDevice(h, id, names, values, drop)
  local p, set, del = prefix(id), {}, {}
  for _, f in ipairs(names) do
    local v = values[f]
    if v == nil or v == '' then
      del[#del + 1] = p .. f
    else
      set[#set + 1] = p .. f
      set[#set + 1] = v
    end
  end
  for _, f in ipairs(drop or {}) do del[#del + 1] = p .. f end
  if #set > 0 then redis.call('HSET', h, unpack(set)) end
  if #del > 0 then redis.call('HDEL', h, unpack(del)) end
end

--[[ Key counts: the bucket's hash {bNN}:kc holds, per key id, how many sealed values of its
  users that key sealed, so that the server can tell at start-up, without reading every user,
  whether the keys it was given can open everything (a lost key is found before a user is).
  Only records that do not expire count: a record with no confirmed device carries a TTL and may
  vanish unseen, so its values are counted when a device is confirmed, and uncounted when the
  last confirmed device goes. A script that changes sealed values takes the record's
  contribution before and after, and applies the difference. ]]
local function kidOf(sealed)
  return string.sub(sealed, 3, 2 + string.byte(sealed, 2))
end

local function contributionOf(user, devices, ids)
  local out, confirmed = {}, false
  for _, id in ipairs(ids) do if devices[id].s then confirmed = true end end
  if not confirmed then return out end
  local function add(v)
    if v then
      local k = kidOf(v)
      out[k] = (out[k] or 0) + 1
    end
  end
  add(user.rk)
  for _, id in ipairs(ids) do
    add(devices[id].s)
    add(devices[id].ps)
  end
  return out
end

local function countDiff(counts, before, after)
  for k, n in pairs(after) do
    if n ~= (before[k] or 0) then redis.call('HINCRBY', counts, k, n - (before[k] or 0)) end
  end
  for k, n in pairs(before) do
    if not after[k] then redis.call('HINCRBY', counts, k, -n) end
  end
end

-- ids is compacted in place (and returned), so that a read handed from reserve to settle
-- (attempt.lua) holds only the devices left
local function dropLapsed(h, devices, ids, now, counts)
  local confirmed, count, live = false, #ids, 0
  for _, id in ipairs(ids) do if devices[id].s then confirmed = true end end
  for i = 1, count do
    local id = ids[i]
    local d = devices[id]
    if d.ps and not ((tonumber(d.pe) or 0) > now) then
      if confirmed then redis.call('HINCRBY', counts, kidOf(d.ps), -1) end
      hdelDevice(h, id, d.s and PENDING_FIELDS or ALL_DEVICE_FIELDS)
      for _, f in ipairs(PENDING_FIELDS) do d[f] = nil end
    end
    if d.s or d.ps then
      live = live + 1
      ids[live] = id
    else
      devices[id] = nil
    end
  end
  for i = count, live + 1, -1 do ids[i] = nil end
  return ids
end

-- the failure counters written, and the read kept in step with them (attempt.lua hands one read
-- from reserve to settle)
local function writeCounters(h, user, f, lu, lc)
  redis.call('HSET', h, 'f', f, 'lu', lu, 'lc', lc)
  user.f, user.lu, user.lc = f, lu, lc
end

-- counters at zero are not stored (codec.ts): whether this read holds some
local function holdsCounters(user)
  return user.f ~= nil or user.lu ~= nil or user.lc ~= nil
end

-- the record's contribution, read again (after the script's changes)
local function contribution(h)
  local user, devices, ids = readUser(h)
  return contributionOf(user, devices, ids)
end

local function deviceName(d)
  return d.nm or 'default'
end

local function isEnrolled(devices, ids)
  return #ids > 0
end
