-- feed_cursors.lua — wrk script for the feed bench's cursor figure
-- (bench/feed_bench.py, docs/bench.md "Feed"): GET /feed/requests.json with
-- the query in HCP_QUERY (may be empty), page_size=50 and a cursor drawn at
-- random from the file HCP_CURSORS (one a line, taken from the Link rel=next
-- of a walk through the whole feed), so each request continues a walk at a
-- random depth and most miss the gateway's page cache.
dofile((os.getenv("HCP_BENCH_DIR") or "bench") .. "/report.lua")

local cursors = {}
for line in io.lines(os.getenv("HCP_CURSORS")) do
   cursors[#cursors + 1] = line
end
local query = os.getenv("HCP_QUERY") or ""
if query ~= "" then
   query = query .. "&"
end

function setup(thread)
   thread:set("seed", math.random(1, 1000000))
end

function init(args)
   math.randomseed(seed or os.time())
end

function request()
   return wrk.format("GET", "/feed/requests.json?" .. query .. "page_size=50&cursor=" ..
                        cursors[math.random(1, #cursors)])
end

function done(summary, latency, requests)
   wrk_report(summary, latency)
end
