--[[
tagbump.lua: raise a tag generation before its set is walked.

KEYS[1]  tag generation  <prefix>:{<tenant>}:taggen:<tag>
ARGV[1]  TTL in milliseconds (the fence TTL: longer than any fill in flight)

Returns the new generation.

Design notes.
- A fill reads the generation before it reads the database and is refused (or
  undone) when it changed, so raising it first is what makes a concurrent fill
  lose (DESIGN.md "Fill protocol").
- The key expires, so memory stays bounded for one-off tags. An absent
  generation is seeded from the server clock in microseconds instead of 0, so a
  generation that expired and came back can never repeat a value a slow fill
  still holds.
]]

local gen
if redis.call('EXISTS', KEYS[1]) == 1 then
  gen = redis.call('INCR', KEYS[1])
else
  local t = redis.call('TIME')
  gen = t[1] .. string.format('%06d', tonumber(t[2]))
  redis.call('SET', KEYS[1], gen)
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return tostring(gen)
