-- report.lua — shared by the wrk scripts: done() prints one line
--   WRKJSON {"requests":…,"seconds":…,"rps":…,"p50_ms":…,…}
-- that bench/bench.py reads (wrk reports latency in microseconds).
function wrk_report(summary, latency)
   local secs = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"requests":%d,"seconds":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,' ..
      '"p99_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f,"errors":{"connect":%d,"read":%d,' ..
      '"write":%d,"status":%d,"timeout":%d}}\n',
      summary.requests, secs, summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(90) / 1000,
      latency:percentile(99) / 1000, latency.max / 1000, latency.mean / 1000,
      e.connect, e.read, e.write, e.status, e.timeout))
end
