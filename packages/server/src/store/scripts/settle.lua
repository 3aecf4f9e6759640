--[[
  settle: round trip 2 of a verify. Decide the outcome with a compare-and-set on the matched
  secret's last accepted step, update failures, lockout, drift and activation, and write the audit
  events, all in one atomic step.

  KEYS: all 9 of the fixed order of per-user scripts (scripts.ts USER_KEYS).
  KEYS[1]  the user's hash                 KEYS[6]  the bucket's audit stream of ids not enrolled
  KEYS[2]  the user's recovery codes       KEYS[7]  the bucket's ACTIVE index
  KEYS[3]  the bucket's key counts         KEYS[8]  the bucket's PENDING index
  KEYS[4]  the user's event ids            KEYS[9]  the bucket's pending-expiry index
  KEYS[5]  the bucket's audit stream

  ARGV[1]  now, epoch ms
  ARGV[2]  settlement: match | recovery | miss | release | none
  ARGV[3]  armedUntil of the reservation (0 when it armed no lockout)
  ARGV[4…8] match: device id, slot (active | pending), generation of the matched secret, start of
           the matched step in epoch seconds (steps of 30 s and 60 s compare), drift to remember;
           recovery: the code's keyed hash; none, release: the outcome to record ('' for none),
           the detail to record
  ARGV[9]  the user's index member (keys.ts)
  ARGV[10] the user id
  ARGV[11] actor             ARGV[12] client address ('' when none)
  ARGV[13] bucket audit cap  ARGV[14] user audit cap
  ARGV[15] event type: VERIFY | RECOVERY_CODE_USED

  returns  {outcome, activated 0|1, failures, lockedUntil, recovery codes left, device id, device name}
           (device id and name '' unless a device's code was ACCEPTED)
]]
return settle(KEYS, ARGV, readUser(KEYS[1]))
