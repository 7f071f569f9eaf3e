--[[
tagjoin.lua: register an entry key in its tag sets, unless a tag generation
changed since the client read it (DESIGN.md "Fill protocol", cross-slot rule).

KEYS[1..n]     tag sets         <prefix>:{<tenant>}:tag:<tag>
KEYS[n+1..2n]  tag generations  <prefix>:{<tenant>}:taggen:<tag>, same order
ARGV[1]        the entry key    <prefix>:{<tenant>|<type>|<id>}:v:<view>
ARGV[2]        set TTL in milliseconds (at least the entry's TTL)
ARGV[3..n+2]   the generations the client read before loading ('' = absent)

Returns 1 registered, 0 a generation changed (nothing written).

Design notes.
- The entry lives in slot {tenant|type|id}, the tag keys in slot {tenant}: on
  Redis Cluster one script cannot check generations and write the entry. So the
  client runs this script twice, around fill.lua: before the fill (so a tag walk
  that starts after the fill can find the key) and after it (the re-check: if a
  generation changed, the client unlinks its own entry). The second run also
  re-adds the key: a walk may have removed it from the set after the first run
  but before the fill created the entry (see TagWalker: "presence implies
  membership").
- A tag set's TTL only grows here and is at least the TTL of every entry it
  lists, so a set never expires before its members.
- All keys share the {tenant} hash tag: one slot, atomic on Redis Cluster too.
]]

local n = #KEYS / 2
for i = 1, n do
  local now = redis.call('GET', KEYS[n + i]) or ''
  if now ~= ARGV[2 + i] then
    return 0
  end
end
local ttl = tonumber(ARGV[2])
for i = 1, n do
  redis.call('SADD', KEYS[i], ARGV[1])
  if redis.call('PTTL', KEYS[i]) < ttl then
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
end
return 1
