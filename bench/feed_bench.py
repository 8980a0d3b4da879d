#!/usr/bin/env python3
"""feed_bench.py — the public feed's benchmark (issue #5), run by bench/run.sh
after the replication figures. Python 3 standard library, wrk, the build's
binaries.

  feed_bench.py BUILD_DIR OUT_DIR

A gateway holding N cases (HCP_BENCH_FEED_N, default 200000) from four county
nodes (630102, 630103 of 西宁市 630100; 630202, 630203 of 海东市 630200):
each node is filled offline through its HTTP API (wrk + bench/feed_post.lua:
POST /v1/cases, complaints and reviews; plus HCP_BENCH_FEED_CLOSED cases per
node walked to closed by Python), then a fresh gateway (plain tcp://,
--insecure) is started and the nodes restarted with --gateway; they catch up
(timed, until /v1/counties shows applied == head for all four). Then, with
wrk -t2 -c32 -d10s (BENCH_THREADS, BENCH_CONNECTIONS, BENCH_DURATION):
  F1  GET /feed/requests.json?page_size=50
  F2  GET /feed/requests.json?county=630100&status=open&page_size=50
  H   GET /healthz on the same gateway (the nearest trivial handler)
  F3  GET /feed/requests.json?page_size=50&page=RANDOM(1..HCP_BENCH_FEED_PAGES,
      default 1000): mostly misses of the 256-slot page cache (context only)
Ratios F1/H and F2/H (target >= 0.5), reported, never enforced. Adds "feed" to
OUT_DIR/results.json (also alone in OUT_DIR/feed.json) and prints a table.
"""
import datetime
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from repl_bench import (cpu_seconds, env_int, free_port, proc_status, req,  # noqa: E402
                        save_results, say, wait_healthy)

TARGET_RATIO = 0.5
COUNTIES = (("630102", "城东区政务服务中心"), ("630103", "城中区政务服务中心"),
            ("630202", "乐都区政务服务中心"), ("630203", "平安区政务服务中心"))
FILTER = "county=630100&status=open&page_size=50"


N = env_int("HCP_BENCH_FEED_N", 200000)
CLOSED = env_int("HCP_BENCH_FEED_CLOSED", 250)  # per node
PAGES = env_int("HCP_BENCH_FEED_PAGES", 1000)
DUR = env_int("BENCH_DURATION", 10)
CONNS = env_int("BENCH_CONNECTIONS", 32)
THREADS = env_int("BENCH_THREADS", 2)


