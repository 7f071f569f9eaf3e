--[[
xadd.lua: add a run of entries to one stream in one command.

KEYS[1]  stream  <prefix>:stream
ARGV     for each entry: the number of field/value strings that follow, then
         those strings (field, value, field, value, ...)

Returns the number of entries added.

Why a script and not pipelined XADDs: Redis serves a consumer blocked in
XREADGROUP right after the command that made its stream ready. With pipelined
XADDs a blocked worker was woken by the first entry of a relay batch and got
that one entry, the next worker the second, and the rest went out in further
reads: about 2.5 reads, scripts and acknowledgements per relay batch at 2,000
events/s. After one script the blocked worker finds the whole run. An error
stops the script; entries added before it stay, and the relay, which sees the
batch fail, publishes it again (duplicates are harmless by G4).
]]

local stream = KEYS[1]
local i = 1
local added = 0
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  redis.call('XADD', stream, '*', unpack(ARGV, i + 1, i + n))
  added = added + 1
  i = i + n + 1
end
return added
