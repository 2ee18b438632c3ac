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

if rate then
  local period_ms = 1000 / rate
  function delay()
    -- Spread the connections' sends over the period instead of firing in lock-step.
    return math.random() * 2 * period_ms
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
