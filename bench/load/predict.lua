-- wrk script for POST /api/v1/business/predict (bench/load/predict.sh drives it).
-- Environment:
--   SINYAL_KEY       the API key (sent as X-API-Key)               required
--   SINYAL_SYMBOL    symbol of the series with a trained model      required
--   SINYAL_TF        timeframe (default H1)
--   SINYAL_IDEM=1    a unique Idempotency-Key on every request (the idempotency record is stored
--                    with the ledger entry in the same group commit)
--   SINYAL_RATE=N    pace each connection at N requests/s (wrk's delay(); offered load is
--                    connections x N). Unset: closed loop, every connection sends as fast as
--                    answers come back.
--   SINYAL_WARMUP_MS=M with SINYAL_CONNS_PER_THREAD=K (connections / wrk threads): each
--                    connection sends its FIRST request only M ms after it connected (wrk starts
--                    a request's clock when it sends it, so the wait is not counted). The server
--                    has then accepted every connection before any is timed: the figures are
--                    the steady state without the connection set-up (issue 16, fairness).
-- done() prints the latency percentiles wrk's --latency omits (p99.9) and the 2xx count.
local key = os.getenv("SINYAL_KEY")
local symbol = os.getenv("SINYAL_SYMBOL")
local tf = os.getenv("SINYAL_TF") or "H1"
local idem = os.getenv("SINYAL_IDEM") == "1"
local rate = tonumber(os.getenv("SINYAL_RATE") or "")

wrk.method = "POST"
wrk.path = "/api/v1/business/predict"
wrk.body = string.format(
  '{"symbol":"%s","timeframe":"%s","prediction_type":"price_direction","confidence_threshold":0.55}',
  symbol, tf)
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = key

local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

local counter = 0
local prefix = ""

function init(args)
  prefix = string.format("bench-%d-%d-", os.time(), tid)
end

if idem then
  function request()
    counter = counter + 1
    wrk.headers["Idempotency-Key"] = prefix .. counter
    return wrk.format()
  end
end

local warm_ms = tonumber(os.getenv("SINYAL_WARMUP_MS") or "")
local warm_left = tonumber(os.getenv("SINYAL_CONNS_PER_THREAD") or "0")

if rate or warm_ms then
  local period_ms = rate and 1000 / rate
  function delay()
    -- Every connection of this thread connects at the start and asks delay() before its first
    -- request, so the first warm_left calls are the connections' first requests.
    if warm_ms and warm_left > 0 then
      warm_left = warm_left - 1
      return warm_ms
    end
    -- Spread the connections' sends over the period instead of firing in lock-step.
    if period_ms then return math.random() * 2 * period_ms end
    return 0
  end
end

-- wrk counts a response with status > 399 in errors.status; no 3xx is expected here, so the rest
-- of the completed requests are 2xx. (A response() callback would cost a Lua call per answer.)
function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format(
    "LUA requests=%d 2xx=%d non2xx=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d timeouts=%d\n",
    summary.requests, summary.requests - non2xx, non2xx, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, summary.errors.timeout))
end
