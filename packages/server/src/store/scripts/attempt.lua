--[[
  attempt: a whole verify in one round trip, for a server that already holds the user's secrets
  open (its secret cache) and has marked where the code matches. It runs reserve.lua's and
  settle.lua's own code (the functions reserve and settle of _reserve.lua and _settle.lua) and
  client.lua as it is (scripts.ts prepends it as the function clientBody), and decides between
  them what the server would have decided: so the record, the audit trail and the answer are
  exactly those of the two round trips, and the attempt budget is spent the same way. The user's
  hash is read once: reserve keeps that read in step with what it writes and settle takes it.
  Whether the code matched was computed before the budget was checked, but nothing of it leaves
  this script unless the attempt was within the budget.

  After reserving, it checks that the secrets the server checked are still exactly the user's
  secrets of this code length (each named by device id and generation, which changes with the
  secret) and that each was marked around the learned drift its device holds; if not, it puts the
  counters back as they were, answers {'S'} (stale), and the server takes the two round trips,
  which read the secrets again.

  KEYS: the 9 of the fixed order of per-user scripts (scripts.ts USER_KEYS), then
  KEYS[10] the client address's counter (only on a single Redis: it is in a slot of its own)

  ARGV[1]  now, epoch ms             ARGV[8]   the user's index member (keys.ts)
  ARGV[2]  the code's length (6-8)   ARGV[9]   the user id
  ARGV[3]  failures that lock        ARGV[10]  actor
  ARGV[4]  window, in steps          ARGV[11]  client address ('' when none)
  ARGV[5]  the drift bound, steps    ARGV[12]  bucket audit cap
  ARGV[6]  client attempts a window  ARGV[13]  user audit cap
  ARGV[7]  client window, ms
  ARGV[14] n, the number of secrets the server checked, then n pairs: "deviceId:generation:drift"
           (the learned drift the server marked around), and where the code matched that secret:
           one character per step from the current step + drift - window to + drift + window,
           '1' for a match, else '0' (as long whatever the code, so that nothing about the code
           shows in the request's size)
  then     the lockout lengths in ms (as reserve.lua's ARGV[4…])

  returns  {'S'}  stale: nothing was counted (only lapsed pending secrets were dropped, as any
                  verify drops them)
           {'D', reserve's status (R | L | N | M), failures counted, armedUntil, retryAfterMs
             (LOCKED or RATE_LIMITED), drift steps of the match ('' when none), then settle.lua's
             reply: outcome, activated, failures, lockedUntil, codes left, device id, device name}
]]
local h = KEYS[1]
local window, driftBound = tonumber(ARGV[4]), tonumber(ARGV[5])

-- 1. round trip 1: reserve, its counters left for settle to write (_reserve.lua)
local user, devices, ids = readUser(h)
local deferred = {}
local n = tonumber(ARGV[14])
local hits = {}
for i = 15, 13 + 2 * n, 2 do hits[ARGV[i]] = ARGV[i + 1] end
local r = reserve(KEYS, ARGV, user, devices, ids, deferred, 15 + 2 * n)

-- 2. the secrets the server checked are the user's secrets of this length (reserve's candidates),
-- or nothing is counted. Refusals (locked, nothing enrolled, no secret of this length) do not
-- depend on the secrets: they stand as they are.
-- a secret's name in the marks, with the drift its device holds (none stored, or a pending secret's '': 0)
local function marked(i)
  return hits[r[i] .. ':' .. r[i + 4] .. ':' .. (tonumber(r[i + 6]) or 0)]
end
local function stale()
  local count = 0
  for i = 5, #r, 7 do
    if not marked(i) then return true end
    count = count + 1
  end
  return count ~= n
end
if r[1] == 'R' and stale() then
  -- the counters reserve kept were never written: the hash is as it was
  return {'S'}
end

-- 3. the client address's attempt (client.lua)
local overBudget, retryAfter = false, 0
if KEYS[10] then
  local c = clientBody({KEYS[10]}, {ARGV[6], ARGV[7]})
  if c[1] == 0 then overBudget, retryAfter = true, c[2] end
end

-- 4. what the server decides between the round trips (attempt.ts, check.ts)
local kind, slots, driftSteps = 'miss', {'', '', '', '0', '0'}, ''
local refusals = {N = 'NOT_ENROLLED', M = 'MALFORMED', L = 'LOCKED'}
if r[1] ~= 'R' then
  kind = 'none'
  slots[1] = overBudget and 'RATE_LIMITED' or refusals[r[1]]
  if r[1] == 'L' and not overBudget then retryAfter = r[2] end
elseif overBudget then
  kind = 'release'
  slots[1] = 'RATE_LIMITED'
else
  -- per secret the latest step within the window of its drift (core's matchCode: the marks are
  -- that window), then across secrets: an unused step beats a replay, then the latest (check.ts)
  local best
  for i = 5, #r, 7 do
    local id, slot, gen, last, drift = r[i], r[i + 1], r[i + 4], r[i + 5], tonumber(r[i + 6]) or 0
    local bits = marked(i)
    local found
    for k = drift - window, drift + window do
      if string.byte(bits, k - drift + window + 1) == 49 then found = k end
    end
    if found then
      local period = tonumber(string.match(r[i + 3], ':(%d+)$'))
      local at = (math.floor(tonumber(ARGV[1]) / 1000 / period) + found) * period
      local fresh = last == '' or at > tonumber(last)
      if not best or (fresh and not best.fresh) or (fresh == best.fresh and at > best.at) then
        best = {id = id, slot = slot, gen = gen, k = found, at = at, fresh = fresh}
      end
    end
  end
  if best then
    kind = 'match'
    slots = {best.id, best.slot, best.gen, string.format('%d', best.at), string.format('%d', math.max(-driftBound, math.min(driftBound, best.k)))}
    driftSteps = string.format('%d', best.k)
  end
end

-- 5. round trip 2: settle
local armedUntil = r[1] == 'R' and r[3] or 0
local settleArgv = {ARGV[1], kind, tostring(armedUntil), slots[1], slots[2], slots[3], slots[4], slots[5],
  ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], 'VERIFY'}
local s = settle(KEYS, settleArgv, user, devices, ids, deferred)

local failures = r[1] == 'R' and r[2] or 0
return {'D', r[1], failures, armedUntil, retryAfter, driftSteps, s[1], s[2], s[3], s[4], s[5], s[6], s[7]}
