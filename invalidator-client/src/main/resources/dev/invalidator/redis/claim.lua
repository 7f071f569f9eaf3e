--[[
claim.lua: XAUTOCLAIM with Redis 7.0's reply on Redis 6.2, where an entry
deleted from the stream while pending comes back as a nil without its id and
stays pending for ever.

KEYS[1]  stream  <prefix>:stream
ARGV[1]  group
ARGV[2]  consumer
ARGV[3]  min idle time, milliseconds
ARGV[4]  cursor
ARGV[5]  count

XAUTOCLAIM ... JUSTID takes the entries over and names every one of them,
deleted or not, without counting a delivery. Each is then claimed again with
XCLAIM (min idle 0: it is ours now), which counts the delivery once, as a plain
XAUTOCLAIM would, and returns the entry, a nil when it was deleted (6.2), or
nothing when it left the pending list in between (7.x drops deleted entries
itself). One script, so no other consumer acts between the two steps.

Returns {next cursor, {{id, {field, value, ...}}, ...}, {deleted id, ...}}:
the reply of XAUTOCLAIM on Redis 7.0. The caller acknowledges the deleted ids.
]]

local reply = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4],
  'COUNT', ARGV[5], 'JUSTID')
local claimed, deleted = {}, {}
for _, id in ipairs(reply[2]) do
  local entry = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id)
  if #entry > 0 then
    if entry[1] then
      claimed[#claimed + 1] = entry[1]
    else
      deleted[#deleted + 1] = id
    end
  end
end
if reply[3] then
  for _, id in ipairs(reply[3]) do
    deleted[#deleted + 1] = id
  end
end
return {reply[1], claimed, deleted}
