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

Returns an array of n elements, per event 1 if it raised the fence or unlinked an entry, 0 if
not (the worker's "applied" / "stale_skipped"), or the error message (a string) if the event
failed.

Design notes.
- Batches. One call for a worker's whole batch instead of one per event: per-command work in
  the client was the largest single cost of applying (measured with JFR at 3,000 events/s).
  Each event's part is independent of the others (the rules below, per aggregate) and runs in
  pcall: an event that fails (a version that is not a decimal, a key of the wrong type) fails
  alone, with its error message in its place in the reply, and the others are applied exactly
  as if each had been sent on its own. A script is never interleaved with other commands, but
  Redis does not roll it back on an error either, hence the pcall per event.
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

-- One event: its own aggregate's fence, registry and entries (and its channel's sequence).
local function apply(v, ttl, prefix, channel, tenant, fenceKey, viewsKey, seqKey, listed)
  if v == nil then
    error({err = 'ERR invalidate.lua: version is not a non-negative integer'})
  end
  local changed = 0
  local fence = decimal(redis.call('GET', fenceKey))
  if fence == nil or older(fence, v) then
    redis.call('SET', fenceKey, v, 'PX', ttl)
    changed = 1
  end

  local names = redis.call('SMEMBERS', viewsKey)
  for _, name in ipairs(listed) do
    names[#names + 1] = name
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
  return changed
end

local ttl = ARGV[1]
local n = tonumber(ARGV[2])
local results = {}
local a = 3
local k = 1
for i = 1, n do
  local listedCount = tonumber(ARGV[a + 4])
  local listed = {}
  for j = 1, listedCount do
    listed[j] = ARGV[a + 4 + j]
  end
  local channel = ARGV[a + 2]
  local seqKey = nil
  if channel ~= '' then
    seqKey = KEYS[k + 2]
  end
  -- An error fails only this event: the others of the call are applied as if sent alone.
  local ok, result = pcall(apply, decimal(ARGV[a]), ttl, ARGV[a + 1], channel, ARGV[a + 3],
    KEYS[k], KEYS[k + 1], seqKey, listed)
  if ok then
    results[i] = result
  else
    if type(result) == 'table' and result.err then
      result = result.err
    end
    results[i] = tostring(result)
  end
  k = k + (seqKey and 3 or 2)
  a = a + 5 + listedCount
end

return results
