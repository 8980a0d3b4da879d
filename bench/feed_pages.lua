-- feed_pages.lua — wrk script for the feed bench's uncached figure
-- (bench/feed_bench.py, docs/bench.md "Feed"): GET /feed/requests.json with
-- page_size=50 and a random page from 1 to HCP_PAGES, so most requests miss
-- the gateway's 256-slot page cache and render the page from LMDB. HCP_QUERY
-- (optional) puts a filter in front.
dofile((os.getenv("HCP_BENCH_DIR") or "bench") .. "/report.lua")

local pages = tonumber(os.getenv("HCP_PAGES") or "1000")
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
   return wrk.format("GET", "/feed/requests.json?" .. query .. "page_size=50&page=" ..
                         math.random(1, pages))
end

function done(summary, latency, requests)
   wrk_report(summary, latency)
end
