-- One growth of an export's live preview, in one round trip (export_lifecycle/preview.py).
-- Runs after server/domain/event_append.lua, wrapped as append_event(KEYS, ARGV)
-- (EventLog.appending_script): deciding and appending are one atomic step, so however
-- many workers finish chunks at once, export.preview's chunks_ready only rises.
--
-- KEYS: 1-4 the append's; 5 the chunks last announced for this attempt; 6 the export's
--       cancel flag; 7 the once-key of the attempt's terminal event.
-- ARGV: 1-8 the append's (ARGV[2] ends in '"data":'); 9 chunks ready now; 10 the event's
--       data object (JSON); 11 lifetime of KEYS[5] (s).
-- Returns -1 when the append needs a seq base (call again with it), 0 when it is no
-- news (not more than announced, cancelled, or ended), else the event's seq.
if redis.call('EXISTS', KEYS[6]) == 1 or redis.call('EXISTS', KEYS[7]) == 1 then
  return 0
end
local ready = tonumber(ARGV[9])
if ready <= tonumber(redis.call('GET', KEYS[5]) or '0') then
  return 0
end
local seq = append_event(
  {KEYS[1], KEYS[2], KEYS[3], KEYS[4]},
  {ARGV[1], ARGV[2] .. ARGV[10] .. '}', ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]})
if seq == -1 then
  return -1
end
redis.call('SET', KEYS[5], ready, 'EX', ARGV[11])
return seq
