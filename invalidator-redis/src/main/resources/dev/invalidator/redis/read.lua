--[[
read.lua: fetch an entry and its aggregate's fence in one round trip
(DESIGN.md "Invalidation protocol", read rule).

KEYS[1]  entry  <prefix>:{<tenant>|<type>|<id>}:v:<view>   HASH ver, val
KEYS[2]  fence  <prefix>:{<tenant>|<type>|<id>}:fence

Returns {ver, val, fence}; a missing part is nil. Both keys share the aggregate's
hash tag, so one script reads them atomically, also on Redis Cluster. The caller
serves the entry only if ver >= fence; this script decides nothing.
]]

local entry = redis.call('HMGET', KEYS[1], 'ver', 'val')
return {entry[1], entry[2], redis.call('GET', KEYS[2])}
