-- healthz.lua — wrk script for figure (b): GET /healthz, the trivial
-- handler of the same HTTP server (no token, no storage), same settings.
dofile((os.getenv("HCP_BENCH_DIR") or "bench") .. "/report.lua")

wrk.method = "GET"
wrk.path = "/healthz"

function done(summary, latency, requests)
   wrk_report(summary, latency)
end
