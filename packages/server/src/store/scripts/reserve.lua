--[[
  reserve: round trip 1 of a verify. Refuse a locked or unknown user; otherwise count the attempt
  as a failure BEFORE the code is checked (settle gives it back on a match), arming the lockout
  when this attempt spends the budget, and return what checking the code needs: every secret of
  every device of the user (one attempt, however many devices).

  KEYS[1]  the user's hash          KEYS[2]  the user's recovery codes
  KEYS[3]  the bucket's key counts
  ARGV[1]  now, epoch ms
  ARGV[2]  the code's length (6-8), or 0 for a recovery code
  ARGV[3]  failures that start a lockout
  ARGV[4…] lockout lengths in ms for the 1st, 2nd, … lockout (the last repeats)

  returns  {'N'}                       nothing enrolled (or only lapsed pending devices), or for a
                                       recovery code: no unused recovery code left
           {'M'}                       no secret of the user has this code length
           {'L', retryAfterMs}         locked
           {'R', failures, armedUntil, recovery key|false, candidates…}
             each candidate is 7 values: device id, slot (active | pending), sealed secret,
             meta "ALGORITHM:digits:period" (IMPLICIT_META when not stored), generation, last accepted step (epoch s) | '',
             learned drift ('' for a pending secret, whose history is empty)
]]
return (reserve(KEYS, ARGV, readUser(KEYS[1])))
