--[[
invalidate.lua: apply invalidation events, each to its own aggregate
(DESIGN.md "Invalidation protocol"). One call carries a whole batch of events.

ARGV[1]  fence TTL in milliseconds
ARGV[2]  n, the number of events
then, per event, in order:
  v                 the event's aggregate version (decimal, >= 0)
  view-entry prefix <prefix>:{<tenant>|<type>|<id>}:v:
  channel           near-cache channel <prefix>:nc:<n>, or '' when near caches are off
  tenant            for the near-cache message
  k                 how many view names follow
  k view names      the views the event lists (already validated by the caller)
KEYS, per event, in order:
  fence          <prefix>:{<tenant>|<type>|<id>}:fence
  view registry  <prefix>:{<tenant>|<type>|<id>}:views
  (only with a channel) the channel's sequence <prefix>:nc:seq:<n>

Returns an array of n integers, per event 1 if it raised the fence or unlinked an entry, else 0
(the worker's "applied" / "stale_skipped").

Design notes.
- Batches. One call for a worker's whole batch instead of one per event: per-command work in
  the client was the largest single cost of applying (measured with JFR at 3,000 events/s).
  Each event's part is independent of the others (the rules below, per aggregate); the call is
  atomic as a whole, which is more than an event needs and harmless. A version that is not a
  decimal fails the call before anything is written; the caller then sends the events one per
  call, so only the bad one fails.
- The keys of different aggregates live in different cluster slots: on Redis Cluster a call
  may only carry events whose keys share a slot (in the limit, one event per call).
- The fence is a max-register: it is set to v, with a fresh TTL, only when it is
  absent or older than v. Readers serve an entry only if its ver >= fence, so the
  fence is what makes a read correct; unlinking frees memory and protects readers
  that do not check the fence.
- Every view named by the registry or by the event whose entry holds ver < v (or
  no usable ver) is unlinked and removed from the registry. An entry with ver >= v
  was read at or after this version and stays. A registered name whose entry is
  gone (expired) is pruned from the registry.
- Order-insensitive (G4): for any set of events the fence ends at the largest v,
  and an entry is removed exactly when some event is newer than it, whatever the
  order; applying an event again finds nothing left to do.
- Versions are compared as decimal strings (length, then bytes), not as Lua
  numbers: those are doubles and are not exact above 2^53.
- Entry keys are built here, from the event's view-entry prefix and the names, instead of arriving in
  KEYS, because the registry's contents are only known inside the script. That is
  acceptable: every such key carries the same {tenant|type|id} hash tag as
  the event's fence key, so it lives in that key's slot; the script stays atomic and runs
  unchanged on Redis Cluster. Names come from the registry (written only by
  fill.lua with validated names) or from the validated event, so a key can never
  leave the aggregate.
- Near caches: when the script changed something and a channel is given, it
  takes the channel's next sequence number and publishes
  "<seq>|a|<tenant>|<view-key prefix>" in the same script, so a subscriber that
  sees the numbers without a hole has seen every applied invalidation of its
  channel. The sequence key lives in another cluster slot: on Redis Cluster this part
  must run as a separate script after the apply (the worker acknowledges only
  after both, so a crash in between republishes); see docs/architecture.md.
]]

local function decimal(s)
  if type(s) ~= 'string' or not string.match(s, '^%d+$') then
    return nil
  end
  local trimmed = string.gsub(s, '^0+', '')
  if trimmed == '' then
    return '0'
  end
  return trimmed
end

local function older(a, b)
  if #a ~= #b then
    return #a < #b
  end
  return a < b
end

local ttl = ARGV[1]
local n = tonumber(ARGV[2])

-- Validate every version first: a bad one fails the call with nothing written.
local a = 3
for i = 1, n do
  if decimal(ARGV[a]) == nil then
    return redis.error_reply('ERR invalidate_batch.lua: version of event ' .. i .. ' is not a non-negative integer')
  end
  a = a + 5 + tonumber(ARGV[a + 4])
end

local results = {}
a = 3
local k = 1
for i = 1, n do
  local v = decimal(ARGV[a])
  local prefix = ARGV[a + 1]
  local channel = ARGV[a + 2]
  local tenant = ARGV[a + 3]
  local listed = tonumber(ARGV[a + 4])
  local fenceKey = KEYS[k]
  local viewsKey = KEYS[k + 1]
  local seqKey = nil
  k = k + 2
  if channel ~= '' then
    seqKey = KEYS[k]
    k = k + 1
  end

  local changed = 0
  local fence = decimal(redis.call('GET', fenceKey))
  if fence == nil or older(fence, v) then
    redis.call('SET', fenceKey, v, 'PX', ttl)
    changed = 1
  end

  local names = redis.call('SMEMBERS', viewsKey)
  for j = 1, listed do
    names[#names + 1] = ARGV[a + 4 + j]
  end

  local seen = {}
  for _, name in ipairs(names) do
    if not seen[name] then
      seen[name] = true
      local key = prefix .. name
      local kind = redis.call('TYPE', key)['ok']
      if kind == 'none' then
        redis.call('SREM', viewsKey, name)
      else
        local ver = nil
        if kind == 'hash' then
          ver = decimal(redis.call('HGET', key, 'ver'))
        end
        if ver == nil or older(ver, v) then
          redis.call('UNLINK', key)
          redis.call('SREM', viewsKey, name)
          changed = 1
        end
      end
    end
  end

  if changed == 1 and seqKey ~= nil then
    local seq = redis.call('INCR', seqKey)
    redis.call('PUBLISH', channel, seq .. '|a|' .. tenant .. '|' .. prefix)
  end

  results[i] = changed
  a = a + 5 + listed
end

return results