class FeedBench:
    def __init__(self, build, out):
        self.build, self.out = build, out
        self.work = os.path.join(out, "work", "feed")
        self.node_bin = os.path.join(build, "node", "hcp-node")
        self.gw_bin = os.path.join(build, "gateway", "hcp-gateway")
        self.procs = []
        self.nodes = {}  # county -> {"port", "token", "proc", "dir"}
        self.gw = None

    # ---- processes ----
    def spawn(self, cmd, log):
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=open(log, "ab"))
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p)

    def start_node(self, county, gateway=None):
        n = self.nodes.setdefault(county, {"dir": os.path.join(self.work, "node-" + county)})
        n["port"] = free_port()
        cmd = [self.node_bin, "--data", n["dir"], "--county", county, "--listen-http",
               "127.0.0.1:%d" % n["port"], "--sweep-interval", "86400"]
        if gateway:
            cmd += ["--gateway", gateway, "--insecure"]
        n["proc"] = self.spawn(cmd, os.path.join(self.work, "node-%s.log" % county))
        if not wait_healthy(n["port"], n["proc"]):
            raise RuntimeError("node %s did not start (see %s/node-%s.log)"
                               % (county, self.work, county))
        with open(os.path.join(n["dir"], "api.token")) as f:
            n["token"] = f.read().strip()
        return n

    def head(self, n):
        st, body = req(n["port"], "GET", "/metrics", token=n["token"])
        for line in body.decode().splitlines():
            if line.startswith("hcp_node_log_head "):
                return int(float(line.split()[1]))
        raise RuntimeError("no hcp_node_log_head in /metrics (%d)" % st)

    # ---- filling ----
    def close_some(self, county, n, k):
        """k cases walked to closed (unsubstantiated) on one connection."""
        c = http.client.HTTPConnection("127.0.0.1", n["port"], timeout=30)
        body = {"kind": "complaint", "unit": {"code": "U1", "name": "政务服务中心"},
                "service_item": {"code": "SI-009", "name": "户籍办理"}, "channel": "hall",
                "dimensions": ["attitude"], "complainant": None, "content": "bench"}
        steps = ({"type": "verify_start", "verifier": {"name": "核实人", "phone": "1"}},
                 {"type": "verify_conclude", "outcome": "unsubstantiated"},
                 {"type": "feedback", "via": "sms", "text": "不属实"}, {"type": "close"})
        for _ in range(k):
            st, data = req(n["port"], "POST", "/v1/cases", n["token"],
                           json.dumps(body, ensure_ascii=False).encode(), conn=c)
            if st != 201:
                raise RuntimeError("POST /v1/cases on %s: %d %s" % (county, st, data[:200]))
            cid = json.loads(data)["id"]
            for s in steps:
                st, data = req(n["port"], "POST", "/v1/cases/%s/events" % cid, n["token"],
                               json.dumps(s, ensure_ascii=False).encode(), conn=c)
                if st != 200:
                    raise RuntimeError("%s %s: %d %s" % (cid, s["type"], st, data[:200]))
        c.close()

    def fill(self, county, unit, cases):
        """A node holding `cases` cases (CLOSED of them closed), offline."""
        n = self.start_node(county)
        self.close_some(county, n, min(CLOSED, cases))
        want = self.head(n) + max(0, cases - CLOSED)
        env = dict(os.environ, HCP_TOKEN=n["token"], HCP_UNIT=unit, HCP_BENCH_DIR=HERE)
        for _ in range(3):  # a top-up round if a connection error left it short
            have = self.head(n)
            if have >= want:
                break
            env["HCP_LIMIT"] = str((want - have + THREADS - 1) // THREADS)
            w = subprocess.Popen(
                ["wrk", "-t%d" % THREADS, "-c%d" % CONNS, "-d600s", "--timeout", "5s",
                 "-s", os.path.join(HERE, "feed_post.lua"),
                 "http://127.0.0.1:%d/v1/cases" % n["port"]],
                env=env, stdout=open(os.path.join(self.work, "fill-%s.txt" % county), "ab"),
                stderr=subprocess.STDOUT)
            while w.poll() is None and self.head(n) < want:
                time.sleep(0.2)
            time.sleep(0.2)
            if w.poll() is None:
                w.send_signal(signal.SIGINT)
            w.wait()
        n["head"] = self.head(n)
        self.stop(n["proc"])
        return n["head"]

    # ---- the gateway ----
    def start_gateway(self):
        gdir = os.path.join(self.work, "gateway")
        self.gw = {"port": free_port(), "repl": free_port(), "dir": gdir}
        url = "tcp://127.0.0.1:%d" % self.gw["repl"]
        self.gw["url"] = url
        self.gw["proc"] = self.spawn(
            [self.gw_bin, "--data", gdir, "--listen", url, "--listen-http",
             "127.0.0.1:%d" % self.gw["port"], "--insecure"],
            os.path.join(self.work, "gateway.log"))
        if not wait_healthy(self.gw["port"], self.gw["proc"]):
            raise RuntimeError("gateway did not start (see %s/gateway.log)" % self.work)
        tok = os.path.join(gdir, "admin.token")
        for _ in range(100):
            if os.path.exists(tok):
                break
            time.sleep(0.05)
        with open(tok) as f:
            self.gw["token"] = f.read().strip()

    def applied(self):
        st, body = req(self.gw["port"], "GET", "/v1/counties", token=self.gw["token"])
        if st != 200:
            return {}
        j = json.loads(body)
        rows = j["counties"] if isinstance(j, dict) else j
        return {r["county"]: r.get("applied") or 0 for r in rows}

    # ---- wrk ----
    def wrk(self, name, path, script="feed_get.lua", env=None):
        out = os.path.join(self.work, name + ".txt")
        e = dict(os.environ, HCP_BENCH_DIR=HERE, **(env or {}))
        p = subprocess.run(
            ["wrk", "-t%d" % THREADS, "-c%d" % CONNS, "-d%ds" % DUR, "--timeout", "5s",
             "--latency", "-s", os.path.join(HERE, script),
             "http://127.0.0.1:%d%s" % (self.gw["port"], path)],
            env=e, capture_output=True, text=True)
        with open(out, "w") as f:
            f.write(p.stdout + p.stderr)
        for line in p.stdout.splitlines():
            if line.startswith("WRKJSON "):
                return json.loads(line[len("WRKJSON "):])
        raise RuntimeError("wrk %s: no WRKJSON line (exit %d):\n%s"
                           % (path, p.returncode, (p.stdout + p.stderr)[-2000:]))

    def body_of(self, path):
        st, body = req(self.gw["port"], "GET", path)
        if st != 200:
            raise RuntimeError("GET %s: %d %s" % (path, st, body[:200]))
        return body

    # ---- the run ----
    def run(self):
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        res = {"settings": {"cases": N, "closed_per_node": CLOSED, "nodes": len(COUNTIES),
                            "threads": THREADS, "connections": CONNS, "duration": DUR,
                            "random_pages": PAGES, "filter": FILTER}}
        per = (N + len(COUNTIES) - 1) // len(COUNTIES)
        res["settings"]["cases"] = per * len(COUNTIES)
        say("feed: filling %d nodes offline with %s cases (POST /v1/cases, wrk)"
            % (len(COUNTIES), format(per * len(COUNTIES), ",")))
        t0 = time.monotonic()
        heads = {c: self.fill(c, unit, per) for c, unit in COUNTIES}
        fill_s = time.monotonic() - t0
        events = sum(heads.values())
        res["fill"] = {"seconds": round(fill_s, 1), "events": events,
                       "events_per_s": round(events / fill_s, 1)}
        say("feed: %s events in %.1f s; gateway catch-up" % (format(events, ","), fill_s))
        self.start_gateway()
        t0 = time.monotonic()
        cpu0 = cpu_seconds(self.gw["proc"].pid) or 0.0
        for c, _ in COUNTIES:
            self.start_node(c, self.gw["url"])
        while True:
            a = self.applied()
            if all(a.get(c, 0) >= heads[c] for c in heads):
                break
            if time.monotonic() - t0 > 900:
                raise RuntimeError("catch-up did not finish in 900 s: %r of %r" % (a, heads))
            time.sleep(0.1)
        cu_s = time.monotonic() - t0
        res["catch_up"] = {"seconds": round(cu_s, 1), "events_per_s": round(events / cu_s, 1),
                           "gateway_cpu_s": round((cpu_seconds(self.gw["proc"].pid) or 0) - cpu0,
                                                  1)}
        # stop the nodes: the measurement is the gateway's alone
        for c, _ in COUNTIES:
            self.stop(self.nodes[c]["proc"])
        paths = {"f1": "/feed/requests.json?page_size=50", "f2": "/feed/requests.json?" + FILTER,
                 "h": "/healthz"}
        bodies = {k: self.body_of(p) for k, p in paths.items()}
        for k in ("f1", "f2"):
            j = json.loads(bodies[k])
            if len(j) != 50:
                raise RuntimeError("%s gave %d entries, not 50" % (paths[k], len(j)))
        last = N // 50
        deep = json.loads(self.body_of("/feed/requests.json?page_size=50&page=%d" % last))
        res["entries_check"] = {"page": last, "entries": len(deep)}
        res["bytes"] = {k: len(b) for k, b in bodies.items()}
        say("feed: wrk -t%d -c%d -d%ds on F1, F2, H, F3" % (THREADS, CONNS, DUR))
        res["f1_page"] = self.wrk("f1_feed_page", paths["f1"])
        res["f2_filtered"] = self.wrk("f2_feed_filtered", paths["f2"])
        res["h_healthz"] = self.wrk("h_healthz", paths["h"])
        res["f3_random_pages"] = self.wrk("f3_feed_random", "/feed/requests.json",
                                          script="feed_pages.lua", env={"HCP_PAGES": str(PAGES)})
        res["gateway_rss"] = proc_status(self.gw["proc"].pid)
        h = res["h_healthz"]["rps"]
        res["ratio_f1_over_h"] = round(res["f1_page"]["rps"] / h, 3) if h else None
        res["ratio_f2_over_h"] = round(res["f2_filtered"]["rps"] / h, 3) if h else None
        res["target_ratio"] = TARGET_RATIO
        res["target_met"] = {k: (res[k] is not None and res[k] >= TARGET_RATIO)
                             for k in ("ratio_f1_over_h", "ratio_f2_over_h")}
        res["date"] = datetime.date.today().isoformat()
        self.stop(self.gw["proc"])
        return res


def report(r):
    def row(name, value, note=""):
        print("  %-46s %14s  %s" % (name, value, note))

    def wr(w):
        return "p50 %.2f p99 %.2f ms; errors %d" % (
            w["p50_ms"], w["p99_ms"], sum(w["errors"].values()))

    print()
    print("hcp public feed benchmark (hcp-gateway, %s cases = %s events from %d nodes)"
          % (format(r["settings"]["cases"], ","), format(r["fill"]["events"], ","),
             r["settings"]["nodes"]))
    print("  " + "-" * 78)
    row("filling the nodes offline (HTTP)  events/s", "%.0f" % r["fill"]["events_per_s"],
        "%.1f s" % r["fill"]["seconds"])
    row("gateway catch-up incl. feed entries  ev/s", "%.0f" % r["catch_up"]["events_per_s"],
        "%.1f s; gateway CPU %.1f s" % (r["catch_up"]["seconds"], r["catch_up"]["gateway_cpu_s"]))
    row("(F1) /feed/requests.json?page_size=50  req/s", "%.0f" % r["f1_page"]["rps"],
        "%d B; %s" % (r["bytes"]["f1"], wr(r["f1_page"])))
    row("(F2) ?%s  req/s" % "county=630100&status=open", "%.0f" % r["f2_filtered"]["rps"],
        "%d B; %s" % (r["bytes"]["f2"], wr(r["f2_filtered"])))
    row("(H) /healthz, same gateway  req/s", "%.0f" % r["h_healthz"]["rps"],
        "%d B; %s" % (r["bytes"]["h"], wr(r["h_healthz"])))
    row("(F3) random page 1..%d (cache misses)  req/s" % r["settings"]["random_pages"],
        "%.0f" % r["f3_random_pages"]["rps"], wr(r["f3_random_pages"]))
    for k, name in (("ratio_f1_over_h", "F1/H"), ("ratio_f2_over_h", "F2/H")):
        row("ratio %s" % name, "%.3f" % r[k], "target >= %g: %s" % (
            TARGET_RATIO, "met" if r["target_met"][k] else "MISSED"))
    print("  " + "-" * 78)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, out = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    b = FeedBench(build, out)
    for f in (b.node_bin, b.gw_bin):
        if not os.access(f, os.X_OK):
            print("bench: %s is missing (build first: make bench)" % f, file=sys.stderr)
            return 1
    if not shutil.which("wrk"):
        print("bench: wrk is missing (scripts/deps.sh bench)", file=sys.stderr)
        return 1
    try:
        r = b.run()
    finally:
        b.stop_all()
    path = save_results(out, "feed", r, "feed.json")
    report(r)
    print("  results: %s (key \"feed\")" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
