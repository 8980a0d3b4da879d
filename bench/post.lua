-- post.lua — wrk script for figure (a): POST /v1/evaluations.
-- Environment: HCP_TOKEN (the node's API token), HCP_BENCH_DIR (this
-- directory, for report.lua), HCP_LIMIT (optional: each wrk thread stops
-- after that many responses; used to write exactly 100,000 for figure d).
-- Ratings are 3..5, so every request is one `evaluation` event (the record
-- bench_lmdb_raw writes for figure c); unit, channel and content vary a bit.
dofile((os.getenv("HCP_BENCH_DIR") or "bench") .. "/report.lua")

local token = os.getenv("HCP_TOKEN") or ""
local limit = tonumber(os.getenv("HCP_LIMIT") or "0")
local threads = {}
local tid = 0

local units = {
   '{"code":"U1","name":"城东区政务服务中心"}',
   '{"code":"U2","name":"城中区政务服务中心"}',
   '{"code":"U3","name":"城西区政务服务中心"}',
}
local items = {
   '{"code":"S1","name":"营业执照"}',
   '{"code":"S2","name":"不动产登记"}',
   '{"code":"S3","name":"社保卡补办"}',
}
local channels = { "window_device", "web", "app", "kiosk", "qrcode", "wechat" }
local texts = {
   "办理很快，工作人员态度很好", "材料一次告知清楚", "窗口等候时间略长", "自助终端操作方便",
}

function setup(thread)
   thread:set("tid", tid)
   tid = tid + 1
   table.insert(threads, thread)
end

wrk.method = "POST"
wrk.path = "/v1/evaluations"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"

local n = 0
function request()
   n = n + 1
   local body = string.format(
      '{"unit":%s,"service_item":%s,"channel":"%s","rating":%d,"content":"%s 第%d组%d批%d号"}',
      units[n % #units + 1], items[math.floor(n / 7) % #items + 1], channels[n % #channels + 1],
      3 + n % 3, texts[n % #texts + 1], tid or 0, math.floor(n / 1000), n % 1000)
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

function done(summary, latency, requests)
   wrk_report(summary, latency)
end
