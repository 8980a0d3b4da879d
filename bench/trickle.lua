-- trickle.lua — wrk script for the replication bench's trickle (figure T,
-- bench/repl_bench.py, docs/bench.md "Replication"): POST /v1/evaluations
-- with the ~600-byte evaluation of bench/repl.lua (rating 3..5, one
-- `evaluation` event each), paced to HCP_RATE requests a second on each
-- connection by wrk's delay() hook. Meant for `wrk -t1 -c1`: one serial
-- poster per node.
--
-- Environment: HCP_TOKEN (the node's API token), HCP_RATE (requests/s per
-- connection, default 20), HCP_PHASE_MS (wait before the first request, so
-- that the nodes' posts do not all fall on the same millisecond; default 0),
-- HCP_ARRIVALS ("periodic", the default, or "poisson").
--
-- Pacing: request k is due at start + phase + k / rate on CLOCK_MONOTONIC
-- (LuaJIT's ffi) — or, with poisson, after exponentially distributed gaps
-- of mean 1 / rate; delay() returns the milliseconds until then, 0 when
-- late, so the achieved rate is HCP_RATE unless the requests take longer
-- than the period. Without ffi it falls back to a fixed 1000 / rate ms
-- between a response and the next request (a little under the rate).
--
-- done() prints one line for the caller:
--   TRICKLE {"ok":…,"other":…,"statuses":"…","requests":…,"seconds":…,
--            "p50_ms":…,"p99_ms":…,"max_ms":…,"errors":{…}}
-- ok = responses 201, other = any other status (statuses lists them as
-- "code:count ..."), errors = wrk's socket errors and timeouts.
local token = os.getenv("HCP_TOKEN") or ""
local rate = tonumber(os.getenv("HCP_RATE") or "") or 20
local phase = tonumber(os.getenv("HCP_PHASE_MS") or "") or 0
local period = 1000 / rate
local poisson = os.getenv("HCP_ARRIVALS") == "poisson"
local text = string.rep("办理很快，工作人员态度很好。", 11)

local now_ms = nil
do
   local ok, ffi = pcall(require, "ffi")
   if ok then
      ok = pcall(ffi.cdef, [[
         typedef struct { long tv_sec; long tv_nsec; } hcp_trickle_ts;
         int clock_gettime(int clk, hcp_trickle_ts *ts);
      ]])
   end
   if ok then
      local ts = ffi.new("hcp_trickle_ts")
      now_ms = function()
         ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
         return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
      end
   end
end

local threads = {}
local tid = 0
function setup(thread)
   thread:set("tid", tid)
   tid = tid + 1
   table.insert(threads, thread)
end

wrk.method = "POST"
wrk.path = "/v1/evaluations"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"

-- per thread (globals, so that done() can read them with thread:get)
ok = 0
other = 0
statuses = ""
local codes = {}

local n = 0
function request()
   n = n + 1
   local body = string.format(
      '{"unit":{"code":"U1","name":"城东区政务服务中心"},' ..
      '"service_item":{"code":"S1","name":"营业执照"},"channel":"web","rating":%d,' ..
      '"content":"%s 第t%d组%d批%d号"}', 3 + n % 3, text, tid or 0, math.floor(n / 1000),
      n % 1000)
   return wrk.format(nil, nil, nil, body)
end

local due = nil -- when the next request is due, ms (monotonic)
function delay()
   if now_ms == nil then
      if due == nil then
         due = 0
         return math.floor(phase)
      end
      return math.floor(period)
   end
   local now = now_ms()
   if due == nil then
      math.randomseed(math.floor(now * 1000 + phase * 7919) % 2147483647)
      due = now + phase
   elseif poisson then
      due = due - math.log(1 - math.random()) * period
   else
      due = due + period
   end
   local d = due - now
   return d > 0 and math.floor(d + 0.5) or 0
end

function response(status, headers, body)
   if status == 201 then
      ok = ok + 1
   else
      other = other + 1
      codes[status] = (codes[status] or 0) + 1
      local parts = {}
      for c, k in pairs(codes) do
         table.insert(parts, string.format("%d:%d", c, k))
      end
      statuses = table.concat(parts, " ")
   end
end

function done(summary, latency, requests)
   local nok, nother, st = 0, 0, {}
   for _, t in ipairs(threads) do
      nok = nok + (t:get("ok") or 0)
      nother = nother + (t:get("other") or 0)
      local s = t:get("statuses") or ""
      if s ~= "" then
         table.insert(st, s)
      end
   end
   local e = summary.errors
   io.write(string.format(
      'TRICKLE {"ok":%d,"other":%d,"statuses":"%s","requests":%d,"seconds":%.3f,' ..
      '"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"errors":{"connect":%d,"read":%d,' ..
      '"write":%d,"status":%d,"timeout":%d}}\n',
      nok, nother, table.concat(st, " "), summary.requests, summary.duration / 1e6,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
      e.connect, e.read, e.write, e.status, e.timeout))
end
