-- feed_get.lua — wrk script for the feed bench (bench/feed_bench.py,
-- docs/bench.md "Feed"): GET of the URL given on wrk's command line as it
-- is (no token), reported as one WRKJSON line (report.lua). Non-2xx answers
-- count as errors.status.
dofile((os.getenv("HCP_BENCH_DIR") or "bench") .. "/report.lua")

function done(summary, latency, requests)
   wrk_report(summary, latency)
end
