--[[
  time: the store's clock, for servers whose own clocks may disagree. Read only.

  KEYS[1]  any key: it only chooses the node that answers (on a Cluster, always the same one)

  returns  {seconds, microseconds} (Redis TIME)
]]
return redis.call('TIME')
