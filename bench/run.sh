#!/usr/bin/env bash
# bench/run.sh BUILD_DIR — hcp-node's benchmarks (issue #3), called by
# `make bench` after a Release build. Prints a table and writes
# BUILD_DIR/bench/results.json. docs/bench.md explains every figure.
#
#   (a)  POST /v1/evaluations, wrk -t2 -c32 -d10s, every 201 after an fsync'd
#        commit; node stderr (one log line per request) to a file
#   (a') the same with the node's stderr to /dev/null (is logging a cost?)
#   (b)  GET /healthz on the node of (a), same wrk settings
#   (c)  bench_lmdb_raw: the same records straight into LMDB, 1,000 per txn
#   (d)  VmRSS of a fresh node after 100,000 evaluations
#   then bench/repl_bench.py: replication (issue #4) — one node's catch-up of
#        HCP_BENCH_REPL_N events against raw nng TLS and raw LMDB apply, a
#        fleet of 44 nodes catching up at once, and trickle latency; added to
#        results.json under "replication" (docs/bench.md "Replication")
#   then bench/peers/peers_bench.py: hcp beside PostgreSQL 15 logical
#        replication and NATS JetStream (issue #18): catch-up of
#        HCP_BENCH_PEERS_N records and a trickle on each; added under "peers"
#        (docs/bench.md "Peers (issue #18)"); HCP_BENCH_PEERS_SKIP=1 skips it.
#        `bash bench/run.sh [BUILD] peers` runs that stage alone
#        (HCP_BENCH_PEERS_QUICK=1: small sizes, for trying it out)
#   then bench/directive_bench.py: directive fan-out (issue #13) — 44 nodes,
#        HCP_BENCH_DIR_N directives to all, then HCP_BENCH_DIR_FLEET_N (2900)
#        bench_fleet nodes, one directive to all per round; added under
#        "directives" (docs/bench.md "Directives (issue #13)");
#        HCP_BENCH_DIR_SKIP=1 skips it
#   then bench/feed_bench.py: the public feed (issue #5) — a gateway holding
#        HCP_BENCH_FEED_N cases from four nodes, /feed/requests.json pages
#        against /healthz; added under "feed" (docs/bench.md "Feed")
#   then bench/tlog_bench.py: the transparency log (issue #14) — catch-up of
#        HCP_BENCH_TLOG_N case events with the log on and off, and checkpoint
#        latency; added under "tlog" (docs/bench.md "Transparency log (issue
#        #14)"); HCP_BENCH_TLOG_SKIP=1 skips it
#   then bench/publish_bench.py: static publishing (issue #14) — publish of
#        HCP_BENCH_PUB_N cases, nginx against the gateway on the same URLs;
#        added under "publish" (docs/bench.md "Static publishing (issue #14)")
#   then bench/stats_bench.py: the province's figures (issue #12) — routes on
#        a store holding 1,000,000 cases, catch-up with counters on vs off;
#        added under "stats" (docs/bench.md "Province figures (issue #12)")
#   then bench/spot_bench.py: spot checks (issue #15) — a draw over
#        HCP_BENCH_SPOT_N (1,000,000) closed cases at 44 counties with the
#        gateway's code and its recomputation by hcp-verify spotcheck; added
#        under "spotcheck" (docs/bench.md "Spot checks")
#   then bench/form_bench.py: the monthly form (issue #12) — a gateway
#        holding HCP_BENCH_FORM_N (1,000,000) cases, the form of the largest
#        prefecture-month as json, csv, xlsx; added under "form" (docs/bench.md
#        "Monthly form (issue #12)"); HCP_BENCH_FORM_SKIP=1 skips it
#   then bench/link_bench.py: slow county links (issue #18) — catch-up over a
#        shaped link with and without compressed batches, the zstd levels;
#        added under "link" (docs/bench.md "Slow links (issue #18)");
#        HCP_BENCH_LINK_SKIP=all skips it
#   then bench/peers/peers_bench.py --link: hcp (compression off and on),
#        PostgreSQL 15 logical replication and NATS leaf nodes catching up
#        HCP_BENCH_PEERS_LINK_N (10000) records over the same shaped link,
#        HCP_BENCH_PEERS_LINK_REPEAT (3) rounds, about 7 minutes; added under
#        "peers_link" (docs/bench.md "Slow links (issue #18)"); skipped by
#        HCP_BENCH_LINK_SKIP=all or a list holding P, or HCP_BENCH_PEERS_SKIP=1.
#        `bash bench/run.sh [BUILD] peers-link` runs that stage alone
#   then bench/fleet.py: issue #4 (d) — HCP_BENCH_FLEET_N (2900) nodes in one
#        bench_fleet process connected to one gateway, still replicating; the
#        gateway's memory; added under "fleet" (docs/bench.md "Fleet")
#
# Environment: BENCH_DURATION (seconds per wrk run, default 10),
# BENCH_CONNECTIONS (32), BENCH_THREADS (2), BENCH_RAW_N (200000),
# BENCH_MEM_EVALS (100000), HCP_BENCH_INTAKE_ONLY=1 (stop after (d)); for the replication part HCP_BENCH_REPL_N
# (1000000), HCP_BENCH_REPL_FLEET (44), HCP_BENCH_REPL_FLEET_N (20000),
# HCP_BENCH_REPL_RATE (20), HCP_BENCH_REPL_TRICKLE_S (20),
# HCP_BENCH_REPL_SKIP (F,T) — see bench/repl_bench.py; for the feed part
# HCP_BENCH_FEED_N (200000), HCP_BENCH_FEED_CLOSED (250 per node),
# HCP_BENCH_FEED_PAGES (1000) — see bench/feed_bench.py. Targets are reported, never enforced: the
# script fails only when something could not be measured.
set -euo pipefail

