--[[
unlock.lua: release or renew a tag-walk lease only if this walker still owns it.

KEYS[1]  lease  <prefix>:{<tenant>}:taglock:<tag>
ARGV[1]  owner token
ARGV[2]  0 to release, else a new lease in milliseconds

Returns 1 if this walker owned the lease, 0 if it had expired or passed to
another walker.
]]

if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == '0' then
  redis.call('DEL', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
