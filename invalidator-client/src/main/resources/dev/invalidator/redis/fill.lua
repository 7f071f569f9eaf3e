--[[
fill.lua: write a read-through value unless an invalidation has overtaken it
(DESIGN.md "Fill protocol").

KEYS[1]  entry          <prefix>:{<tenant>|<type>|<id>}:v:<view>   HASH ver, val
KEYS[2]  fence          <prefix>:{<tenant>|<type>|<id>}:fence
KEYS[3]  view registry  <prefix>:{<tenant>|<type>|<id>}:views
ARGV[1]  w, the version the value was read at (decimal, >= 0)
ARGV[2]  the value (bytes)
ARGV[3]  entry TTL in milliseconds (already jittered by the caller)
ARGV[4]  view name (validated by the caller)
ARGV[5]  registry TTL in milliseconds (the fence TTL)
ARGV[6]  (optional) '1' to cache "absent at version w": the entry holds ver and
         abs = 1 instead of val (negative caching); ARGV[2] is then ignored
KEYS[4]  (optional) the view's fill lease, released if ARGV[7] still owns it
ARGV[7]  (with KEYS[4]) the caller's lease token

Returns 1 written, 0 refused by the fence (the caller counts fill_rejected),
2 not written because an entry of the same or a newer version is present.

Design notes.
- This closes the stale-set race: a reader reads v1, a writer commits v2, the
  invalidation raises the fence to v2, the reader fills v1. The fill sees
  fence 2 > 1 and writes nothing. If the invalidation runs after the fill instead,
  it unlinks the v1 entry. Either way nothing stale survives (G3).
- An absent fence lets the fill through: no invalidation newer than the fence TTL
  exists, and the client drops fills older than its fill deadline, which the fence
  TTL outlives. A fence that is not an integer refuses the fill (never trust it).
- An entry that is not a hash or has no usable ver is replaced.
- The view name goes into the registry, so invalidations find the entry without
  the event listing it. The registry lives at least as long as the fence, longer
  than any entry it lists; its TTL only ever grows here.
- An absence is an entry like any other: the same fence and version rules
  apply, so an insert (an event with a newer version) unlinks it, and a fill of
  an absence read before the insert's invalidation is refused by the fence.
- The lease (see read.lua) is released whatever the outcome: the caller is done
  loading. Releasing here saves a round trip on every miss.
- All keys share the aggregate's hash tag: one slot, atomic on Redis Cluster too.
- Versions are compared as decimal strings: Lua numbers are doubles.
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

if KEYS[4] and redis.call('GET', KEYS[4]) == ARGV[7] then
  redis.call('DEL', KEYS[4])
end

local w = decimal(ARGV[1])
if w == nil then
  return redis.error_reply('ERR fill.lua: version is not a non-negative integer')
end

local raw = redis.call('GET', KEYS[2])
if raw then
  local fence = decimal(raw)
  if fence == nil or older(w, fence) then
    return 0
  end
end

local kind = redis.call('TYPE', KEYS[1])['ok']
if kind == 'hash' then
  local present = decimal(redis.call('HGET', KEYS[1], 'ver'))
  if present ~= nil and not older(present, w) then
    return 2
  end
end
if kind ~= 'none' then
  redis.call('UNLINK', KEYS[1])
end

if ARGV[6] == '1' then
  redis.call('HSET', KEYS[1], 'ver', w, 'abs', '1')
else
  redis.call('HSET', KEYS[1], 'ver', w, 'val', ARGV[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[5]) then
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
end
return 1
