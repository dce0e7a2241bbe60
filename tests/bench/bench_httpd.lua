-- wrk script for bench_httpd.sh: signed Data Action requests to gda-httpd.
-- wrk ... -s bench_httpd.lua URL -- TOKEN MODE RUN
--   MODE unique: every request a fresh requestId (the handler runs each time)
--   MODE retry:  one requestId for all (after the first, every one is a replay)
local next_thread = 1

function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  token = args[1]
  mode = args[2]
  run = args[3]
  counter = 0
  headers = {
    ["Content-Type"] = "application/json",
    ["X-Genesys-Signature"] = token,
  }
end

function request()
  counter = counter + 1
  local rid
  if mode == "retry" then
    rid = "bench-retry-" .. run
  else
    rid = string.format("bench-%s-%d-%d", run, thread_no, counter)
  end
  local body = string.format(
    '{"interactionId":"3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70","requestId":"%s",' ..
    '"callerId":"+15551234567","timestamp":"2026-11-24T10:00:00Z"}', rid)
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format("RESULT requests=%d rps=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f " ..
                         "non2xx=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
                         summary.requests, summary.requests / secs,
                         latency:percentile(50) / 1000, latency:percentile(90) / 1000,
                         latency:percentile(99) / 1000,
                         e.status, e.connect, e.read, e.write, e.timeout))
end
