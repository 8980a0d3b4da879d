#!/usr/bin/env python3
"""stats_bench.py — the province's figures (issue #12), run by bench/run.sh
after the feed figures. Python 3 standard library, wrk, the build's binaries.

  stats_bench.py BUILD_DIR OUT_DIR

S1  a gateway store holding the figures of HCP_BENCH_STATS_N (1,000,000) cases
    and as many ratings, made by bench_stats_fill (bench/stats_fill.c: the
    gateway's own gw_stats_case / gw_checks_event calls, 200,000 per
    transaction) into a store hcp-gateway made (and so its seal key), then
    hcp-gateway started on it (plain tcp://, --insecure).
    Every route, HCP_BENCH_STATS_REQS (200) requests each on one keep-alive
    connection, one at a time; p50 / p99 / max in ms (target p99 < 50 ms),
    the gateway's CPU time per request and the load average:
      units / staff ?year=2025 (staff: its first page, 100 rows); hotspots by each of the five kinds over a year
      and over a random range of 1..120 days; summary (all, one county, one
      prefecture, a year, a random range); /feed/stats.json (all, a year,
      a random range).
S2  catch-up with the counters and the form's rows on and off: one node
    (630102) filled offline with HCP_BENCH_STATS_CATCHUP_N (200,000) cases
    (wrk + bench/feed_post.lua: POST /v1/cases, one case_open each, the event
    that touches the most counters), copied, and replayed into a fresh
    gateway in each of MODES (off: HCP_GW_STATS=off and HCP_GW_FORM_ROWS=off;
    counters: the form's rows off; sync: both on, every row written in the
    transaction of its case, as before session 9; on: both on, as shipped:
    a catch-up's rows written behind it by the drain), in turn,
    HCP_BENCH_STATS_ROUNDS (2) times each; events/s of each run (applied ==
    head, polled every 50 ms) and
    events per second of the gateway's CPU time (less disturbed by other
    work on the machine) and of its loop thread's (the writer's, without the
    HTTP workers answering the polling), the medians, and on / off (target
    >= 0.9). For "on", also the drain after the catch-up: the seconds from
    applied == head until the gateway logs report.rows_drained, and the
    gateway's CPU meanwhile (the rows' cost, paid once the writer is idle).
Adds "stats" to OUT_DIR/results.json (and OUT_DIR/stats.json alone). Targets
are reported, never enforced. HCP_BENCH_STATS_SKIP=S1 or S2 skips a part.
HCP_BENCH_STATS_STORE=DIR keeps S1's store there and reuses it when filled.
HCP_BENCH_STATS_MODES=off,counters runs only those modes of S2 (default all
three). HCP_BENCH_STATS_WRAP="valgrind --tool=callgrind
--callgrind-out-file=/tmp/cg.{mode}.{round}" runs S2's gateways under that
command ({mode} and {round} replaced): an instruction count per mode that the
machine's load does not move (docs/bench.md, "Session 8").
"""
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from feed_bench import FeedBench  # noqa: E402
from repl_bench import (cpu_seconds, env_int, free_port, save_results, say,  # noqa: E402
                        wait_healthy)

N = env_int("HCP_BENCH_STATS_N", 1000000)
REQS = env_int("HCP_BENCH_STATS_REQS", 200)
CATCHUP_N = env_int("HCP_BENCH_STATS_CATCHUP_N", 200000)
ROUNDS = env_int("HCP_BENCH_STATS_ROUNDS", 2)
SKIP = set(s.strip().upper() for s in os.environ.get("HCP_BENCH_STATS_SKIP", "").split(",") if s)
KEEP = os.environ.get("HCP_BENCH_STATS_STORE", "")  # S1's store: kept, and reused when filled
TARGET_MS = 50.0
# S2's gateways: everything derived off; the counters alone; the counters and
# the monthly form's rows (the gateway as shipped)
MODES = {"off": {"HCP_GW_STATS": "off", "HCP_GW_FORM_ROWS": "off"},
         "counters": {"HCP_GW_FORM_ROWS": "off"},
         "sync": {"HCP_GW_FORM_ROWS": "sync"},
         "on": None}
TARGET_RATIO = 0.9
if os.environ.get("HCP_BENCH_STATS_MODES"):
    MODES = {m: MODES[m] for m in os.environ["HCP_BENCH_STATS_MODES"].split(",") if m in MODES}
WRAP = os.environ.get("HCP_BENCH_STATS_WRAP", "")


