--[[
  unclient: give back one attempt of a client address, when the user's reservation of the same
  verify failed (the request answered SERVICE_UNAVAILABLE and tested no code).

  KEYS[1]  the client's counter

  returns  the attempts left counted in the window (0 when the window had already ended)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local left = redis.call('DECR', KEYS[1])
-- an address whose only attempt is given back holds no window: its next attempt starts one
-- (client.lua gives a counter its window when the counter is made)
if left <= 0 then redis.call('DEL', KEYS[1]) end
return left
