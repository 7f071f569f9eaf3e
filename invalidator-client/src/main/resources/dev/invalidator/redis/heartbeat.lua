--[[
heartbeat.lua: publish a near-cache heartbeat carrying the channel's current
sequence number.

KEYS[1]  sequence  <prefix>:nc:seq:<n>
ARGV[1]  channel   <prefix>:nc:<n>

Publishes "<seq>|h". A subscriber that last saw a smaller number missed a
message and flushes the channel's tenants; one that hears nothing for longer
than its heartbeat timeout flushes everything. Reading the number and publishing
in one script keeps the heartbeat in order with the channel's messages.
]]

local seq = redis.call('GET', KEYS[1]) or '0'
redis.call('PUBLISH', ARGV[1], seq .. '|h')
return seq
