-- wrk request generator for the mixed workload (workload C of the peer benchmark), used by
-- benches/load_mixed_wrk.sh. 90 % of requests pick one of 20 popular variants (4 files x
-- {320, 640, 960 WebP; 480, 1280 JPEG}); 10 % are distinct: odd widths 301..1299 x 4 files x
-- {JPEG, WebP} = 4000 keys, walked from a per-run offset, thread i taking keys i, i+T, ... so
-- that no distinct key repeats within a run.
-- Env: PATH_TEMPLATE (path and query with {file} {w} {fmt}), MISS_RATE (0.10), SEED (1),
--      WRK_THREADS (1), WRK_JSON (file the summary is written to).

local files = {"k12.jpg", "storm.jpg", "prog12.jpg", "focal.png"}
local popular_variants = {{320, "webp"}, {640, "webp"}, {960, "webp"}, {480, "jpeg"}, {1280, "jpeg"}}
local DISTINCT_KEYS = 4000

local threads = {}
id = 0

local function fill(template, file, w, fmt)
  return (template:gsub("{file}", file):gsub("{w}", tostring(w)):gsub("{fmt}", fmt))
end

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local template = os.getenv("PATH_TEMPLATE") or "/img/{file}?w={w}&fmt={fmt}"
local miss_rate = tonumber(os.getenv("MISS_RATE") or "0.10")
local seed = tonumber(os.getenv("SEED") or "1")
local popular = {}
local next_key, step
popular_sent, distinct_sent = 0, 0

function init(args)
  step = tonumber(os.getenv("WRK_THREADS") or "1")
  math.randomseed(seed * 7919 + id)
  for _, file in ipairs(files) do
    for _, v in ipairs(popular_variants) do
      table.insert(popular, wrk.format("GET", fill(template, file, v[1], v[2])))
    end
  end
  next_key = id
end

function request()
  if math.random() >= miss_rate then
    popular_sent = popular_sent + 1
    return popular[math.random(#popular)]
  end
  distinct_sent = distinct_sent + 1
  local k = (seed + next_key) % DISTINCT_KEYS
  next_key = next_key + step
  local fmt = (math.floor(k / 4) % 2 == 0) and "jpeg" or "webp"
  local w = 301 + 2 * (math.floor(k / 8) % 500)
  return wrk.format("GET", fill(template, files[(k % 4) + 1], w, fmt))
end

function done(summary, latency, requests)
  local popular_total, distinct_total = 0, 0
  for _, t in ipairs(threads) do
    popular_total = popular_total + (tonumber(t:get("popular_sent")) or 0)
    distinct_total = distinct_total + (tonumber(t:get("distinct_sent")) or 0)
  end
  local e = summary.errors
  local secs = summary.duration / 1e6
  local out = string.format(
    '{"requests": %d, "req_s": %.2f, "p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, ' ..
    '"max_ms": %.2f, "err_connect": %d, "err_read": %d, "err_write": %d, "err_status": %d, ' ..
    '"err_timeout": %d, "popular_sent": %d, "distinct_sent": %d}',
    summary.requests, summary.requests / secs, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, popular_total, distinct_total)
  local path = os.getenv("WRK_JSON")
  if path then
    local f = assert(io.open(path, "w")); f:write(out, "\n"); f:close()
  end
  io.write("WRK_JSON ", out, "\n")
end
