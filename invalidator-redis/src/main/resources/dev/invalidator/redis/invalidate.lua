--[[
invalidate.lua: apply one invalidation event to one aggregate
(DESIGN.md "Invalidation protocol").

KEYS[1]  fence          <prefix>:{<tenant>|<type>|<id>}:fence
KEYS[2]  view registry  <prefix>:{<tenant>|<type>|<id>}:views
ARGV[1]  v, the event's aggregate version (decimal, >= 0)
ARGV[2]  fence TTL in milliseconds
ARGV[3]  view-entry key prefix <prefix>:{<tenant>|<type>|<id>}:v:
ARGV[4]  near-cache channel <prefix>:nc:<n>, or '' when near caches are off
ARGV[5]  the tenant (for the near-cache message)
ARGV[6..] view names the event lists (already validated by the caller)
KEYS[3]  (only with a channel) its sequence <prefix>:nc:seq:<n>

Returns 1 if it raised the fence or unlinked an entry, else 0
(the worker's "applied" / "stale_skipped").

Design notes.
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
- Entry keys are built here, from ARGV[3] and the names, instead of arriving in
  KEYS, because the registry's contents are only known inside the script. That is
  acceptable: every such key carries the same {tenant|type|id} hash tag as
  KEYS[1], so it lives in KEYS[1]'s slot; the script stays atomic and runs
  unchanged on Redis Cluster. Names come from the registry (written only by
  fill.lua with validated names) or from the validated event, so a key can never
  leave the aggregate.
- Near caches: when the script changed something and a channel is given, it
  takes the channel's next sequence number and publishes
  "<seq>|a|<tenant>|<view-key prefix>" in the same script, so a subscriber that
  sees the numbers without a hole has seen every applied invalidation of its
  channel. KEYS[3] lives in another cluster slot: on Redis Cluster this part
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

local v = decimal(ARGV[1])
if v == nil then
  return redis.error_reply('ERR invalidate.lua: version is not a non-negative integer')
end

local changed = 0
local fence = decimal(redis.call('GET', KEYS[1]))
if fence == nil or older(fence, v) then
  redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
  changed = 1
end

local names = redis.call('SMEMBERS', KEYS[2])
for i = 6, #ARGV do
  names[#names + 1] = ARGV[i]
end

local seen = {}
for _, name in ipairs(names) do
  if not seen[name] then
    seen[name] = true
    local key = ARGV[3] .. name
    local kind = redis.call('TYPE', key)['ok']
    if kind == 'none' then
      redis.call('SREM', KEYS[2], name)
    else
      local ver = nil
      if kind == 'hash' then
        ver = decimal(redis.call('HGET', key, 'ver'))
      end
      if ver == nil or older(ver, v) then
        redis.call('UNLINK', key)
        redis.call('SREM', KEYS[2], name)
        changed = 1
      end
    end
  end
end

if changed == 1 and ARGV[4] ~= '' then
  local seq = redis.call('INCR', KEYS[3])
  redis.call('PUBLISH', ARGV[4], seq .. '|a|' .. ARGV[5] .. '|' .. ARGV[3])
end

return changed
