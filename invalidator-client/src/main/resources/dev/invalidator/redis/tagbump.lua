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

if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('INCR', KEYS[1])
else
  local t = redis.call('TIME')
  redis.call('SET', KEYS[1], t[1] .. string.format('%06d', tonumber(t[2])))
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
-- GET, not the INCR reply: Lua numbers are doubles and would print as 1.7e+15.
return redis.call('GET', KEYS[1])
