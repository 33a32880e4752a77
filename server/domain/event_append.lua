-- Append one event to a project's log and publish it, atomically (server/domain/events.py).
-- Also the body of append_event(KEYS, ARGV) in scripts that append (EventLog.appending_script).
--
-- KEYS: 1 seq counter, 2 log stream, 3 the metrics hash, 4 the once-only key of the id.
-- ARGV: 1 JSON before the seq, 2 JSON after it, 3 event time (ms), 4 maxlen,
--       5 age cutoff (ms; older entries go), 6 pub/sub channel, 7 the seq to continue
--       after when neither counter nor log exists ('' -> return -1 and let the caller ask
--       its seq_base), 8 '' or how long (ms) KEYS[4] remembers the event id, so the
--       same id is appended once only. Returns the event's seq, or 0 for a repeated id.
local counter_exists = redis.call('EXISTS', KEYS[1]) == 1
local last = nil
if not counter_exists then
  last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
  if not last and ARGV[7] == '' then
    -- No counter and no log: a new project, or Redis lost its data. The caller decides.
    return -1
  end
end
if ARGV[8] ~= '' and not redis.call('SET', KEYS[4], 1, 'NX', 'PX', ARGV[8]) then
  return 0
end
local seq
if counter_exists then
  seq = redis.call('INCR', KEYS[1])
else
  if last then
    -- The counter vanished while the log survived: carry on after the log's last entry.
    seq = tonumber(string.match(last[1], '^(%d+)')) + 1
  else
    seq = tonumber(ARGV[7]) + 1
  end
  redis.call('SET', KEYS[1], seq)
end
local event = ARGV[1] .. seq .. ARGV[2]
redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[4], seq .. '-0', 'ts', ARGV[3], 'e', event)
local cutoff = tonumber(ARGV[5])
while true do
  local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)[1]
  if not oldest or tonumber(oldest[2][2]) >= cutoff then break end
  local oldest_seq = tonumber(string.match(oldest[1], '^(%d+)'))
  redis.call('XTRIM', KEYS[2], 'MINID', (oldest_seq + 1) .. '-0')
end
redis.call('PUBLISH', ARGV[6], event)
redis.call('HINCRBY', KEYS[3], 'events_published', 1)
return seq
