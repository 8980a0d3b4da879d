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
      default the last page, N/50): mostly misses of the 256-slot page cache;
      since issue #18 the count index finds any page's first entry
  W   a walk through the whole feed by cursor (Link rel=next, page_size=50,
      one connection): every page's latency, every entry exactly once; its
      cursors are kept
  F4  GET ...?page_size=50&cursor=RANDOM(the walk's cursors): a walk resumed
      at a random depth
  W2, F5  the same for the filter of F2 (walked with page_size=200)
  F6  GET ...?county=630100&status=open&page_size=50&page=RANDOM(1..20): the
      filtered page= (a walk of the entries, its cost grows with the page)
  F1gz, F3gz  F1 and F3 with Accept-Encoding: gzip (the page's gzip form,
      kept with the page once made)
  and, at HCP_BENCH_FEED_LOW_CONNS connections (default 4, "a few
  crawlers"; -c32 on 2 cores mostly measures queueing): H, F1, F3, F1gz,
  F3gz again (keys *_c4), for the latency of a page at a light load
Ratios F1/H, F2/H, F1gz/H (target >= 0.5), reported, never enforced; beside each
wrk figure the gateway's CPU time per request (utime+stime, /proc). With
HCP_BENCH_FEED_BASE_GW=PATH (an hcp-gateway of an older commit) the same
store is then served by that binary and F1, F2, H, F3 (and the rest of
measure()'s set) and F6 measured again ("base"). Adds "feed" to OUT_DIR/results.json (also alone in
OUT_DIR/feed.json) and prints a table.
"""
import datetime
import gzip
import http.client
import re
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
                        save_results, say, wait_healthy, wait_settled)

TARGET_RATIO = 0.5
COUNTIES = (("630102", "城东区政务服务中心"), ("630103", "城中区政务服务中心"),
            ("630202", "乐都区政务服务中心"), ("630203", "平安区政务服务中心"))
FILTER = "county=630100&status=open&page_size=50"


N = env_int("HCP_BENCH_FEED_N", 200000)
CLOSED = env_int("HCP_BENCH_FEED_CLOSED", 250)  # per node
PAGES = env_int("HCP_BENCH_FEED_PAGES", 0)  # 0: up to the last page
BASE_GW = os.environ.get("HCP_BENCH_FEED_BASE_GW", "")
REUSE = os.environ.get("HCP_BENCH_FEED_REUSE", "") == "1"  # measure again, no fill
KEEP_NODES = os.environ.get("HCP_BENCH_FEED_KEEP_NODES", "") == "1"  # top up kept node stores
DUR = env_int("BENCH_DURATION", 10)
CONNS = env_int("BENCH_CONNECTIONS", 32)
THREADS = env_int("BENCH_THREADS", 2)
LOW_CONNS = env_int("HCP_BENCH_FEED_LOW_CONNS", 4)  # "a few crawlers"
GZIP = "Accept-Encoding: gzip"


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
        for attempt in range(10):  # a node busy with wrk's 32 connections may drop one
            try:
                st, body = req(n["port"], "GET", "/metrics", token=n["token"])
                break
            except (OSError, http.client.HTTPException):
                if attempt == 9:
                    raise
                time.sleep(0.5)
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
        closed = min(CLOSED, cases)
        if self.head(n) == 0:  # else a kept store (HCP_BENCH_FEED_KEEP_NODES): topped up
            self.close_some(county, n, closed)
        want = 5 * closed + max(0, cases - closed)  # 5 events per closed case
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
    def start_gateway(self, binary=None):
        gdir = os.path.join(self.work, "gateway")
        self.gw = {"port": free_port(), "repl": free_port(), "dir": gdir}
        url = "tcp://127.0.0.1:%d" % self.gw["repl"]
        self.gw["url"] = url
        self.gw["proc"] = self.spawn(
            [binary or self.gw_bin, "--data", gdir, "--listen", url, "--listen-http",
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
        try:  # a gateway restarting itself (its canary, under load) refuses for a moment
            st, body = req(self.gw["port"], "GET", "/v1/counties", token=self.gw["token"])
        except (OSError, http.client.HTTPException):
            return {}
        if st != 200:
            return {}
        j = json.loads(body)
        rows = j["counties"] if isinstance(j, dict) else j
        return {r["county"]: r.get("applied") or 0 for r in rows}

    # ---- wrk ----
    def wrk(self, name, path, script="feed_get.lua", env=None, conns=None, header=None):
        out = os.path.join(self.work, name + ".txt")
        e = dict(os.environ, HCP_BENCH_DIR=HERE, **(env or {}))
        conns = conns or CONNS
        cpu0 = cpu_seconds(self.gw["proc"].pid) or 0.0
        p = subprocess.run(
            ["wrk", "-t%d" % min(THREADS, conns), "-c%d" % conns, "-d%ds" % DUR, "--timeout", "5s",
             "--latency"] + (["-H", header] if header else []) +
            ["-s", os.path.join(HERE, script), "http://127.0.0.1:%d%s" % (self.gw["port"], path)],
            env=e, capture_output=True, text=True)
        with open(out, "w") as f:
            f.write(p.stdout + p.stderr)
        cpu = (cpu_seconds(self.gw["proc"].pid) or 0.0) - cpu0
        for line in p.stdout.splitlines():
            if line.startswith("WRKJSON "):
                w = json.loads(line[len("WRKJSON "):])
                w["gw_cpu_s"] = round(cpu, 2)
                w["connections"] = conns
                w["accept_encoding"] = "gzip" if header == GZIP else None
                w["gw_cpu_us_per_req"] = round(1e6 * cpu / w["requests"], 1) if w["requests"] else None
                return w
        raise RuntimeError("wrk %s: no WRKJSON line (exit %d):\n%s"
                           % (path, p.returncode, (p.stdout + p.stderr)[-2000:]))

    def body_of(self, path, gz=False):
        c = http.client.HTTPConnection("127.0.0.1", self.gw["port"], timeout=60)
        c.request("GET", path, headers={"Accept-Encoding": "gzip"} if gz else {})
        r = c.getresponse()
        body = r.read()
        c.close()
        if r.status != 200:
            raise RuntimeError("GET %s: %d %s" % (path, r.status, body[:200]))
        if gz and r.getheader("Content-Encoding") == "gzip":
            if gzip.decompress(body) != self.body_of(path):
                raise RuntimeError("GET %s: the gzip answer is not the plain one" % path)
        return body

    def walk(self, name, query, size):
        """Follow Link rel=next from the first page to the end on one
        connection: each page's latency, the entries (each once?), and the
        cursors (kept in a file for F4/F5)."""
        link = re.compile(r'^<([^>]*)>; rel="next"$')
        path = "/feed/requests.json?%s%spage_size=%d" % (query, "&" if query else "", size)
        c = http.client.HTTPConnection("127.0.0.1", self.gw["port"], timeout=60)
        lat, ids, cursors = [], set(), []
        entries = 0
        cpu0 = cpu_seconds(self.gw["proc"].pid) or 0.0
        t0 = time.monotonic()
        while path:
            t = time.monotonic()
            c.request("GET", path)
            r = c.getresponse()
            body = r.read()
            lat.append(time.monotonic() - t)
            if r.status != 200:
                raise RuntimeError("walk %s: %d %s" % (path, r.status, body[:200]))
            got = json.loads(body)
            entries += len(got)
            ids.update(e["service_request_id"] for e in got)
            m = link.match(r.getheader("Link") or "")
            path = m.group(1) if m else None
            if path:
                cursors.append(path.rsplit("cursor=", 1)[1])
        secs = time.monotonic() - t0
        cpu = (cpu_seconds(self.gw["proc"].pid) or 0.0) - cpu0
        c.close()
        with open(os.path.join(self.work, name + ".cursors"), "w") as f:
            f.write("\n".join(cursors) + "\n")
        lat.sort()

        def pct(q):
            return round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 3)
        return {"query": query, "page_size": size, "pages": len(lat), "entries": entries,
                "distinct": len(ids), "seconds": round(secs, 1), "p50_ms": pct(0.5),
                "p99_ms": pct(0.99), "max_ms": round(1000 * lat[-1], 3),
                "gw_cpu_us_per_req": round(1e6 * cpu / len(lat), 1),
                "cursors": os.path.join(self.work, name + ".cursors")}

    def measure(self, res, pages, tag=""):
        """F1, F2, H, F3 on the running gateway into res (keys + tag)."""
        paths = {"f1": "/feed/requests.json?page_size=50", "f2": "/feed/requests.json?" + FILTER,
                 "h": "/healthz"}
        res["f1_page" + tag] = self.wrk("f1_feed_page" + tag, paths["f1"])
        res["f2_filtered" + tag] = self.wrk("f2_feed_filtered" + tag, paths["f2"])
        res["h_healthz" + tag] = self.wrk("h_healthz" + tag, paths["h"])
        res["f3_random_pages" + tag] = self.wrk(
            "f3_feed_random" + tag, "/feed/requests.json", script="feed_pages.lua",
            env={"HCP_PAGES": str(pages)})
        res["f1gz_page" + tag] = self.wrk("f1gz_feed_page" + tag, paths["f1"], header=GZIP)
        res["f3gz_random_pages" + tag] = self.wrk(
            "f3gz_feed_random" + tag, "/feed/requests.json", script="feed_pages.lua",
            env={"HCP_PAGES": str(pages)}, header=GZIP)
        # the same at a light load: a few crawlers, not a closed loop of 32
        c4 = "_c%d" % LOW_CONNS
        res["h_healthz" + c4 + tag] = self.wrk("h_healthz" + c4 + tag, paths["h"],
                                               conns=LOW_CONNS)
        res["f1_page" + c4 + tag] = self.wrk("f1_feed_page" + c4 + tag, paths["f1"],
                                             conns=LOW_CONNS)
        res["f3_random_pages" + c4 + tag] = self.wrk(
            "f3_feed_random" + c4 + tag, "/feed/requests.json", script="feed_pages.lua",
            env={"HCP_PAGES": str(pages)}, conns=LOW_CONNS)
        res["f1gz_page" + c4 + tag] = self.wrk("f1gz_feed_page" + c4 + tag, paths["f1"],
                                               conns=LOW_CONNS, header=GZIP)
        res["f3gz_random_pages" + c4 + tag] = self.wrk(
            "f3gz_feed_random" + c4 + tag, "/feed/requests.json", script="feed_pages.lua",
            env={"HCP_PAGES": str(pages)}, conns=LOW_CONNS, header=GZIP)
        h = res["h_healthz" + tag]["rps"]
        hcpu = res["h_healthz" + tag]["gw_cpu_us_per_req"]
        for k, f in (("ratio_f1_over_h", "f1_page"), ("ratio_f2_over_h", "f2_filtered"),
                     ("ratio_f3_over_h", "f3_random_pages"), ("ratio_f1gz_over_h", "f1gz_page"),
                     ("ratio_f3gz_over_h", "f3gz_random_pages")):
            res[k + tag] = round(res[f + tag]["rps"] / h, 3) if h else None
            c = res[f + tag]["gw_cpu_us_per_req"]
            res[k + "_cpu" + tag] = round(hcpu / c, 3) if hcpu and c else None

    # ---- the run ----
    def run(self):
        res = {"settings": {"cases": N, "closed_per_node": CLOSED, "nodes": len(COUNTIES),
                            "threads": THREADS, "connections": CONNS, "duration": DUR,
                            "random_pages": PAGES, "filter": FILTER,
                            "low_connections": LOW_CONNS}}
        per = (N + len(COUNTIES) - 1) // len(COUNTIES)
        res["settings"]["cases"] = per * len(COUNTIES)
        if REUSE and os.path.isdir(os.path.join(self.work, "gateway")):
            say("feed: measuring again on the kept store in %s" % self.work)
            res["fill"] = res["catch_up"] = None
            res["settings"]["reused_store"] = True
            self.start_gateway()
            return self.measure_all(res)
        if not KEEP_NODES:
            shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(os.path.join(self.work, "gateway"), ignore_errors=True)
        os.makedirs(self.work, exist_ok=True)
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
        return self.measure_all(res)

    def measure_all(self, res):
        # the form's rows a catch-up left behind are written first: not measured with the routes
        res["settled"] = wait_settled(self.gw["proc"].pid)
        say("feed: the gateway quiet after %.1f s (%.0f%% of a core busy at first)"
            % (res["settled"]["seconds"], res["settled"]["busy_first"] * 100))
        paths = {"f1": "/feed/requests.json?page_size=50", "f2": "/feed/requests.json?" + FILTER,
                 "h": "/healthz"}
        bodies = {k: self.body_of(p) for k, p in paths.items()}
        gz_bytes = {"f1": len(self.body_of(paths["f1"], gz=True)),
                    "f3_page_2": len(self.body_of(paths["f1"] + "&page=2", gz=True))}
        for k in ("f1", "f2"):
            j = json.loads(bodies[k])
            if len(j) != 50:
                raise RuntimeError("%s gave %d entries, not 50" % (paths[k], len(j)))
        last = N // 50
        deep = json.loads(self.body_of("/feed/requests.json?page_size=50&page=%d" % last))
        res["entries_check"] = {"page": last, "entries": len(deep)}
        res["bytes"] = {k: len(b) for k, b in bodies.items()}
        res["bytes_gzip"] = gz_bytes
        pages = PAGES or max(1, (res["settings"]["cases"] + 49) // 50)
        res["settings"]["random_pages"] = pages
        res["loadavg_before"] = os.getloadavg()
        say("feed: wrk -t%d -c%d -d%ds on F1, F2, H, F3 (pages 1..%d)"
            % (THREADS, CONNS, DUR, pages))
        self.measure(res, pages)
        say("feed: walking the feed by cursor (W, W2), then F4, F5, F6")
        res["w_walk"] = self.walk("w_walk", "", 50)
        res["f4_random_cursor"] = self.wrk(
            "f4_feed_cursor", "/feed/requests.json", script="feed_cursors.lua",
            env={"HCP_CURSORS": res["w_walk"]["cursors"], "HCP_QUERY": ""})
        res["w2_walk_filtered"] = self.walk("w2_walk_filtered", "county=630100&status=open", 200)
        res["f5_random_cursor_filtered"] = self.wrk(
            "f5_feed_cursor_filtered", "/feed/requests.json", script="feed_cursors.lua",
            env={"HCP_CURSORS": res["w2_walk_filtered"]["cursors"],
                 "HCP_QUERY": "county=630100&status=open"})
        res["f6_filtered_pages"] = self.wrk(
            "f6_feed_filtered_pages", "/feed/requests.json", script="feed_pages.lua",
            env={"HCP_PAGES": "20", "HCP_QUERY": "county=630100&status=open"})
        res["gateway_rss"] = proc_status(self.gw["proc"].pid)
        res["loadavg_after"] = os.getloadavg()
        res["target_ratio"] = TARGET_RATIO
        res["target_met"] = {k: (res[k] is not None and res[k] >= TARGET_RATIO)
                             for k in ("ratio_f1_over_h", "ratio_f2_over_h",
                                       "ratio_f1gz_over_h")}
        res["date"] = datetime.date.today().isoformat()
        self.stop(self.gw["proc"])
        if BASE_GW:  # the same store served by an older gateway: before/after
            say("feed: the same store under %s (base)" % BASE_GW)
            self.start_gateway(BASE_GW)
            res["base_loadavg_before"] = os.getloadavg()
            self.measure(res, pages, "_base")
            res["f6_filtered_pages_base"] = self.wrk(
                "f6_feed_filtered_pages_base", "/feed/requests.json", script="feed_pages.lua",
                env={"HCP_PAGES": "20", "HCP_QUERY": "county=630100&status=open"})
            res["base_loadavg_after"] = os.getloadavg()
            self.stop(self.gw["proc"])
        return res


def report(r):
    def row(name, value, note=""):
        print("  %-46s %14s  %s" % (name, value, note))

    def wr(w):
        return "p50 %.2f p99 %.2f ms; %s us CPU/req; errors %d" % (
            w["p50_ms"], w["p99_ms"], w.get("gw_cpu_us_per_req"), sum(w["errors"].values()))

    print()
    print("hcp public feed benchmark (hcp-gateway, %s cases from %d nodes)"
          % (format(r["settings"]["cases"], ","), r["settings"]["nodes"]))
    print("  " + "-" * 78)
    if r["fill"] is not None:
        row("filling the nodes offline (HTTP)  events/s", "%.0f" % r["fill"]["events_per_s"],
            "%.1f s" % r["fill"]["seconds"])
        row("gateway catch-up incl. feed entries  ev/s", "%.0f" % r["catch_up"]["events_per_s"],
            "%.1f s; gateway CPU %.1f s" % (r["catch_up"]["seconds"],
                                            r["catch_up"]["gateway_cpu_s"]))
    row("(F1) /feed/requests.json?page_size=50  req/s", "%.0f" % r["f1_page"]["rps"],
        "%d B; %s" % (r["bytes"]["f1"], wr(r["f1_page"])))
    row("(F2) ?%s  req/s" % "county=630100&status=open", "%.0f" % r["f2_filtered"]["rps"],
        "%d B; %s" % (r["bytes"]["f2"], wr(r["f2_filtered"])))
    row("(H) /healthz, same gateway  req/s", "%.0f" % r["h_healthz"]["rps"],
        "%d B; %s" % (r["bytes"]["h"], wr(r["h_healthz"])))
    row("(F3) random page 1..%d (cache misses)  req/s" % r["settings"]["random_pages"],
        "%.0f" % r["f3_random_pages"]["rps"], wr(r["f3_random_pages"]))
    row("(F1gz) F1, Accept-Encoding: gzip  req/s", "%.0f" % r["f1gz_page"]["rps"],
        "%d B; %s" % (r["bytes_gzip"]["f1"], wr(r["f1gz_page"])))
    row("(F3gz) F3, Accept-Encoding: gzip  req/s", "%.0f" % r["f3gz_random_pages"]["rps"],
        wr(r["f3gz_random_pages"]))
    c4 = "_c%d" % r["settings"].get("low_connections", 4)
    for k in ("h_healthz", "f1_page", "f3_random_pages", "f1gz_page", "f3gz_random_pages"):
        if k + c4 in r:
            row("%s at -c%s  req/s" % (k, c4[2:]), "%.0f" % r[k + c4]["rps"], wr(r[k + c4]))
    for k, name in (("f4_random_cursor", "(F4) random cursor, whole feed"),
                    ("f5_random_cursor_filtered", "(F5) random cursor, F2's filter"),
                    ("f6_filtered_pages", "(F6) F2's filter, random page 1..20")):
        row(name + "  req/s", "%.0f" % r[k]["rps"], wr(r[k]))
    for k, name in (("w_walk", "(W) walk by cursor, page_size=50"),
                    ("w2_walk_filtered", "(W2) walk F2's filter, page_size=200")):
        w = r[k]
        row(name + "  pages", "%d" % w["pages"], "%d entries (%d distinct) in %.1f s; p50 %.2f "
            "p99 %.2f ms" % (w["entries"], w["distinct"], w["seconds"], w["p50_ms"], w["p99_ms"]))
    for k, name in (("ratio_f1_over_h", "F1/H"), ("ratio_f2_over_h", "F2/H"),
                    ("ratio_f1gz_over_h", "F1gz/H")):
        row("ratio %s" % name, "%.3f" % r[k], "target >= %g: %s; CPU ratio %s" % (
            TARGET_RATIO, "met" if r["target_met"][k] else "MISSED", r.get(k + "_cpu")))
    for k, name in (("ratio_f3_over_h", "F3/H"), ("ratio_f3gz_over_h", "F3gz/H")):
        row("ratio %s" % name, "%.3f" % r[k], "CPU ratio %s" % r.get(k + "_cpu"))
    if "h_healthz_base" in r:
        for k in ("f1_page", "f2_filtered", "h_healthz", "f3_random_pages", "f1gz_page",
                  "f3gz_random_pages", "f1_page" + c4, "f3_random_pages" + c4,
                  "f6_filtered_pages"):
            row("base: %s  req/s" % k, "%.0f" % r[k + "_base"]["rps"], wr(r[k + "_base"]))
    row("load average before / after", "", "%s / %s" % (
        " ".join("%.1f" % x for x in r["loadavg_before"]),
        " ".join("%.1f" % x for x in r["loadavg_after"])))
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
