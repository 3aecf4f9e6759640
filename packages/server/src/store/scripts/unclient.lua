--[[
  unclient: give back one attempt of a client address, when the user's reservation of the same
  verify failed (the request answered SERVICE_UNAVAILABLE and tested no code).

  KEYS[1]  the client's counter

  returns  the attempts left counted in the window (0 when the window had already ended)
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('DECR', KEYS[1])