STAGE=""
if [ "${1:-}" = peers ] || [ "${1:-}" = peers-link ]; then
    STAGE=$1
    shift
fi
BUILD=${1:-build}
if [ "${2:-}" = peers ] || [ "${2:-}" = peers-link ]; then
    STAGE=$2
fi
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=$(cd "$BUILD" && pwd)
NODE=$BUILD/node/hcp-node
RAW=$BUILD/bench/bench_lmdb_raw
REPL_BINS="$BUILD/gateway/hcp-gateway $BUILD/certs/hcp-certs $BUILD/bench/bench_gw_apply_raw $BUILD/bench/bench_nng_raw $BUILD/bench/bench_fleet $BUILD/bench/bench_stats_fill"
OUT=$BUILD/bench
WORK=$OUT/work
DUR=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
RAW_N=${BENCH_RAW_N:-200000}
MEM_EVALS=${BENCH_MEM_EVALS:-100000}
PY="python3 $HERE/bench.py"
export HCP_BENCH_DIR=$HERE

# `run.sh [BUILD] peers`: only the peers stage (issue #18; its own checks)
if [ "$STAGE" = peers ]; then
    mkdir -p "$OUT"
    exec python3 "$HERE/peers/peers_bench.py" "$BUILD" "$OUT"
fi
# `run.sh [BUILD] peers-link`: only the peers over the shaped link
if [ "$STAGE" = peers-link ]; then
    mkdir -p "$OUT"
    exec python3 "$HERE/peers/peers_bench.py" "$BUILD" "$OUT" --link
fi

