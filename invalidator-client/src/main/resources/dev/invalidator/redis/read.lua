--[[
read.lua: fetch an entry and its aggregate's fence in one round trip, and on a
miss take the view's fill lease (DESIGN.md "Invalidation protocol", read rule).

KEYS[1]  entry  <prefix>:{<tenant>|<type>|<id>}:v:<view>   HASH ver, val (or abs)
KEYS[2]  fence  <prefix>:{<tenant>|<type>|<id>}:fence
KEYS[3]  (optional) fill lease  <prefix>:{<tenant>|<type>|<id>}:lease:<view>
ARGV[1]  (with KEYS[3]) this caller's lease token
ARGV[2]  (with KEYS[3]) lease TTL in milliseconds

Returns {ver, val, fence, abs, lease}; a missing part is nil (false here: a Lua
nil would end the reply array). lease is nil without KEYS[3] or when the entry
is servable, 1 when this caller took the lease (it loads and fills), 0 when
another caller holds it (it is loading).

Design notes.
- The caller serves the entry only if ver >= fence and it has a val or the
  absence mark abs = 1; it repeats that check itself. The script applies the
  same rule only to decide whether a lease is wanted.
- The lease is advisory, in the spirit of memcache leases: it spreads nothing
  but "someone is loading this view", so that other processes wait for the fill
  instead of all reading the database at once. Correctness never depends on it:
  every fill still goes through fill.lua's fence check, and a lease that is
  lost, expired or never released only costs one more load.
- SET NX PX works on Redis 6.2.
- All keys share the aggregate's hash tag: one slot, atomic on Redis Cluster too.
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

local entry = redis.call('HMGET', KEYS[1], 'ver', 'val', 'abs')
local rawFence = redis.call('GET', KEYS[2])
local lease = false
if KEYS[3] then
  local ver = decimal(entry[1])
  local servable = ver ~= nil and (entry[2] or entry[3] == '1')
  if servable and rawFence then
    local fence = decimal(rawFence)
    servable = fence ~= nil and not older(ver, fence)
  end
  if not servable then
    if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[2]) then
      lease = 1
    else
      lease = 0
    end
  end
end
return {entry[1], entry[2], rawFence, entry[3], lease}
