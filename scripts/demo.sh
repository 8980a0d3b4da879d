#!/usr/bin/env bash
# make demo: a whole local federation on loopback — throw-away PKI, one
# hcp-gateway, one hcp-node per Qinghai county (data/divisions.tsv, 44), and
# tools/hcp-gen feeding them realistic cases. Runs until Ctrl-C (or for
# DEMO_SECONDS seconds), then stops everything in order and reports exit codes.
#
#   bash scripts/demo.sh [BUILD]        BUILD: the cmake build directory (default build)
#   DEMO_SECONDS=N   stop by itself after N seconds
#   DEMO_RATE=R      generator requests per second, all nodes together (default 20)
#   DEMO_SEED=S      generator seed (default 1)
# Everything lives in BUILD/demo (pki/, gateway/, nodes/CODE/, logs/); it is
# wiped at the next start. docs/demo.md describes it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
DEMO="$BUILD/demo"
NODE_BIN="$BUILD/node/hcp-node"
GW_BIN="$BUILD/gateway/hcp-gateway"
CERTS_BIN="$BUILD/certs/hcp-certs"
GEN="$ROOT/tools/hcp-gen"
DIVISIONS="$ROOT/data/divisions.tsv"
GW_NAME=gw.demo
RATE=${DEMO_RATE:-20}
SEED=${DEMO_SEED:-1}
SECONDS_LIMIT=${DEMO_SECONDS:-0}

say() { printf '[demo] %s\n' "$*"; }
die() { printf '[demo] 错误 error: %s\n' "$*" >&2; exit 1; }

for f in "$NODE_BIN" "$GW_BIN" "$CERTS_BIN" "$GEN"; do
  [ -x "$f" ] || die "$f missing — build first (make build, or cmake --build $BUILD)"
done
command -v python3 >/dev/null || die "python3 is needed (tools/hcp-gen)"
[[ "$SECONDS_LIMIT" =~ ^[0-9]+$ ]] || die "DEMO_SECONDS must be a whole number of seconds"

