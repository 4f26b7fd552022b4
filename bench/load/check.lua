-- Response checker for bench/load/wrk.ts.
--
--   wrk ... -s check.lua URL -- STATUS EXPECTED_BODY_FILE METHOD REQUEST_BODY_FILE|- CONTENT_TYPE|-
--
-- Every response is compared with the expected status and the exact expected body bytes (LuaJIT
-- interns strings, so the comparison is a hash plus a memcmp: cheap even for 64 KiB). done()
-- prints machine-readable lines that wrk.ts parses; any mismatch fails the run.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local function slurp(path)
  local f = assert(io.open(path, "rb"), "cannot open " .. path)
  local data = f:read("*a")
  f:close()
  return data
end

function init(args)
  expected_status = tonumber(args[1])
  expected_body = slurp(args[2])
  expected_len = #expected_body
  if args[3] and args[3] ~= "" then
    wrk.method = args[3]
  end
  if args[4] and args[4] ~= "-" then
    wrk.body = slurp(args[4])
    if args[5] and args[5] ~= "-" then
      wrk.headers["Content-Type"] = args[5]
    end
  end
  checked = 0
  mismatches = 0
  bad_status = 0
  bad_length = 0
  bad_bytes = 0
  first_bad = ""
end

function response(status, headers, body)
  checked = checked + 1
  body = body or ""
  if status ~= expected_status or body ~= expected_body then
    mismatches = mismatches + 1
    if status ~= expected_status then
      bad_status = bad_status + 1
    elseif #body ~= expected_len then
      bad_length = bad_length + 1
    else
      bad_bytes = bad_bytes + 1
    end
    if first_bad == "" then
      first_bad = string.format("status=%d (want %d) length=%d (want %d) body starts %q",
        status, expected_status, #body, expected_len, body:sub(1, 120))
    end
  end
end

function done(summary, latency, requests)
  local checked_total, mismatch_total, bs, bl, bb, first = 0, 0, 0, 0, 0, ""
  for _, t in ipairs(threads) do
    checked_total = checked_total + (t:get("checked") or 0)
    mismatch_total = mismatch_total + (t:get("mismatches") or 0)
    bs = bs + (t:get("bad_status") or 0)
    bl = bl + (t:get("bad_length") or 0)
    bb = bb + (t:get("bad_bytes") or 0)
    local fb = t:get("first_bad") or ""
    if first == "" and fb ~= "" then first = fb end
  end
  local e = summary.errors
  io.write(string.format(
    "PYHOST_BENCH_CHECK checked=%d mismatches=%d bad_status=%d bad_length=%d bad_bytes=%d\n",
    checked_total, mismatch_total, bs, bl, bb))
  io.write(string.format(
    "PYHOST_BENCH_STATS requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "p50_us=%d p75_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f stdev_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(75), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, latency.stdev))
  if first ~= "" then
    io.write("PYHOST_BENCH_FIRST_BAD " .. first .. "\n")
  end
end