for f in "$NODE" "$RAW" $REPL_BINS; do
    [ -x "$f" ] || { echo "bench: $f is missing (build first: make bench)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "bench: wrk is missing (scripts/deps.sh bench)" >&2; exit 1; }

rm -rf "$WORK" "$OUT"/a_*.json "$OUT"/b_*.json "$OUT"/c_*.json "$OUT"/d_*.json "$OUT/extra.json"
mkdir -p "$WORK"

NODE_PID=""
PORT=""
TOKEN=""

# start_node NAME STDERR: a fresh node on $WORK/NAME, its stderr to STDERR.
start_node() {
    local dir=$WORK/$1 err=$2
    PORT=$($PY port)
    "$NODE" --data "$dir" --county 630102 --listen-http "127.0.0.1:$PORT" \
        </dev/null >/dev/null 2>"$err" &
    NODE_PID=$!
    if ! $PY wait "$PORT" 20; then
        [ "$err" != /dev/null ] && tail -5 "$err" >&2
        exit 1
    fi
    TOKEN=$(cat "$dir/api.token")
}

# stop_node: SIGTERM and wait (a clean stop: in-flight writes finish).
stop_node() {
    if [ -n "$NODE_PID" ]; then
        kill -TERM "$NODE_PID" 2>/dev/null || true
        wait "$NODE_PID" 2>/dev/null || true
        NODE_PID=""
    fi
}
trap stop_node EXIT

# run_wrk SCRIPT PATH OUTNAME [EXTRA...]: wrk against the current node.
run_wrk() {
    local script=$1 path=$2 name=$3
    shift 3
    HCP_TOKEN=$TOKEN wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --timeout 5s --latency \
        -s "$HERE/$script" "$@" "http://127.0.0.1:$PORT$path" >"$WORK/$name.txt" 2>&1 || {
        cat "$WORK/$name.txt" >&2
        exit 1
    }
    $PY wrkjson "$WORK/$name.txt" >"$OUT/$name.json"
}

metric() { $PY metric "$PORT" "$TOKEN" "$1"; }

echo "bench: (a) POST /v1/evaluations, wrk -t$THREADS -c$CONNS -d${DUR}s, node stderr to a file"
start_node a "$WORK/node-a.log"
a_p0=$($PY procstat "$NODE_PID")
run_wrk post.lua /v1/evaluations a_intake
a_p1=$($PY procstat "$NODE_PID")
a_evals=$(metric hcp_node_evaluations_total)
a_commits=$(metric hcp_node_commits_total)
a_writes=$(metric hcp_node_writes_total)
a_rss=$($PY rss "$NODE_PID")
a_log_lines=$(wc -l <"$WORK/node-a.log")
a_log_bytes=$(wc -c <"$WORK/node-a.log")

echo "bench: (b) GET /healthz on the same node"
b_p0=$($PY procstat "$NODE_PID")
run_wrk healthz.lua /healthz b_healthz
b_p1=$($PY procstat "$NODE_PID")
stop_node

echo "bench: (a') POST /v1/evaluations again, node stderr to /dev/null"
start_node a2 /dev/null
run_wrk post.lua /v1/evaluations a_intake_devnull
stop_node

echo "bench: (c) raw LMDB, $RAW_N records, 1,000 per durable transaction"
"$RAW" "$WORK/raw" "$RAW_N" 1000 >"$OUT/c_lmdb_raw.json"

echo "bench: (d) memory after $MEM_EVALS evaluations on a fresh node"
start_node d "$WORK/node-d.log"
# each wrk thread stops after its share of the responses (HCP_LIMIT); wrk
# itself would then idle until -d ends, so it is interrupted once the node
# counts enough. A second round tops up if a connection error left it short.
for round in 1 2 3; do
    have=$(metric hcp_node_evaluations_total)
    [ "$have" -ge "$MEM_EVALS" ] && break
    left=$(((MEM_EVALS - have + THREADS - 1) / THREADS))
    HCP_TOKEN=$TOKEN HCP_LIMIT=$left wrk -t"$THREADS" -c"$CONNS" -d300s --timeout 5s \
        -s "$HERE/post.lua" "http://127.0.0.1:$PORT/v1/evaluations" >"$WORK/d_round$round.txt" 2>&1 &
    wrk_pid=$!
    while kill -0 "$wrk_pid" 2>/dev/null && [ "$(metric hcp_node_evaluations_total)" -lt "$MEM_EVALS" ]; do
        sleep 0.2
    done
    sleep 0.2
    kill -INT "$wrk_pid" 2>/dev/null || true
    wait "$wrk_pid" || true
done
d_evals=$(metric hcp_node_evaluations_total)
sleep 1 # let freed buffers settle
$PY rss "$NODE_PID" | python3 -c 'import json,sys; j=json.load(sys.stdin); j["evaluations"]=int(sys.argv[1]); print(json.dumps(j))' "$d_evals" >"$OUT/d_memory.json"
stop_node

python3 - "$OUT/extra.json" <<EOF
import json, sys
json.dump({
    "settings": {"threads": $THREADS, "connections": $CONNS, "duration": $DUR,
                 "raw_records": $RAW_N, "raw_per_txn": 1000, "memory_evaluations": $MEM_EVALS},
    "node": {"evaluations": $a_evals, "commits": $a_commits, "writes": $a_writes,
             "rss_after_a": $a_rss, "log_lines": $a_log_lines, "log_bytes": $a_log_bytes},
    "proc": {"a0": $a_p0, "a1": $a_p1, "b0": $b_p0, "b1": $b_p1},
}, open(sys.argv[1], "w"))
EOF
$PY report "$OUT"
# HCP_BENCH_INTAKE_ONLY=1: stop after the node's own figures (a)..(d)
[ "${HCP_BENCH_INTAKE_ONLY:-0}" = 1 ] && exit 0

# Replication (issue #4): its own processes, after the intake figures so the
# two do not share the machine; adds "replication" to results.json.
echo
echo "bench: replication (bench/repl_bench.py)"
python3 "$HERE/repl_bench.py" "$BUILD" "$OUT"

# Peers (issue #18): hcp's catch-up and trickle beside PostgreSQL 15 logical
# replication and NATS JetStream leaf nodes, on the same records, one after
# the other; adds "peers" to results.json (docs/bench.md "Peers (issue #18)").
if [ "${HCP_BENCH_PEERS_SKIP:-0}" != 1 ]; then
    echo
    echo "bench: peers (bench/peers/peers_bench.py)"
    python3 "$HERE/peers/peers_bench.py" "$BUILD" "$OUT"
fi

# Directives (issue #13): 44 nodes connected to one gateway, N `note`
# directives to all; publish -> each node -> acknowledged at the gateway;
# then the 2,900-node fleet (bench_fleet), publish -> all applied; adds
# "directives" to results.json (docs/bench.md "Directives (issue #13)").
# The fleet needs a descriptor per node (see the fleet below).
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 65536 ] || ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "${HCP_BENCH_DIR_SKIP:-0}" != 1 ]; then
    echo
    echo "bench: directives (bench/directive_bench.py)"
    python3 "$HERE/directive_bench.py" "$BUILD" "$OUT"
