-- wrk script for GET /api/v1/me (bench/load/me.sh drives it; the auth header comes from wrk -H).
-- Environment: SINYAL_WARMUP_MS and SINYAL_CONNS_PER_THREAD as in bench/load/predict.lua (hold
-- each connection's first request so that connection set-up is not timed).
-- done() prints the same LUA line as predict.lua (p99.9, max, 2xx, timeouts).
local warm_ms = tonumber(os.getenv("SINYAL_WARMUP_MS") or "")
local warm_left = tonumber(os.getenv("SINYAL_CONNS_PER_THREAD") or "0")

if warm_ms then
  function delay()
    if warm_left > 0 then
      warm_left = warm_left - 1
      return warm_ms
    end
    return 0
  end
end

function done(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format(
    "LUA requests=%d 2xx=%d non2xx=%d p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d timeouts=%d\n",
    summary.requests, summary.requests - non2xx, non2xx, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, summary.errors.timeout))
end
