--[[
inspect.lua: what a reader would be served for an aggregate, for the consistency observer
(README "Consistency observer"). Reads, never writes.

KEYS[1]     fence  <prefix>:{<tenant>|<type>|<id>}:fence
KEYS[2..n]  entry  <prefix>:{<tenant>|<type>|<id>}:v:<view>   HASH ver, val (or abs)

Returns {fence, ver of KEYS[2], ver of KEYS[3], ...}; a missing part is nil. Every key
shares the aggregate's hash tag, so the fence and every view are read at one instant
(also on Redis Cluster). The caller applies CacheClient's serve rule (ServeRule); an
entry is servable with a val or as a cached absence (abs = 1: the reader is told "no row at
version ver"), as in read.lua; its ver is returned only then.
]]

local out = {redis.call('GET', KEYS[1])}
for i = 2, #KEYS do
  local entry = redis.call('HMGET', KEYS[i], 'ver', 'val', 'abs')
  if entry[2] or entry[3] == '1' then
    out[i] = entry[1]
  else
    out[i] = false
  end
end
return out
