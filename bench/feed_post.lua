-- feed_post.lua — wrk script that fills a node with cases for the feed bench
-- (bench/feed_bench.py, docs/bench.md "Feed"): POST /v1/cases, two of three
-- real-name complaints, one of three reviews from a ledger (rating 1-2), with
-- unit, service item, channel, dimensions and content varied per request.
-- Each is one case_open event and one case. Environment: HCP_TOKEN (the
-- node's API token), HCP_UNIT (the unit's name), HCP_LIMIT (optional: each
-- wrk thread stops after that many responses; the caller interrupts wrk once
-- the node holds enough).
local token = os.getenv("HCP_TOKEN") or ""
local unit = os.getenv("HCP_UNIT") or "政务服务中心"
local limit = tonumber(os.getenv("HCP_LIMIT") or "0")
local tid = 0

local items = {
   '{"code":"SI-001","name":"营业执照办理"}',
   '{"code":"SI-002","name":"不动产登记"}',
   '{"code":"SI-003","name":"社保卡补办"}',
   '{"code":"SI-004","name":"医保报销"}',
}
local channels = { "web", "app", "wechat", "kiosk", "qrcode", "window_device", "hall", "phone",
                   "12345", "letter" }
local dims = { '["attitude"]', '["guide","materials"]', '["proficiency"]', '["convenience"]' }
local texts = { "窗口等候时间过长", "办事指南与实际要求不一致", "工作人员态度生硬",
                "材料被要求重复提交" }

function setup(thread)
   thread:set("tid", tid)
   tid = tid + 1
end

wrk.method = "POST"
wrk.path = "/v1/cases"
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "application/json"

local n = 0
function request()
   n = n + 1
   local kind = (n % 3 == 0) and '"kind":"review","rating":' .. (1 + n % 2)
      or '"kind":"complaint","complainant":{"name":"投诉人","phone":"13900000000"}'
   local body = string.format(
      '{%s,"unit":{"code":"U1","name":"%s"},"window":"W%02d","service_item":%s,' ..
      '"channel":"%s","dimensions":%s,"content":"%s 第%d组%d批%d号"}',
      kind, unit, n % 12, items[n % #items + 1], channels[n % #channels + 1],
      dims[math.floor(n / 5) % #dims + 1], texts[n % #texts + 1], tid or 0, math.floor(n / 1000),
      n % 1000)
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