# ---------------------------------------------------------------- helpers
# pick_ports FIRST COUNT: COUNT ports, one a line: FIRST, FIRST+1, … where free on
# 127.0.0.1, else ones the kernel picks (each replacement said on stderr).
pick_ports() {
  python3 - "$1" "$2" <<'PY'
import socket, sys
first, count = int(sys.argv[1]), int(sys.argv[2])
held, out = [], []
def grab(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        s.close()
        return None
    held.append(s)  # keep it bound until every port is chosen: no duplicates
    return s.getsockname()[1]
for want in range(first, first + count):
    got = grab(want)
    if got is None:
        got = grab(0)
        sys.stderr.write("[demo] 端口 %d 已被占用，改用 %d (port %d busy, using %d)\n"
                         % (want, got, want, got))
    out.append(got)
for s in held:
    s.close()
print("\n".join(map(str, out)))
PY
}
# wait_healthy SECONDS PORT…: every 127.0.0.1:PORT/healthz answers 200; prints
# the ports still failing when time runs out (and fails).
wait_healthy() {
  python3 - "$@" <<'PY'
import http.client, sys, time
end = time.monotonic() + float(sys.argv[1])
left = [int(p) for p in sys.argv[2:]]
while left:
    still = []
    for p in left:
        try:
            c = http.client.HTTPConnection("127.0.0.1", p, timeout=2)
            c.request("GET", "/healthz")
            ok = c.getresponse().status == 200
            c.close()
        except OSError:
            ok = False
        if not ok:
            still.append(p)
    left = still
    if left and time.monotonic() > end:
        print(" ".join(map(str, left)))
        sys.exit(1)
    if left:
        time.sleep(0.2)
PY
}
# http_get PORT PATH [TOKEN]: prints the body of a 200 answer, fails otherwise.
http_get() {
  python3 - "$@" <<'PY'
import http.client, sys
port, path = int(sys.argv[1]), sys.argv[2]
h = {"Authorization": "Bearer " + sys.argv[3]} if len(sys.argv) > 3 else {}
try:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
    c.request("GET", path, headers=h)
    r = c.getresponse()
    body = r.read()
except OSError:
    sys.exit(1)
if r.status != 200:
    sys.exit(1)
sys.stdout.write(body.decode("utf-8", "replace"))
PY
}
# counties_ok: "OK TOTAL" from the gateway's /v1/counties (the 44 Qinghai counties).
counties_ok() {
  http_get "$GW_HTTP" /v1/counties "$ADMIN_TOKEN" | python3 -c '
import json, sys
cs = json.load(sys.stdin)["counties"]
print(sum(1 for c in cs if c["state"] == "ok"), len(cs))' 2>/dev/null || echo "0 ?"
}

# ---------------------------------------------------------------- clean-up
PIDS=()      # "pid label" of every daemon, in start order
GEN_PID=""
STOPPING=0
# stop_one PID [signalled]: SIGTERM (once: a second one during shutdown would
# abort it), wait up to 15 s (then SIGKILL); the exit code in RC.
# (Not in $(…): only this shell can wait for its children.)
RC=""
stop_one() {
  local pid=$1 i
  [ "${2:-}" = signalled ] || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 150); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    RC="killed (no exit within 15 s)"
    return
  fi
  RC=0
  wait "$pid" 2>/dev/null || RC=$?
}
cleanup() {
  [ "$STOPPING" = 1 ] && return
  STOPPING=1
  trap '' INT TERM
  set +e
  if [ ${#PIDS[@]} -eq 0 ] && [ -z "$GEN_PID" ]; then
    [ -d "$DEMO" ] && rm -f "$DEMO/demo.pid"
    return
  fi
  echo
  say "正在停止 stopping …"
  if [ -n "$GEN_PID" ]; then
    stop_one "$GEN_PID"
    say "生成器 generator: exit $RC"
  fi
  # nodes first (all at once, then reap), the gateway last
  local entry pid label gw_pid="" bad=0 ok=0 n=0
  for entry in "${PIDS[@]}"; do
    pid=${entry%% *}; label=${entry#* }
    if [ "$label" = gateway ]; then gw_pid=$pid; continue; fi
    kill -TERM "$pid" 2>/dev/null
  done
  for entry in "${PIDS[@]}"; do
    pid=${entry%% *}; label=${entry#* }
    [ "$label" = gateway ] && continue
    n=$((n + 1))
    stop_one "$pid" signalled
    if [ "$RC" = 0 ]; then ok=$((ok + 1)); else bad=$((bad + 1)); say "节点 node $label: exit $RC (log: $DEMO/logs/node-$label.log)"; fi
  done
  [ "$n" -gt 0 ] && say "县级节点 county nodes: $ok/$n exit 0"
  if [ -n "$gw_pid" ]; then
    stop_one "$gw_pid"
    say "省级网关 gateway: exit $RC"
    [ "$RC" = 0 ] || bad=$((bad + 1))
  fi
  rm -f "$DEMO/demo.pid"
  if [ "$bad" = 0 ]; then say "全部已停止 all stopped cleanly. 数据 data: $DEMO"; else say "有 $bad 个进程异常退出 ($bad abnormal exits); logs: $DEMO/logs"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- set-up
if [ -f "$DEMO/demo.pid" ] && kill -0 "$(cat "$DEMO/demo.pid")" 2>/dev/null; then
  die "another demo runs on $DEMO (pid $(cat "$DEMO/demo.pid")); stop it first"
fi
rm -rf "$DEMO"
mkdir -p "$DEMO/logs" "$DEMO/nodes"
echo $$ > "$DEMO/demo.pid"

mapfile -t COUNTIES < <(awk -F'\t' '!/^#/ && $1 ~ /^[0-9][0-9][0-9][0-9][0-9][0-9]$/ {print $1 "\t" $2}' "$DIVISIONS")
[ ${#COUNTIES[@]} -gt 0 ] || die "no county in $DIVISIONS"
NCOUNTY=${#COUNTIES[@]}

say "证书 certificates: $DEMO/pki (一次性 throw-away)"
PKI="$DEMO/pki"
"$CERTS_BIN" init --dir "$PKI" >"$DEMO/logs/certs.log" 2>&1 || die "hcp-certs init failed: $DEMO/logs/certs.log"
"$CERTS_BIN" gateway --dir "$PKI" --name "$GW_NAME" --ip 127.0.0.1 >>"$DEMO/logs/certs.log" 2>&1 \
  || die "hcp-certs gateway failed: $DEMO/logs/certs.log"
for entry in "${COUNTIES[@]}"; do
  "$CERTS_BIN" node --dir "$PKI" --county "${entry%%$'\t'*}" >>"$DEMO/logs/certs.log" 2>&1 \
    || die "hcp-certs node ${entry%%$'\t'*} failed: $DEMO/logs/certs.log"
done

mapfile -t GW_PORTS < <(pick_ports 8700 1; pick_ports 8080 1)
GW_REPL=${GW_PORTS[0]}
GW_HTTP=${GW_PORTS[1]}
[ "$GW_HTTP" != "$GW_REPL" ] || GW_HTTP=$(pick_ports 0 1)
say "启动省级网关 starting hcp-gateway (tls+tcp://127.0.0.1:$GW_REPL, http 127.0.0.1:$GW_HTTP)"
setsid "$GW_BIN" --data "$DEMO/gateway" --listen "tls+tcp://127.0.0.1:$GW_REPL" \
  --listen-http "127.0.0.1:$GW_HTTP" --tls-cert "$PKI/gateway.crt" --tls-key "$PKI/gateway.key" \
  --tls-ca "$PKI/ca.crt" --tls-crl "$PKI/crl.pem" </dev/null >"$DEMO/logs/gateway.log" 2>&1 &
PIDS+=("$! gateway")
T_START=$(date +%s.%N)
wait_healthy 15 "$GW_HTTP" >/dev/null \
  || die "hcp-gateway not healthy: $(tail -5 "$DEMO/logs/gateway.log")"
ADMIN_TOKEN=$(cat "$DEMO/gateway/admin.token")
# named accounts (docs/access.md), added while the gateway runs; the token is the last line
SUP_TOKEN=$("$GW_BIN" user add --data "$DEMO/gateway" --name demo.supervisor --role supervisor | tail -n 1) \
  || die "hcp-gateway user add failed"
AUD_TOKEN=$("$GW_BIN" user add --data "$DEMO/gateway" --name demo.auditor --role auditor | tail -n 1) \
  || die "hcp-gateway user add failed"

say "启动 $NCOUNTY 个县级节点 starting $NCOUNTY county nodes"
NODES_FILE="$DEMO/nodes.txt"
: >"$NODES_FILE"
declare -A NODE_PORT
mapfile -t PORTS < <(pick_ports 8701 "$NCOUNTY")
for p in "$GW_REPL" "$GW_HTTP"; do  # a kernel-picked port may not repeat the gateway's
  for k in "${!PORTS[@]}"; do [ "${PORTS[$k]}" != "$p" ] || PORTS[$k]=$(pick_ports 0 1); done
done
k=0
for entry in "${COUNTIES[@]}"; do
  code=${entry%%$'\t'*}
  p=${PORTS[$k]}
  k=$((k + 1))
  NODE_PORT[$code]=$p
  setsid "$NODE_BIN" --data "$DEMO/nodes/$code" --county "$code" --listen-http "127.0.0.1:$p" \
    --gateway "tls+tcp://127.0.0.1:$GW_REPL" --tls-server-name "$GW_NAME" \
    --tls-cert "$PKI/nodes/$code.crt" --tls-key "$PKI/nodes/$code.key" --tls-ca "$PKI/ca.crt" \
    </dev/null >"$DEMO/logs/node-$code.log" 2>&1 &
  PIDS+=("$! $code")
  echo "$code http://127.0.0.1:$p $DEMO/nodes/$code/api.token" >>"$NODES_FILE"
done
# every /healthz within 60 s (the token file exists before the HTTP server listens)
if ! bad_ports=$(wait_healthy 60 "${PORTS[@]}"); then
  for entry in "${COUNTIES[@]}"; do
    code=${entry%%$'\t'*}
    [[ " $bad_ports " == *" ${NODE_PORT[$code]} "* ]] && say "node $code: $(tail -2 "$DEMO/logs/node-$code.log")"
  done
  die "nodes not healthy on ports: $bad_ports"
fi
say "全部节点就绪 all $NCOUNTY nodes healthy ($(python3 -c "import time;print('%.1f'%(time.time()-$T_START))") s)"

# a clerk account per node (docs/access.md): the generator files disputes with it and decides them
# with the node's token, since an account never decides a dispute it filed (docs/rules.md)
: >"$NODES_FILE.new"
while read -r code url tokf; do
  clerk="$DEMO/nodes/$code.clerk.token"
  if "$NODE_BIN" user add --data "$DEMO/nodes/$code" --name demo.clerk --role clerk 2>/dev/null |
      tail -n 1 >"$clerk" && [ -s "$clerk" ]; then
    echo "$code $url $tokf $clerk" >>"$NODES_FILE.new"
  else
    echo "$code $url $tokf" >>"$NODES_FILE.new"
  fi
done <"$NODES_FILE"
mv "$NODES_FILE.new" "$NODES_FILE"
# a supervisor account per node too, for the node console (docs/consoles.md): it signs in with
# demo.clerk or demo.supervisor and the token printed below (CODE.clerk.token, CODE.supervisor.token)
while read -r code _; do
  "$NODE_BIN" user add --data "$DEMO/nodes/$code" --name demo.supervisor --role supervisor \
    2>/dev/null | tail -n 1 >"$DEMO/nodes/$code.supervisor.token" || true
done <"$NODES_FILE"

# the province's figures as the gateway keeps them (the public /feed/stats.json, docs/stats.md)
show_figures() {
  python3 - "http://127.0.0.1:$GW_HTTP/feed/stats.json" <<'PY' || true
import json, sys, urllib.request
try:
    d = json.load(urllib.request.urlopen(sys.argv[1], timeout=5))
except Exception as e:
    print("[demo] 统计数据暂不可用 figures not available: %s" % e)
    sys.exit(0)
def pct(x):
    return "—" if x is None else "%.1f%%" % (100 * x)
t = d["total"]
print("[demo] 全省统计 figures: 受理 %d 件 (办结 %d, 在办 %d), 按时办结率 %s (逾期 %d, 含在办逾期), "
      "回访率 %s (%d/%d), 满意率 %s" % (t["cases"], t["closed"], t["open"], pct(t["on_time_rate"]),
      t["late"], pct(t["revisit_rate"]), t["revisited"], t["revisit_owed"], pct(t["satisfaction_rate"])))
rows = sorted(d["by_prefecture"], key=lambda r: -r["cases"])[:3]
print("[demo]   " + "; ".join("%s %d 件 按时 %s" % (r["name"], r["cases"], pct(r["on_time_rate"])) for r in rows))
PY
}

# ---------------------------------------------------------------- summary
first=$(head -1 "$NODES_FILE"); fcode=${first%% *}
cat <<MSG

================ hcp 演示 demo ================
省级网关 hcp-gateway (province 630000)
  管理接口 admin API : http://127.0.0.1:$GW_HTTP   (/v1/counties, /v1/cases?county=&status=&overdue=true, /v1/cases/ID)
  管理令牌 admin token: $ADMIN_TOKEN   (file $DEMO/gateway/admin.token)
  督查员 supervisor demo.supervisor: $SUP_TOKEN   (个人信息的每次查阅都记入访问日志 each personal-data read is logged)
  审计员 auditor demo.auditor: $AUD_TOKEN   (只能查看 only /v1/access-log?from=&to=&account=)
  密钥 seal keys: $DEMO/gateway.keys/, $DEMO/nodes/CODE.keys/   (与数据分开备份 back up apart from the data)
  复制监听 replication: tls+tcp://127.0.0.1:$GW_REPL  (mTLS, certificate $GW_NAME)
  公开页面 public page : http://127.0.0.1:$GW_HTTP/            (无需令牌 no token; 按日期 by date: /?from=YYYY-MM-DD&to=YYYY-MM-DD; 单件 one case: /case.html?id=CASE-ID)
  省级控制台 console  : http://127.0.0.1:$GW_HTTP/console.html   (督查员 demo.supervisor / 审计员 demo.auditor 用上面的令牌登录 sign in with the tokens above; admin 用管理令牌 with the admin token)
  公开数据 public feed : http://127.0.0.1:$GW_HTTP/feed/requests.json   http://127.0.0.1:$GW_HTTP/feed/atom.xml
  透明日志 public log  : http://127.0.0.1:$GW_HTTP/log/checkpoint   验证 verify: $BUILD/verify/hcp-verify feed --key "\$(curl -s http://127.0.0.1:$GW_HTTP/log/key)" http://127.0.0.1:$GW_HTTP
  静态发布 publish    : $BUILD/gateway/hcp-gateway publish --data $DEMO/gateway --out $DEMO/public   (供 nginx/CDN for nginx or a CDN: docs/nginx-hcp-publish.conf)
县级节点 hcp-node × $NCOUNTY: http://127.0.0.1:${NODE_PORT[$fcode]} … (list: $NODES_FILE)
  令牌 tokens: $DEMO/nodes/CODE/api.token     日志 logs: $DEMO/logs/
  工作台 console: http://127.0.0.1:${NODE_PORT[$fcode]}/   (每个节点的 / every node's /, 浏览器登录 sign in in a browser)
    受理员 clerk demo.clerk: $(cat "$DEMO/nodes/$fcode.clerk.token" 2>/dev/null)
    督办员 supervisor demo.supervisor: $(cat "$DEMO/nodes/$fcode.supervisor.token" 2>/dev/null)
    其他节点 other nodes: $DEMO/nodes/CODE.clerk.token, $DEMO/nodes/CODE.supervisor.token
例 e.g.
  curl -s -H "Authorization: Bearer $ADMIN_TOKEN" http://127.0.0.1:$GW_HTTP/v1/counties
  curl -s -H "Authorization: Bearer $SUP_TOKEN" http://127.0.0.1:$GW_HTTP/v1/stats/summary     # 核查发现与办理统计 the checks' findings and the figures (按时办结率 on time, 回访率 revisits, 满意率 satisfaction)
  curl -s -H "Authorization: Bearer $SUP_TOKEN" "http://127.0.0.1:$GW_HTTP/v1/stats/units?year=\$(date +%Y)"   # 第十一条 单位差评率 (超过5%) Art. 11 units
  curl -s -H "Authorization: Bearer $SUP_TOKEN" "http://127.0.0.1:$GW_HTTP/v1/stats/staff?year=\$(date +%Y)"   # 第十一条 工作人员 (2次以上) Art. 11 staff
  curl -s -H "Authorization: Bearer $SUP_TOKEN" "http://127.0.0.1:$GW_HTTP/v1/stats/hotspots?from=\$(date -d '-30 days' +%F)&to=\$(date +%F)&by=service_item"   # 第十二条 热点 Art. 12 hot spots
  curl -s http://127.0.0.1:$GW_HTTP/feed/stats.json     # 公开统计 the public figures (无需令牌 no token)
  curl -s -X POST -H "Authorization: Bearer $SUP_TOKEN" -d '{"county":"all","type":"note"}' http://127.0.0.1:$GW_HTTP/v1/directives   # 下发指令 a directive (未知类型, 各县拒收并回报 an unknown type: every county refuses it and says so; GET /v1/directives)
  curl -s -H "Authorization: Bearer $AUD_TOKEN" "http://127.0.0.1:$GW_HTTP/v1/access-log?account=demo.supervisor"
  curl -s -H "Authorization: Bearer $SUP_TOKEN" -o xining-form.xlsx "http://127.0.0.1:$GW_HTTP/v1/reports/monthly?month=\$(TZ=Asia/Shanghai date +%Y-%m)&prefecture=630100&format=xlsx&phone=0971-6155517"   # 月度统计表 a prefecture's monthly form (format=json|csv|xlsx; 204: 当月无案件 no case that month; 查阅记入访问日志 logged)
  curl -s -H "Authorization: Bearer $SUP_TOKEN" "http://127.0.0.1:$GW_HTTP/v1/contacts?month=\$(TZ=Asia/Shanghai date +%Y-%m)&prefecture=630100"   # 工作台账 Art. 14's register per county and channel (POST /v1/contacts at a node)
  curl -s -H "Authorization: Bearer \$(cat $DEMO/nodes/$fcode/api.token)" "http://127.0.0.1:${NODE_PORT[$fcode]}/v1/cases?limit=5"
数据生成 generator: tools/hcp-gen, $RATE 请求/秒 req/s, seed $SEED
$( [ "$SECONDS_LIMIT" -gt 0 ] && echo "运行 $SECONDS_LIMIT 秒后自动停止 (stops by itself after $SECONDS_LIMIT s)" || echo "按 Ctrl-C 停止 (Ctrl-C stops everything)" )
===============================================

MSG

# ---------------------------------------------------------------- load
python3 -u "$GEN" --nodes-file "$NODES_FILE" --rate "$RATE" --seed "$SEED" --interval 10 &
GEN_PID=$!

# the initial load: wait until the gateway shows every county "ok" (at most 90 s)
T_LOAD=$(date +%s)
for i in $(seq 180); do
  read -r ok total < <(counties_ok)
  [ "$ok" -ge "$NCOUNTY" ] 2>/dev/null && break
  [ "$SECONDS_LIMIT" -gt 0 ] && [ $(( $(date +%s) - T_LOAD )) -ge "$SECONDS_LIMIT" ] && break
  kill -0 "$GEN_PID" 2>/dev/null || break
  sleep 0.5
done
read -r ok total < <(counties_ok)
elapsed=$(python3 -c "import time;print('%.1f'%(time.time()-$T_START))")
if [ "$ok" -ge "$NCOUNTY" ] 2>/dev/null; then
  say "网关显示 $ok/$total 个县状态正常 gateway shows $ok/$total counties \"ok\" (${elapsed} s after the gateway started)"
  show_figures
else
  say "网关显示 $ok/$total 个县状态正常 gateway shows $ok/$total counties \"ok\" so far (${elapsed} s) — see $DEMO/logs"
fi

# ---------------------------------------------------------------- run
if [ "$SECONDS_LIMIT" -gt 0 ]; then
  left=$(( SECONDS_LIMIT - ($(date +%s) - T_LOAD) ))
  [ "$left" -gt 0 ] && { sleep "$left" & wait $! || true; }
  read -r ok total < <(counties_ok)
  say "结束前 before stopping: gateway shows $ok/$total counties \"ok\""
  show_figures
else
  wait "$GEN_PID" || true
fi
exit 0