fi

# The public feed (issue #5): a gateway holding HCP_BENCH_FEED_N cases from
# four county nodes; GET /feed/requests.json (a page, a filtered page, random
# pages) against GET /healthz on the same gateway; adds "feed" to results.json
# (docs/bench.md "Feed").
echo
echo "bench: public feed (bench/feed_bench.py)"
python3 "$HERE/feed_bench.py" "$BUILD" "$OUT"

# The transparency log (issue #14): catch-up with the log on and off, and
# the time until a checkpoint covers a new leaf; adds "tlog" to results.json.
if [ "${HCP_BENCH_TLOG_SKIP:-0}" != 1 ]; then
    echo
    echo "bench: transparency log (bench/tlog_bench.py)"
    python3 "$HERE/tlog_bench.py" "$BUILD" "$OUT"
fi

# Static publishing (issue #14): `hcp-gateway publish` of HCP_BENCH_PUB_N cases,
# then nginx serving the published files beside the gateway serving the same
# URLs (a feed page, a tile, random pages); adds "publish" to results.json
# (docs/bench.md "Static publishing (issue #14)"). HCP_BENCH_PUB_SKIP=1 skips it.
if [ "${HCP_BENCH_PUB_SKIP:-0}" != 1 ]; then
    echo
    echo "bench: static publishing (bench/publish_bench.py)"
    python3 "$HERE/publish_bench.py" "$BUILD" "$OUT"
