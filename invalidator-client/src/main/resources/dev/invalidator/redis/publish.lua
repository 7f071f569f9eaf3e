--[[
publish.lua: publish one near-cache message with the channel's next sequence
number.

KEYS[1]  sequence  <prefix>:nc:seq:<n>
ARGV[1]  channel   <prefix>:nc:<n>
ARGV[2]  body      (kind|tenant|subject)

Publishes "<seq>|<body>". Used after a tag walk; aggregate invalidations
publish inside invalidate.lua itself. Sequence and publication happen in one
script, so subscribers see the numbers of one channel in order and a missing
number means a lost message.
]]

local seq = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], seq .. '|' .. ARGV[2])
return seq
