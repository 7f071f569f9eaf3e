--[[
inspect.lua: what a reader would be served for an aggregate, for the consistency observer
(README "Consistency observer"). Reads, never writes.

KEYS[1]     fence  <prefix>:{<tenant>|<type>|<id>}:fence
KEYS[2..n]  entry  <prefix>:{<tenant>|<type>|<id>}:v:<view>   HASH ver, val

Returns {fence, ver of KEYS[2], ver of KEYS[3], ...}; a missing part is nil. Every key
shares the aggregate's hash tag, so the fence and every view are read at one instant
(also on Redis Cluster). The caller applies CacheClient's serve rule (ServeRule); an
entry without val is not servable, as in read.lua, so its ver is returned only with val.
]]

local out = {redis.call('GET', KEYS[1])}
for i = 2, #KEYS do
  local entry = redis.call('HMGET', KEYS[i], 'ver', 'val')
  if entry[2] then
    out[i] = entry[1]
  else
    out[i] = false
  end
end
return out
