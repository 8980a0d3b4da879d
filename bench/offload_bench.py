#!/usr/bin/env python3
"""offload_bench.py — before/after figures for slow handlers on the HTTP
server's worker pool (docs/http.md "Slow handlers"). Not part of `make bench`:
a tool to compare gateway binaries on one data set. Python 3 standard library,
wrk.

  offload_bench.py BUILD_DIR OUT_DIR GATEWAY_BIN [GATEWAY_BIN ...]

Fills the feed bench's data set once (bench/feed_bench.py: HCP_BENCH_FEED_N
cases from four nodes, caught up by a gateway of BUILD_DIR), then starts each
GATEWAY_BIN in turn on that gateway's data and measures with wrk (BENCH_THREADS,
BENCH_CONNECTIONS, BENCH_DURATION as feed_bench.py):
  F1  /feed/requests.json?page_size=50 (one cached page)
  H   /healthz
  F3  random pages 1..HCP_BENCH_FEED_PAGES (mostly cache misses)
  F3+H  F3 again with a second wrk on /healthz at the same time (-t1 -c4):
        does /healthz stay fast while pages render?
HCP_BENCH_ROUNDS (default 1) repeats the binaries in turn; HCP_BENCH_REUSE=1
keeps the data of the last run in OUT_DIR (no filling). The gateways inherit
the environment (e.g. HCP_HTTP_WORKERS). Prints a table and writes
OUT_DIR/offload.json.
"""
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import feed_bench  # noqa: E402
from feed_bench import FeedBench  # noqa: E402
from repl_bench import env_int  # noqa: E402

ROUNDS = env_int("HCP_BENCH_ROUNDS", 1)


def wrk_cmd(port, path, threads, conns, script, dur):
    return ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % dur, "--timeout", "5s",
            "--latency", "-s", os.path.join(HERE, script), "http://127.0.0.1:%d%s" % (port, path)]


def parse(out):
    for line in out.splitlines():
        if line.startswith("WRKJSON "):
            return json.loads(line[len("WRKJSON "):])
    raise RuntimeError("no WRKJSON line:\n" + out[-2000:])


def measure(b):
    """F1, H, F3 and F3 with /healthz alongside, on the running gateway b.gw."""
    port, dur = b.gw["port"], feed_bench.DUR
    r = {"f1": b.wrk("f1", "/feed/requests.json?page_size=50"), "h": b.wrk("h", "/healthz"),
         "f3": b.wrk("f3", "/feed/requests.json", script="feed_pages.lua",
                     env={"HCP_PAGES": str(feed_bench.PAGES)})}
    env = dict(os.environ, HCP_BENCH_DIR=HERE, HCP_PAGES=str(feed_bench.PAGES))
    f3 = subprocess.Popen(wrk_cmd(port, "/feed/requests.json", feed_bench.THREADS,
                                  feed_bench.CONNS, "feed_pages.lua", dur),
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    h = subprocess.run(wrk_cmd(port, "/healthz", 1, 4, "feed_get.lua", dur), env=env,
                       capture_output=True, text=True)
    out, _ = f3.communicate()
    r["f3_with_h"] = parse(out)
    r["h_during_f3"] = parse(h.stdout + h.stderr)
    return r


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    build, out = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    bins = [os.path.abspath(x) for x in argv[3:]]
    b = FeedBench(build, out)
    res = {"settings": {"cases": feed_bench.N, "pages": feed_bench.PAGES,
                        "threads": feed_bench.THREADS, "connections": feed_bench.CONNS,
                        "duration": feed_bench.DUR}, "runs": []}
    try:
        if os.environ.get("HCP_BENCH_REUSE") and os.path.isdir(os.path.join(b.work, "gateway")):
            fill = False  # the data of the last run, as it is
        else:
            fill = True
            shutil.rmtree(b.work, ignore_errors=True)
            os.makedirs(b.work)
        per = (feed_bench.N + len(feed_bench.COUNTIES) - 1) // len(feed_bench.COUNTIES)
        if fill:
            heads = {c: b.fill(c, unit, per) for c, unit in feed_bench.COUNTIES}
            b.start_gateway()
            for c, _ in feed_bench.COUNTIES:
                b.start_node(c, b.gw["url"])
            while True:
                a = b.applied()
                if all(a.get(c, 0) >= heads[c] for c in heads):
                    break
                time.sleep(0.2)
            for c, _ in feed_bench.COUNTIES:
                b.stop(b.nodes[c]["proc"])
            b.stop(b.gw["proc"])
        for rnd in range(ROUNDS):
            for gw_bin in bins:
                b.gw_bin = gw_bin
                b.start_gateway()
                r = measure(b)
                r["binary"], r["round"] = gw_bin, rnd
                res["runs"].append(r)
                b.stop(b.gw["proc"])
    finally:
        b.stop_all()
    with open(os.path.join(out, "offload.json"), "w") as f:
        json.dump(res, f, indent=1)
    print("%-40s %5s %9s %9s %9s %9s %9s  %s" % ("binary", "round", "F1 r/s", "H r/s", "F3 r/s",
                                                 "F3p50ms", "F3p99ms", "H during F3"))
    for r in res["runs"]:
        hd = r["h_during_f3"]
        print("%-40s %5d %9.0f %9.0f %9.0f %9.1f %9.1f  %.0f r/s p50 %.2f p99 %.2f ms "
              "(F3 then %.0f r/s)"
              % (r["binary"][-40:], r["round"], r["f1"]["rps"], r["h"]["rps"], r["f3"]["rps"],
                 r["f3"]["p50_ms"], r["f3"]["p99_ms"], hd["rps"], hd["p50_ms"], hd["p99_ms"],
                 r["f3_with_h"]["rps"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
