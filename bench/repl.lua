-- repl.lua — wrk script that fills a node's log for the replication bench
-- (bench/repl_bench.py, docs/bench.md "Replication"): POST /v1/evaluations
-- with a rating of 3..5 (one `evaluation` event each) and a content of a
-- 42-byte phrase 11 times, so each stored record is about 600 bytes (the
-- record bench_gw_apply_raw writes). The counter at its end is written as
-- "第T组N批M号" so that no run of 7 digits forms: free text with one is masked
-- and its original sealed beside it (docs/codec.md "Free text"), which
-- doubles a record (docs/bench.md, session 4). Environment: HCP_TOKEN (the node's API
-- token), HCP_LIMIT (optional: each wrk thread stops after that many
-- responses; the caller interrupts wrk once the node holds enough).
local token = os.getenv("HCP_TOKEN") or ""
local limit = tonumber(os.getenv("HCP_LIMIT") or "0")
local tid = 0
local text = string.rep("办理很快，工作人员态度很好。", 11)

function setup(thread)
   thread:set("tid", tid)
   tid = tid + 1
end

wrk.method = "POST"
wrk.path = "/v1/evaluations"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"

local n = 0
function request()
   n = n + 1
   local body = string.format(
      '{"unit":{"code":"U1","name":"城东区政务服务中心"},' ..
      '"service_item":{"code":"S1","name":"营业执照"},"channel":"web","rating":%d,' ..
      '"content":"%s 第%d组%d批%d号"}', 3 + n % 3, text, tid or 0, math.floor(n / 1000), n % 1000)
   return wrk.format(nil, nil, nil, body)
end

if limit > 0 then
   local got = 0
   function response(status, headers, body)
      got = got + 1
      if got >= limit then
         wrk.thread:stop()
      end
   end
end