fi

# Province figures (issue #12): a gateway store holding the figures of
# HCP_BENCH_STATS_N (1,000,000) cases; every /v1/stats route and
# /feed/stats.json, p50/p99; catch-up with the counters on and off; adds
# "stats" to results.json (docs/bench.md "Province figures (issue #12)").
echo
echo "bench: province figures (bench/stats_bench.py)"
python3 "$HERE/stats_bench.py" "$BUILD" "$OUT"

# Spot checks (issue #15): the draw over a million closed cases and its
# recomputation by hcp-verify; adds "spotcheck" to results.json.
echo
echo "bench: spot checks (bench/spot_bench.py)"
python3 "$HERE/spot_bench.py" "$BUILD" "$OUT"
# The monthly form (issue #12): a gateway store of HCP_BENCH_FORM_N cases
# made by bench_form_fill, the largest prefecture-month's form downloaded as
# a supervisor; adds "form" to results.json (docs/bench.md "Monthly form").
if [ "${HCP_BENCH_FORM_SKIP:-0}" != 1 ]; then
    echo
    echo "bench: monthly form (bench/form_bench.py)"
    python3 "$HERE/form_bench.py" "$BUILD" "$OUT"
fi
# Slow links (issue #18 part 3): one county's catch-up over a link shaped to
# 2 Mbit/s, 80 ms, 1 % loss (tc netem in a namespace, else bench/slowlink.py's
# proxy), with and without compressed batches, and the zstd level sweep;
# adds "link" to results.json (docs/bench.md "Slow links (issue #18)").
# HCP_BENCH_LINK_SKIP=all skips it (L or S: one part).
if [ "${HCP_BENCH_LINK_SKIP:-}" != all ]; then
    echo
    echo "bench: slow links (bench/link_bench.py)"
    python3 "$HERE/link_bench.py" "$BUILD" "$OUT"
fi
# The peers over the same shaped link (issue #18 part 3): hcp, PostgreSQL's
# subscriber -> publisher connection and a NATS leaf connection, each through
# its own SlowLink proxy, the same records; adds "peers_link" to results.json.
case ",${HCP_BENCH_LINK_SKIP:-}," in
*,all,* | *,P,* | *,p,*) ;;
*)
    if [ "${HCP_BENCH_PEERS_SKIP:-0}" != 1 ]; then
        echo
        echo "bench: slow links, the peers (bench/peers/peers_bench.py --link)"
        python3 "$HERE/peers/peers_bench.py" "$BUILD" "$OUT" --link
    fi
    ;;
esac

# Fleet (issue #4 (d)): 2,900 nodes in one bench_fleet process against one
# gateway; adds "fleet" to results.json (docs/bench.md "Fleet"). Both the
# gateway and bench_fleet need a descriptor per node: the soft limit is
# raised to the hard one (as root, the hard one too, where allowed).
echo
echo "bench: fleet (bench/fleet.py)"
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 65536 ] || ulimit -Hn 65536 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
python3 "$HERE/fleet.py" "$BUILD" "$OUT"

# Growth (issue #18 item 4): the figures as the gateway grows from 10,000 to
# 1,000,000 cases (HCP_BENCH_GROWTH_SIZES) and from 1 to 2,900 counties
# (bench_fleet in trickle mode); adds "growth" to results.json (docs/bench.md
# "Growth (issue #18)"). About 15 minutes; HCP_BENCH_GROWTH_QUICK=1 for a
# short run, HCP_BENCH_GROWTH_SKIP=1 skips it.
if [ "${HCP_BENCH_GROWTH_SKIP:-0}" != 1 ]; then
    echo
    echo "bench: growth (bench/growth_bench.py)"
    python3 "$HERE/growth_bench.py" "$BUILD" "$OUT"
fi
