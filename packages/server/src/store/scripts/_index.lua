--[[ shared prelude: a bucket's ACTIVE index, kept in chunks.

  One sorted set of every ACTIVE user of a bucket costs about 165 bytes a member once it holds
  more than 128 (Redis's zset-max-listpack-entries): it turns into a skiplist with a hash beside
  it. Up to that size it is a listpack, about 58 bytes a member. So the index is a run of sorted
  sets of at most INDEX_CHUNK members each, split in ranges of the member order, like the leaves
  of a B-tree:

    idx            the first chunk (its lower bound is ''): the whole index as version 1 and 2
                   wrote it, so a store written by them reads unchanged
    idx .. ':' b   the chunk whose lower bound is b (a member, or one that was when it was made)
    idx .. 'd'     the lower bounds of every chunk but the first (score 0, lexicographic)

  A member lives in the chunk of the greatest bound not above it. A chunk that grows past
  INDEX_CHUNK is written again as two or more even chunks (fresh keys, so listpacks: a chunk
  written by an earlier version, a skiplist of any size, is split on its first add); a chunk
  left empty leaves the directory, and its range falls to the chunk before it.

  indexAdd(idx, member), indexRemove(idx, member)
  indexRange(idx, lower, limit)  → up to `limit` members from `lower` ('-', or '(' .. member),
                                   ascending
  indexAll(idx)                  → every member, ascending
  reindex(…)                     → the user's place in the bucket's indexes and the TTL of the
                                   user's hash, from its devices (ACTIVE when any device is)
  unindex(…)                     → the user out of the bucket's indexes
]]
-- under Redis's default zset-max-listpack-entries (128), with room for the add that triggers a split
local INDEX_CHUNK = 120

local function chunkKey(idx, bound)
  if bound == '' then return idx end
  return idx .. ':' .. bound
end

local function boundOf(idx, member)
  return redis.call('ZRANGE', idx .. 'd', '[' .. member, '-', 'BYLEX', 'REV', 'LIMIT', 0, 1)[1] or ''
end

local function nextBound(idx, bound)
  return redis.call('ZRANGE', idx .. 'd', bound == '' and '-' or '(' .. bound, '+', 'BYLEX', 'LIMIT', 0, 1)[1]
end

-- the chunk written again as even chunks of at most 3/4 of INDEX_CHUNK, at least two (room to
-- grow before the next split); the first keeps its bound
local function splitChunk(idx, bound)
  local key = chunkKey(idx, bound)
  local members = redis.call('ZRANGE', key, 0, -1)
  redis.call('DEL', key)
  local pieces = math.max(2, math.ceil(#members / (INDEX_CHUNK * 3 / 4)))
  local size = math.ceil(#members / pieces)
  for from = 1, #members, size do
    local b = from == 1 and bound or members[from]
    local args = {}
    for i = from, math.min(from + size - 1, #members) do
      args[#args + 1] = 0
      args[#args + 1] = members[i]
    end
    redis.call('ZADD', chunkKey(idx, b), unpack(args))
    if from > 1 then redis.call('ZADD', idx .. 'd', 0, b) end
  end
end

local function indexAdd(idx, member)
  local bound = boundOf(idx, member)
  local key = chunkKey(idx, bound)
  if redis.call('ZADD', key, 0, member) == 1 and redis.call('ZCARD', key) > INDEX_CHUNK then
    splitChunk(idx, bound)
  end
end

local function indexRemove(idx, member)
  local bound = boundOf(idx, member)
  local key = chunkKey(idx, bound)
  if redis.call('ZREM', key, member) == 1 and bound ~= '' and redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', idx .. 'd', bound)
  end
end

local function indexRange(idx, lower, limit)
  local out = {}
  if limit <= 0 then return out end
  local bound = lower == '-' and '' or boundOf(idx, string.sub(lower, 2))
  while bound do
    local got = redis.call('ZRANGE', chunkKey(idx, bound), lower, '+', 'BYLEX', 'LIMIT', 0, limit - #out)
    for _, m in ipairs(got) do out[#out + 1] = m end
    if #out >= limit then break end
    bound = nextBound(idx, bound)
  end
  return out
end

local function indexAll(idx)
  local out, bound = {}, ''
  while bound do
    for _, m in ipairs(redis.call('ZRANGE', chunkKey(idx, bound), 0, -1)) do out[#out + 1] = m end
    bound = nextBound(idx, bound)
  end
  return out
end

-- one member out of the bucket's ACTIVE, PENDING and pending-expiry indexes
local function dropMember(activeIdx, pendingIdx, pendingExp, m)
  indexRemove(activeIdx, m)
  redis.call('ZREM', pendingIdx, m)
  redis.call('ZREM', pendingExp, m)
end

-- a UUID's member is shorter than the <id> of its hash's name, which earlier versions used as
-- the member (keys.ts): that one, when it differs, goes whenever the user's place is written, so
-- the user is never in an index twice
local function legacyMember(h, member)
  local legacy = string.match(h, ':u:([^:]*)$')
  if legacy ~= member then return legacy end
  return nil
end

-- the user out of the indexes, under either member
local function unindex(h, activeIdx, pendingIdx, pendingExp, member)
  dropMember(activeIdx, pendingIdx, pendingExp, member)
  local legacy = legacyMember(h, member)
  if legacy then dropMember(activeIdx, pendingIdx, pendingExp, legacy) end
end

-- keys: the user's hash, recovery codes, and the bucket's ACTIVE, PENDING and pending-expiry indexes
local function reindex(h, codes, activeIdx, pendingIdx, pendingExp, member, devices, ids, now)
  local legacy = legacyMember(h, member)
  if legacy then dropMember(activeIdx, pendingIdx, pendingExp, legacy) end
  local active, lastExpiry = false, 0
  for _, id in ipairs(ids) do
    local d = devices[id]
    if d.s then active = true end
    if d.ps then lastExpiry = math.max(lastExpiry, tonumber(d.pe)) end
  end
  if active then
    redis.call('ZREM', pendingIdx, member)
    redis.call('ZREM', pendingExp, member)
    indexAdd(activeIdx, member)
    redis.call('PERSIST', h)
    redis.call('PERSIST', codes)
  elseif lastExpiry > 0 then
    -- nothing confirmed yet: the record lives exactly as long as its last pending device
    indexRemove(activeIdx, member)
    redis.call('ZADD', pendingIdx, 0, member)
    redis.call('ZADD', pendingExp, lastExpiry, member)
    local life = math.max(1, lastExpiry - now)
    redis.call('PEXPIRE', h, life)
    if redis.call('EXISTS', codes) == 1 then redis.call('PEXPIRE', codes, life) end
  else
    redis.call('DEL', h, codes)
    dropMember(activeIdx, pendingIdx, pendingExp, member)
  end
end
