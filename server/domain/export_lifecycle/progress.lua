-- One progress report of one export, in one round trip (export_lifecycle/progress.py).
-- Runs after server/domain/event_append.lua, wrapped as append_event(KEYS, ARGV)
-- (EventLog.appending_script), so deciding and appending are one atomic step: however
-- many workers report at once, the export.progress events never go backwards.
--
-- KEYS: 1-4 the append's; 5 frames hash (chunk index -> most frames rendered in it);
--       6 what was last published (hash: progress, chunks_done); 7 the in-chunk throttle;
--       8 the export's cancel flag; 9 the once-key of the attempt's terminal event (set
--       once its end is announced); 10 (optional) a key this report keeps alive (the
--       chunk's lease).
-- ARGV: 1-8 the append's (ARGV[2] ends in '"data":'); 9 chunk index; 10 frames rendered
--       in it; 11 '1' at a chunk boundary, else '0'; 12 frames_total; 13 chunks_total;
--       14 chunks done as the database counts them (0 in-chunk); 15 duration_s;
--       16 seconds since the export started; 17 throttle (ms); 18 the progress cap;
--       19 lifetime of the frames and state keys (s); 20 the phase ("analysing" while
--       auto reframe looks for faces, else "rendering"); 21 (with KEYS[10]) its lifetime (s).
-- Returns -1 when the append needs a seq base (nothing published: call again with it),
-- 0 when the report is no news, else {seq, progress, chunks_done, eta_s or '', speed}.
local frames_key, state_key, throttle_key = KEYS[5], KEYS[6], KEYS[7]
local ttl = tonumber(ARGV[19])
if KEYS[10] and redis.call('EXISTS', KEYS[10]) == 1 then
  redis.call('EXPIRE', KEYS[10], ARGV[21])
end

-- A chunk's count only rises: a chunk rendered again after a crash counts from its best.
local frames = tonumber(ARGV[10])
if frames > tonumber(redis.call('HGET', frames_key, ARGV[9]) or '0') then
  redis.call('HSET', frames_key, ARGV[9], frames)
end
redis.call('EXPIRE', frames_key, ttl)

local boundary = ARGV[11] == '1'
local total = tonumber(ARGV[12])
-- A cancel requested or the end announced: nothing more to tell about this attempt.
if total <= 0 or redis.call('EXISTS', KEYS[8]) == 1 or redis.call('EXISTS', KEYS[9]) == 1 then
  return 0
end
if not boundary and redis.call('EXISTS', throttle_key) == 1 then
  return 0
end

local done = 0
for _, value in ipairs(redis.call('HVALS', frames_key)) do
  done = done + tonumber(value)
end
local last = tonumber(redis.call('HGET', state_key, 'progress') or '0')
local progress = math.max(last, math.min(math.min(done, total) / total, tonumber(ARGV[18])))
if not boundary and progress <= last then
  return 0
end
local chunks_done = math.max(tonumber(ARGV[14]),
                             tonumber(redis.call('HGET', state_key, 'chunks_done') or '0'))

local function round(x, digits)
  local scale = 10 ^ digits
  return math.floor(x * scale + 0.5) / scale
end
local duration = tonumber(ARGV[15])
local media_done = progress * duration
local speed = media_done / math.max(tonumber(ARGV[16]), 0.001)
local eta = nil
if speed > 0 then
  eta = round((duration - media_done) / speed, 1)
end
speed = round(speed, 3)

local data = '{"chunks_done":' .. cjson.encode(chunks_done)
  .. ',"chunks_total":' .. cjson.encode(tonumber(ARGV[13]))
  .. ',"progress":' .. cjson.encode(round(progress, 4))
  .. ',"eta_s":' .. (eta and cjson.encode(eta) or 'null')
  .. ',"speed":' .. cjson.encode(speed)
  .. ',"phase":' .. cjson.encode(ARGV[20]) .. '}'
local seq = append_event(
  {KEYS[1], KEYS[2], KEYS[3], KEYS[4]},
  {ARGV[1], ARGV[2] .. data .. '}', ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]})
if seq == -1 then
  return -1
end

redis.call('HSET', state_key, 'progress', string.format('%.17g', progress),
           'chunks_done', chunks_done)
redis.call('EXPIRE', state_key, ttl)
if not boundary then
  redis.call('SET', throttle_key, 1, 'PX', ARGV[17])
end
return {tostring(seq), string.format('%.17g', progress), tostring(chunks_done),
        eta and string.format('%.17g', eta) or '', string.format('%.17g', speed)}
