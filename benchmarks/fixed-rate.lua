-- wrk at a fixed rate, with each request's latency counted from when it was due.
--
--   wrk -t16 -c16 -d10s -s fixed-rate.lua URL -- RATE 16
--
-- wrk itself is closed-loop: each connection sends its next request as soon as the last answer
-- arrives, so a server that stalls is simply sent less, and the stall hides from the latencies
-- (coordinated omission). wrk2 fixes that, but Debian does not ship it; Debian's wrk runs LuaJIT
-- scripts and asks the script, through delay(), how long to wait before each request, which is
-- enough to send on a schedule. Run with one connection per thread (-t equal to -c): each thread's
-- Lua state then schedules one connection, and the count of them follows RATE. RATE is all the
-- connections' requests per second together; each connection sends every connections/RATE
-- seconds, staggered across that interval.
--
-- A request's latency runs from when it was due to its answer's end, less the time wrk took to
-- send it after it could have gone (its timers have millisecond steps): a slow answer delays the
-- requests due behind it on that connection, and that wait counts, as it would for a client.
-- done() prints one line of JSON: requests answered, non-2xx answers, requests wrk sent before
-- their time (see request()), p50, p90, p99, p99.9 and the slowest, in milliseconds.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } djangoops_timespec;
int clock_gettime(int clock, djangoops_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
-- wrk's timers count whole milliseconds: one may fire up to that much before its time.
local TIMER_STEP = 1000
local clock = ffi.new("djangoops_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1000000 + tonumber(clock.tv_nsec) / 1000
end

-- In the main Lua state: every thread, to collect their latencies at the end.
local threads = {}

function setup(thread)
  thread:set("position", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  local rate, count = tonumber(args[1]), tonumber(args[2])
  if rate == nil or rate <= 0 or count == nil or count < 1 then
    error("fixed-rate.lua: give the requests per second and the connections after --")
  end
  connections = count
  interval = 1000000 * connections / rate
  due, sent, previous_answer = nil, nil, nil
  latencies, failed, early = {}, 0, 0
end

function delay()
  local now = now_us()
  if due == nil then
    due = now + interval * position / connections
  end
  local wait = due - now
  if wait <= 0 then
    return 0
  end
  return math.ceil(wait / 1000)
end

function request()
  sent = now_us()
  -- wrk sends without asking delay() when it writes again on a new connection after the old one
  -- failed: such a request went before its time, and counts from when it went.
  if due ~= nil and sent < due - TIMER_STEP then
    early = early + 1
  end
  return wrk.format()
end

function response(status)
  local answered = now_us()
  local start = math.min(due, sent)
  local could_go = start
  if previous_answer ~= nil and previous_answer > could_go then
    could_go = previous_answer
  end
  local own_delay = math.max(0, sent - could_go)
  latencies[#latencies + 1] = answered - start - own_delay
  if status < 200 or status > 299 then
    failed = failed + 1
  end
  previous_answer = answered
  due = due + interval
end

function done()
  local all, failures, early_sends = {}, 0, 0
  for _, thread in ipairs(threads) do
    for _, latency in ipairs(thread:get("latencies")) do
      all[#all + 1] = latency
    end
    failures = failures + thread:get("failed")
    early_sends = early_sends + thread:get("early")
  end
  table.sort(all)
  local function ms(share)
    if #all == 0 then
      return "null"
    end
    return string.format("%.3f", all[math.min(#all, math.floor(share * #all) + 1)] / 1000)
  end
  io.write(string.format(
    '{"answered": %d, "non_2xx": %d, "early": %d, "p50_ms": %s, "p90_ms": %s, "p99_ms": %s, "p999_ms": %s, "max_ms": %s}\n',
    #all, failures, early_sends, ms(0.5), ms(0.9), ms(0.99), ms(0.999), ms(1)
  ))
end