def loop_cpu_seconds(pid):
    """utime + stime of pid's main thread: the gateway's event loop, where the
    writer applies the batches (not the HTTP workers that answer the bench's
    polling, whose share grows with the wall time)."""
    try:
        with open("/proc/%d/task/%d/stat" % (pid, pid)) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def rand_range(rnd, longest):
    """A random from/to pair inside 2025-01-01 .. 2026-11-30, 1..longest days."""
    import datetime
    first = datetime.date(2025, 1, 1)
    n = rnd.randint(1, longest)
    a = first + datetime.timedelta(days=rnd.randint(0, 698 - n))
    return "from=%s&to=%s" % (a, a + datetime.timedelta(days=n - 1))


class StatsBench(FeedBench):
    def __init__(self, build, out):
        super().__init__(build, out)
        self.work = os.path.join(out, "work", "stats")
        self.fill_bin = os.path.join(build, "bench", "bench_stats_fill")

    def start_gw(self, gdir, env=None, wrap=None):
        gw = {"port": free_port(), "repl": free_port(), "dir": gdir}
        gw["url"] = "tcp://127.0.0.1:%d" % gw["repl"]
        p = subprocess.Popen((wrap or []) + [self.gw_bin, "--data", gdir, "--listen", gw["url"],
                              "--listen-http", "127.0.0.1:%d" % gw["port"], "--insecure"],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=open(gdir + ".log", "ab"), env=dict(os.environ, **(env or {})))
        self.procs.append(p)
        gw["proc"] = p
        if not wait_healthy(gw["port"], p, 120 if wrap else 30):
            raise RuntimeError("gateway did not start (see %s.log)" % gdir)
        for _ in range(100):
            if os.path.exists(os.path.join(gdir, "admin.token")):
                break
            time.sleep(0.05)
        with open(os.path.join(gdir, "admin.token")) as f:
            gw["token"] = f.read().strip()
        self.gw = gw
        return gw

    # ---- S1 ----
    def routes(self):
        rnd = random.Random(12)
        r = [("units", lambda: "/v1/stats/units?year=2025"),
             ("staff", lambda: "/v1/stats/staff?year=2025")]
        for by in ("service_item", "unit", "dimension", "county", "prefecture"):
            r.append(("hotspots %s year" % by,
                      lambda by=by: "/v1/stats/hotspots?from=2025-01-01&to=2025-12-31&by=" + by))
            r.append(("hotspots %s random" % by,
                      lambda by=by: "/v1/stats/hotspots?by=%s&%s" % (by, rand_range(rnd, 120))))
        r += [("summary all", lambda: "/v1/stats/summary"),
              ("summary county", lambda: "/v1/stats/summary?county=630102"),
              ("summary prefecture", lambda: "/v1/stats/summary?prefecture=632700"),
              ("summary year", lambda: "/v1/stats/summary?from=2025-01-01&to=2025-12-31"),
              ("summary random", lambda: "/v1/stats/summary?" + rand_range(rnd, 120)),
              ("feed stats.json all", lambda: "/feed/stats.json"),
              ("feed stats.json year", lambda: "/feed/stats.json?from=2025-01-01&to=2025-12-31"),
              ("feed stats.json random", lambda: "/feed/stats.json?" + rand_range(rnd, 120))]
        return r

    def measure(self, gw):
        conn = http.client.HTTPConnection("127.0.0.1", gw["port"], timeout=60)
        h = {"Authorization": "Bearer " + gw["token"]}
        rows = {}
        pid = gw["proc"].pid
        for name, path in self.routes():
            lat = []
            size = 0
            cpu0 = cpu_seconds(pid)
            for i in range(REQS):
                p = path()
                t0 = time.perf_counter()
                conn.request("GET", p, headers=h)
                resp = conn.getresponse()
                body = resp.read()
                lat.append((time.perf_counter() - t0) * 1000.0)
                if resp.status != 200:
                    raise RuntimeError("GET %s: %d %s" % (p, resp.status, body[:300]))
                size = len(body)
            cpu1 = cpu_seconds(pid)
            lat.sort()
            rows[name] = {"p50_ms": round(lat[len(lat) // 2], 2),
                          "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 2),
                          "max_ms": round(lat[-1], 2), "bytes": size, "requests": REQS,
                          "gateway_cpu_ms": round((cpu1 - cpu0) * 1000 / REQS, 2)
                          if cpu0 is not None and cpu1 is not None else None,
                          "load_average": [round(v, 2) for v in os.getloadavg()]}
            say("stats: %-28s p50 %7.2f ms  p99 %7.2f ms  (%d bytes; gateway CPU %s ms a request;"
                " load %.1f)" % (name, rows[name]["p50_ms"], rows[name]["p99_ms"], size,
                                 rows[name]["gateway_cpu_ms"], rows[name]["load_average"][0]))
        conn.close()
        return rows

    def s1(self):
        gdir = KEEP or os.path.join(self.work, "gw-1m")
        fill_json = gdir + ".fill.json"
        if KEEP and os.path.exists(fill_json):
            with open(fill_json) as f:
                fill = json.load(f)
        else:
            say("stats: S1 filling a gateway store with the figures of %s cases (bench_stats_fill)"
                % format(N, ","))
            # the store and its seal key, as the gateway makes them
            self.stop(self.start_gw(gdir)["proc"])
            out = subprocess.run([self.fill_bin, gdir, str(N)], check=True, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL).stdout
            fill = json.loads(out)
            with open(fill_json, "wb") as f:
                f.write(out)
        say("stats: filled in %.1f s (%s bytes)" % (fill["seconds"],
                                                   format(fill["data_mdb_bytes"], ",")))
        gw = self.start_gw(gdir)
        rows = self.measure(gw)
        self.stop(gw["proc"])
        worst = max(r["p99_ms"] for r in rows.values())
        load = [round(v, 2) for v in os.getloadavg()]
        say("stats: load average %s" % load)
        return {"fill": fill, "routes": rows, "worst_p99_ms": worst, "load_average": load,
                "target_p99_ms": TARGET_MS, "met": worst < TARGET_MS}

    # ---- S2 ----
    def catch_up(self, src, mode, k):
        ndir = os.path.join(self.work, "node-630102")
        shutil.rmtree(ndir, ignore_errors=True)
        shutil.copytree(src, ndir)
        gdir = os.path.join(self.work, "gw-%s-%d" % (mode, k))
        wrap = WRAP.replace("{mode}", mode).replace("{round}", str(k)).split() if WRAP else None
        gw = self.start_gw(gdir, MODES[mode], wrap)
        head = self.nodes["630102"]["head"]
        conn = http.client.HTTPConnection("127.0.0.1", gw["port"], timeout=30)
        cpu0 = cpu_seconds(gw["proc"].pid) or 0.0
        lcpu0 = loop_cpu_seconds(gw["proc"].pid) or 0.0
        t0 = time.monotonic()
        n = self.start_node("630102", gw["url"])
        got = 0
        while time.monotonic() - t0 < max(300, head / 1000):
            conn.request("GET", "/v1/counties", headers={"Authorization": "Bearer " + gw["token"]})
            rows = json.loads(conn.getresponse().read())
            rows = rows.get("counties", []) if isinstance(rows, dict) else rows  # an error: again
            got = {r["county"]: r.get("applied") or 0 for r in rows}.get("630102", 0)
            if got >= head:
                break
            time.sleep(0.05)
        secs = time.monotonic() - t0
        cpu = (cpu_seconds(gw["proc"].pid) or 0.0) - cpu0
        lcpu = (loop_cpu_seconds(gw["proc"].pid) or 0.0) - lcpu0
        conn.close()
        drain = None
        if mode == "on" and got >= head:  # the rows written behind the catch-up
            d0 = time.monotonic()
            while time.monotonic() - d0 < 600:
                with open(gdir + ".log", "rb") as f:
                    if b"report.rows_drained" in f.read():
                        break
                time.sleep(0.05)
            dsecs = time.monotonic() - d0
            dcpu = (cpu_seconds(gw["proc"].pid) or 0.0) - cpu0 - cpu
            drain = {"seconds": round(dsecs, 2), "cpu_s": round(dcpu, 2),
                     "us_cpu_per_event": round(dcpu * 1e6 / head, 2)}
            say("stats: S2 drain after the catch-up: %.2f s, gateway CPU %.2f s (%.1f us an "
                "event)" % (dsecs, dcpu, dcpu * 1e6 / head))
        self.stop(n["proc"])
        if wrap:  # a profiler writes its data at exit: give it time
            gw["proc"].send_signal(signal.SIGTERM)
            gw["proc"].wait(600)
        self.stop(gw["proc"])
        shutil.rmtree(gdir, ignore_errors=True)
        if got < head:
            raise RuntimeError("catch-up %s: %d of %d" % (mode, got, head))
        say("stats: S2 catch-up %-8s: %s events in %.2f s = %.0f events/s; gateway CPU "
            "%.2f s = %.0f events per CPU second; its loop thread %.2f s = %.0f per second "
            "(load %.1f)" % (mode, format(head, ","), secs, head / secs, cpu,
                             head / cpu if cpu > 0 else 0, lcpu, head / lcpu if lcpu > 0 else 0,
                             os.getloadavg()[0]))
        return (head / secs, head / cpu if cpu > 0 else 0.0, head / lcpu if lcpu > 0 else 0.0,
                drain)

    def s2(self):
        say("stats: S2 filling node 630102 offline with %s cases (wrk, feed_post.lua)"
            % format(CATCHUP_N, ","))
        head = self.fill("630102", "城东区政务服务中心", CATCHUP_N)
        src = os.path.join(self.work, "node-src")
        shutil.rmtree(src, ignore_errors=True)
        shutil.move(self.nodes["630102"]["dir"], src)
        runs = {m: [] for m in MODES}
        cpu = {m: [] for m in MODES}
        loop = {m: [] for m in MODES}
        loads, drains = [], []
        for k in range(ROUNDS):
            for mode in MODES:
                wall, per_cpu, per_loop, drain = self.catch_up(src, mode, k)
                if drain is not None:
                    drains.append(drain)
                runs[mode].append(round(wall, 1))
                cpu[mode].append(round(per_cpu, 1))
                loop[mode].append(round(per_loop, 1))
                loads.append(round(os.getloadavg()[0], 2))
        lmed = {m: statistics.median(loop[m]) for m in MODES}
        med = {m: statistics.median(runs[m]) for m in MODES}
        cmed = {m: statistics.median(cpu[m]) for m in MODES}
        off, on = med.get("off", 0), med.get("on", med.get("counters", 0))
        coff, con = cmed.get("off", 0), cmed.get("on", cmed.get("counters", 0))
        return {"events": head, "modes": {m: MODES[m] or {} for m in MODES},
                "runs_events_per_s": runs, "median_events_per_s": med,
                "median_events_per_cpu_s": cmed, "off_events_per_s": off,
                "on_events_per_s": on, "ratio": round(on / off, 3) if off else None,
                "counters_only_ratio": round(med["counters"] / off, 3)
                if off and "counters" in med else None,
                "runs_events_per_cpu_s": cpu, "off_events_per_cpu_s": coff,
                "on_events_per_cpu_s": con, "cpu_ratio": round(con / coff, 3) if coff else None,
                "counters_only_cpu_ratio": round(cmed["counters"] / coff, 3)
                if coff and "counters" in cmed else None,
                "runs_events_per_loop_cpu_s": loop, "median_events_per_loop_cpu_s": lmed,
                "loop_cpu_ratio": round(lmed.get("on", lmed.get("counters", 0)) / lmed["off"], 3)
                if lmed.get("off") else None,
                "counters_only_loop_cpu_ratio": round(lmed["counters"] / lmed["off"], 3)
                if lmed.get("off") and "counters" in lmed else None,
                "sync_cpu_ratio": round(cmed["sync"] / coff, 3)
                if coff and "sync" in cmed else None,
                "drains_after_on": drains,
                "load_average_after_each_run": loads,
                "load_average": [round(v, 2) for v in os.getloadavg()],
                "target_ratio": TARGET_RATIO, "met": bool(off) and on / off >= TARGET_RATIO}

    def run(self):
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        res = {"settings": {"cases": N, "requests_per_route": REQS, "catchup_cases": CATCHUP_N,
                            "rounds": ROUNDS}}
        try:
            if "S1" not in SKIP:
                res["routes"] = self.s1()
            if "S2" not in SKIP:
                res["catch_up"] = self.s2()
        finally:
            self.stop_all()
        shutil.rmtree(self.work, ignore_errors=True)
        return res


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: stats_bench.py BUILD_DIR OUT_DIR")
    res = StatsBench(argv[1], argv[2]).run()
    path = save_results(argv[2], "stats", res, "stats.json")
    if "routes" in res:
        r = res["routes"]
        say("stats: worst p99 %.2f ms over every route (target < %.0f ms: %s)"
            % (r["worst_p99_ms"], TARGET_MS, "met" if r["met"] else "missed"))
    if "catch_up" in res:
        c = res["catch_up"]
        say("stats: catch-up on %.0f / off %.0f events/s = %s (target >= %.2f: %s); per "
            "gateway CPU second on %.0f / off %.0f = %s"
            % (c["on_events_per_s"], c["off_events_per_s"], c["ratio"], TARGET_RATIO,
               "met" if c["met"] else "missed", c["on_events_per_cpu_s"],
               c["off_events_per_cpu_s"], c["cpu_ratio"]))
        say("stats: catch-up counters only / off = %s (per CPU second %s; per loop-thread CPU "
            "second %s; everything on / off per loop-thread CPU second %s)"
            % (c["counters_only_ratio"], c["counters_only_cpu_ratio"],
               c["counters_only_loop_cpu_ratio"], c["loop_cpu_ratio"]))
    say("stats: results in %s" % path)


if __name__ == "__main__":
    main(sys.argv)
