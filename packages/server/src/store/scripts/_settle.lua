--[[ shared prelude: settle.lua's work (see its header for KEYS, ARGV and the reply) as a function
  of the user's hash already read (readUser): settle.lua reads it and calls this; attempt.lua
  hands it the read reserve kept in step, and the counters reserve left to write (`deferred`).
]]
local function settle(KEYS, ARGV, user, devices, ids, deferred)
  local h, codes, events, audit = KEYS[1], KEYS[2], KEYS[4], KEYS[5]
  local now, kind, armed = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])

  ids = dropLapsed(h, devices, ids, now, KEYS[3])
  local enrolled = isEnrolled(devices, ids)
  -- sealed values change only when a pending secret is promoted or the last recovery code goes:
  -- the record's contribution is taken then, just before (nothing before it changes the read)
  local before, sealedChanged = nil, false
  local function sealedWillChange()
    before = before or contributionOf(user, devices, ids)
    sealedChanged = true
  end
  local f, lu, lc = tonumber(user.f) or 0, tonumber(user.lu) or 0, tonumber(user.lc) or 0

  local outcome, activated, detail, deviceId, name = nil, 0, '', '', ''
  -- whether the hash holds counters: this read's, unless reserve changed them in it only
  local countersStored = holdsCounters(user)
  if deferred and deferred.counters then countersStored = deferred.stored end
  -- counters at zero are not stored (codec.ts); `set` and `drop` are the device's fields to write
  -- and to remove (only fields it holds: the usual login, no failure before, removes nothing)
  local function accept(set, drop)
    f, lu, lc = 0, 0, 0
    local gone = drop or {}
    if countersStored then
      gone[#gone + 1], gone[#gone + 2], gone[#gone + 3] = 'f', 'lu', 'lc'
    end
    if #gone > 0 then redis.call('HDEL', h, unpack(gone)) end
    redis.call('HSET', h, 'lv', now, unpack(set or {}))
  end

  -- a device's pending secret becomes its secret (a new device is confirmed, or a replacement)
  local function promote(d)
    sealedWillChange()
    local p = prefix(d.id)
    -- what the pending secret left unstored (usual parameters, issuer, account name) stays so
    writeDevice(h, d.id, {'s', 'm', 'i', 'g', 'c', 'v', 'n'},
      {s = d.ps, m = d.pm, i = d.pi, g = d.pg, c = d.pc, v = now, n = d.pn}, PENDING_FIELDS)
    d.s, d.ps = d.ps, nil
    reindex(h, codes, KEYS[7], KEYS[8], KEYS[9], ARGV[9], devices, ids, now)
  end

  local function settleMatch()
    local d = devices[ARGV[4]]
    local slot, generation, step = ARGV[5], ARGV[6], tonumber(ARGV[7])
    -- a pending secret confirmed meanwhile (a concurrent verify promoted it) is the device's secret
    -- now: its code is then judged as a code of that secret (REPLAYED for the same step)
    if d and slot == 'pending' and d.pg ~= generation and d.g == generation then slot = 'active' end
    local current = d and (slot == 'active' and d.g or d.pg)
    if not current or current ~= generation then
      outcome, detail = 'INVALID_CODE', 'factor replaced during verify'
    elseif slot == 'active' and d.ls and step <= tonumber(d.ls) then
      -- the last step is the secret's own: a pending secret has accepted nothing yet (its first
      -- accepted code promotes it), so its codes are judged by its own, empty, history
      outcome = 'REPLAYED'
    else
      outcome, deviceId, name = 'ACCEPTED', d.id, deviceName(d)
      local p = prefix(d.id)
      -- the step it accepted, and the drift learned (a drift of 0 is not stored)
      if ARGV[8] == '0' then
        accept({p .. 'ls', step}, d.dr and {p .. 'dr'})
      else
        accept({p .. 'ls', step, p .. 'dr', ARGV[8]})
        detail = 'drift ' .. ARGV[8]
      end
      if slot == 'pending' then
        promote(d)
        activated = 1
      end
    end
  end

  if kind == 'none' then
    outcome, detail = ARGV[4], ARGV[5]
  elseif kind == 'release' then
    outcome, detail = ARGV[4], ARGV[5]
    if enrolled then
      if f > 0 then f = f - 1 end
      if armed > 0 and lu == armed then lu = 0; if lc > 0 then lc = lc - 1 end end
      writeCounters(h, user, f, lu, lc)
    end
  elseif kind == 'miss' then
    outcome = 'INVALID_CODE'
  elseif kind == 'match' then
    settleMatch()
  elseif kind == 'recovery' then
    -- recovery codes work once a device is confirmed (those made during set-up wait for it)
    local confirmed = false
    for _, id in ipairs(ids) do if devices[id].s then confirmed = true end end
    if confirmed and redis.call('HDEL', codes, ARGV[4]) == 1 then
      outcome = 'ACCEPTED'
      accept()
      local left = redis.call('HLEN', codes)
      detail = left .. ' codes left'
      -- the last code is used: its key opens nothing any more
      if left == 0 then
        sealedWillChange()
        redis.call('HDEL', h, 'rk')
      end
    else
      outcome = 'INVALID_CODE'
    end
  end

  -- the reservation's counters, unless an accepted code removed them (release writes its own)
  if deferred and deferred.counters and outcome ~= 'ACCEPTED' and kind ~= 'release' then
    writeCounters(h, user, f, lu, lc)
  end

  if sealedChanged then countDiff(KEYS[3], before, contribution(h)) end

  local failed = outcome == 'INVALID_CODE' or outcome == 'REPLAYED'
  local lockedNow = failed and armed > 0 and lu == armed

  -- events about an id with nothing enrolled go to a stream of their own, never to a user's list:
  -- traffic about invented (or revoked) ids must not push enrolled users' events out of the log
  local stream = audit
  if not enrolled then stream = KEYS[6] end
  local auditMax, userMax = ARGV[13], ARGV[14]
  local function record(eventType, eventOutcome, eventDetail, device)
    appendAudit(stream, events, auditMax, userMax, enrolled, now,
      eventFields(eventType, ARGV[10], ARGV[11], ARGV[12], eventOutcome, eventDetail, device))
  end
  record(ARGV[15], outcome, detail, deviceId)
  if activated == 1 then record('ACTIVATED', '', '', deviceId) end
  if lockedNow then record('LOCKED', '', 'locked for ' .. math.ceil((lu - now) / 1000) .. 's after ' .. f .. ' failures', '') end

  local left = 0
  if kind == 'recovery' then left = redis.call('HLEN', codes) end
  return {outcome, activated, f, lu, left, deviceId, name}
end
