#!/usr/bin/env python3
"""growth_bench.py — how hcp's figures change as the province grows (issue #18
item 4; docs/bench.md "Growth (issue #18)"): with the number of cases at the
gateway, and with the number of counties connected to it.

  growth_bench.py BUILD_DIR OUT_DIR [--quick]

S  cases at the gateway. One county node (630102) and one gateway (mutual TLS
   on loopback), grown in stages to each size of HCP_BENCH_GROWTH_SIZES. At a
   stage of size S: the node, alone (no --gateway), is filled through its
   HTTP API with new cases up to S - P (wrk + bench/feed_post.lua: one
   case_open each, the event that moves the feed, the counters and the
   transparency log) and caught up into the gateway ("bulk"); then P more
   (HCP_BENCH_GROWTH_PROBE, at most S/2) and caught up again ("probe": the
   same number of events at every size, so its rate is the catch-up rate with
   S cases already at the gateway). Catch-up = from the node's start with
   --gateway until GET /v1/counties shows applied = the node's head (polled
   every 50 ms); events/s and events per gateway CPU second (utime + stime,
   /proc/PID/stat). Then, the node stopped, on the gateway holding S cases:
   the first feed page (/feed/requests.json?page_size=50: a page-cache hit
   after the first request), deep feed pages (a random page in the last
   tenth of the feed, page_size=50: nearly every one a cache miss that walks
   the feed from its start), /v1/stats/summary (supervisor: the admin token)
   and /healthz — HCP_BENCH_GROWTH_REQS requests each, one at a time on a
   keep-alive connection: latency p50/p99 and the gateway's CPU per request;
   the gateway's VmRSS split into RssAnon (heap) and RssFile (LMDB map
   pages), and its store's bytes (data.mdb: size and allocated blocks).
C  counties. For each N of HCP_BENCH_GROWTH_COUNTIES: a fresh gateway and
   bench_fleet with N simulated counties (bench/fleet.py's set-up) in trickle
   mode: every county commits one evaluation every N/TOTAL seconds (a fixed
   total of HCP_BENCH_GROWTH_TOTAL events a second, 880 = the 44 Qinghai
   counties at 20 a second, spread over N counties) and sends it at once.
   After all are connected and 3 s settled: HCP_BENCH_GROWTH_TRICKLE_S of
   trickle timed by bench_fleet (per event: due -> the gateway's
   acknowledgement, one monotonic clock), the gateway's CPU per live event,
   bench_fleet's CPU, the machine's load, and the gateway's memory.

Environment: HCP_BENCH_GROWTH_SIZES (10000,100000,1000000; quick
10000,30000), HCP_BENCH_GROWTH_PROBE (20000; quick 5000),
HCP_BENCH_GROWTH_REQS (200; deep pages: a quarter of it),
HCP_BENCH_GROWTH_COUNTIES (1,44,500,2900; quick 1,44),
HCP_BENCH_GROWTH_TOTAL (880), HCP_BENCH_GROWTH_TRICKLE_S (20; quick 5),
HCP_BENCH_GROWTH_SKIP (S, C or S,C), HCP_BENCH_GROWTH_QUICK=1 (= --quick).
bench/run.sh runs it last unless HCP_BENCH_GROWTH_SKIP=1. Adds "growth" to
OUT_DIR/results.json (also OUT_DIR/growth.json). No figure is a pass or a
fail: the script fails only when something could not be measured.
"""
import http.client
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import repl_bench as rb  # noqa: E402
from repl_bench import (cpu_seconds, env_int, machine_busy_seconds, say,  # noqa: E402
                        wait_settled)


def env_list(name, default):
    v = os.environ.get(name, "").strip()
    return [int(x) for x in (v or default).split(",") if x.strip()]


QUICK = os.environ.get("HCP_BENCH_GROWTH_QUICK", "") == "1" or "--quick" in sys.argv
SIZES = env_list("HCP_BENCH_GROWTH_SIZES", "10000,30000" if QUICK else "10000,100000,1000000")
PROBE = env_int("HCP_BENCH_GROWTH_PROBE", 5000 if QUICK else 20000)
REQS = env_int("HCP_BENCH_GROWTH_REQS", 50 if QUICK else 200)
COUNTIES = env_list("HCP_BENCH_GROWTH_COUNTIES", "1,44" if QUICK else "1,44,500,2900")
TOTAL = env_int("HCP_BENCH_GROWTH_TOTAL", 880)
TRICKLE_S = env_int("HCP_BENCH_GROWTH_TRICKLE_S", 5 if QUICK else 20)
SKIP = set(s.strip().upper() for s in os.environ.get("HCP_BENCH_GROWTH_SKIP", "").split(",") if s)
COUNTY = "630102"
POLL_S = 0.05


def load():
    return [round(x, 2) for x in os.getloadavg()]


def mem(pid):
    """VmRSS, VmHWM, RssAnon, RssFile of pid in KiB."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    out[k + "_kib"] = int(v.split()[0])
    except OSError:
        pass
    return out


def cpu_ns(pid):
    """CPU time pid's threads have run, in seconds at nanosecond resolution
    (the first field of /proc/PID/task/*/schedstat; /proc/PID/stat counts in
    10 ms ticks, too coarse for one request). None when unreadable."""
    total = 0
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        return None
    return total / 1e9


def lmdb_tables(path, psize=4096):
    """Every named table of the LMDB file at path (read while nothing
    writes): {name: {depth, entries, branch_pages, leaf_pages,
    overflow_pages}}, from the newer meta page and the main table's leaves
    (LMDB's on-disk layout: a 16-byte page header, then MDB_meta or the
    node offsets; an MDB_db is 48 bytes). The B-tree depth is what each
    look-up walks; {} when the file cannot be read so."""
    def db(b, off):
        _, _, depth, br, lf, ov, ent, root = struct.unpack_from("<IHHQQQQQ", b, off)
        return {"depth": depth, "entries": ent, "branch_pages": br, "leaf_pages": lf,
                "overflow_pages": ov, "root": root}
    out = {}
    try:
        with open(path, "rb") as f:
            metas = [f.read(psize), f.read(psize)]

            def page(no):
                f.seek(no * psize)
                return f.read(psize)

            best = max(metas, key=lambda m: struct.unpack_from("<Q", m, 16 + 24 + 96 + 8)[0])
            main = db(best, 16 + 24 + 48)
            stack = [main["root"]] if main["depth"] else []
            while stack:
                p = page(stack.pop())
                flags, lower = struct.unpack_from("<HH", p, 10)
                for k in range((lower - 16) // 2):
                    no = struct.unpack_from("<H", p, 16 + 2 * k)[0]
                    lo, hi, nfl, ks = struct.unpack_from("<HHHH", p, no)
                    if flags & 1:  # branch: the child's page number
                        stack.append(lo | hi << 16 | nfl << 32)
                    elif flags & 2 and nfl & 2:  # a leaf's sub-table record
                        name = p[no + 8:no + 8 + ks].decode("utf-8", "replace").rstrip("\0")
                        d = db(p, no + 8 + ks)
                        d.pop("root")
                        out[name] = d
    except (OSError, struct.error, ValueError):
        return {}
    return out


def quantile(xs, q):
    """Nearest-rank quantile of xs (sorted here)."""
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(q * len(s) + 0.5) - 1))]


class Sizes(rb.Bench):
    """The size axis: one node and one gateway grown stage by stage."""

    def __init__(self, build, out):
        super().__init__(build, out)
        self.work = os.path.join(out, "work", "growth")
        self.pki = os.path.join(self.work, "pki")

    def fill_cases(self, n, target):
        """POST cases to node n until it holds target events (wrk,
        feed_post.lua); the seconds it took."""
        t0 = time.monotonic()
        for _ in range(5):
            have = self.node_head(n)
            if have >= target:
                break
            env = dict(os.environ, HCP_TOKEN=n["token"], HCP_UNIT="城东区政务服务中心",
                       HCP_LIMIT=str((target - have + 1) // 2))
            w = subprocess.Popen(["wrk", "-t2", "-c32", "-d3600s", "--timeout", "10s", "-s",
                                  os.path.join(HERE, "feed_post.lua"),
                                  "http://127.0.0.1:%d/v1/cases" % n["port"]],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while w.poll() is None:
                time.sleep(0.25)
                if n["proc"].poll() is not None:
                    w.kill()
                    w.wait()
                    raise RuntimeError("the node exited during the fill (status %s)"
                                       % n["proc"].returncode)
                if self.node_head(n) >= target:
                    w.send_signal(signal.SIGINT)
                    w.wait()
        return time.monotonic() - t0

    def grow(self, target):
        """Fill the node (alone) to target events; (events added, seconds)."""
        n = self.start_node(COUNTY, "node", log=os.path.join(self.work, "node-fill.log"))
        h0 = self.node_head(n)
        secs = self.fill_cases(n, target)
        h1 = self.node_head(n)
        self.stop(n["proc"])
        return h1 - h0, secs

    def catch_up(self, gw):
        """Restart the node with --gateway; time until the gateway applied
        its head. A dict of figures."""
        n0 = self.start_node(COUNTY, "node")
        head = self.node_head(n0)
        self.stop(n0["proc"])
        before = self.applied(gw).get(COUNTY, 0)
        conn = http.client.HTTPConnection("127.0.0.1", gw["hport"], timeout=30)
        g0, busy0, t0 = cpu_seconds(gw["proc"].pid), machine_busy_seconds(), time.monotonic()
        n = self.start_node(COUNTY, "node", gw["port"], os.path.join(self.work, "node-sync.log"))
        got = before
        while time.monotonic() - t0 < max(300, (head - before) / 1000):
            got = self.applied(gw, conn).get(COUNTY, 0)
            if got >= head:
                break
            time.sleep(POLL_S)
        secs = time.monotonic() - t0
        g1, busy1 = cpu_seconds(gw["proc"].pid), machine_busy_seconds()
        conn.close()
        self.stop(n["proc"])
        if got < head:
            raise RuntimeError("catch-up: %d of %d applied after %.0f s" % (got, head, secs))
        ev = head - before
        cpu = g1 - g0
        return {"events": ev, "seconds": round(secs, 3), "events_per_s": round(ev / secs, 1),
                "gateway_cpu_s": round(cpu, 2),
                "events_per_gateway_cpu_s": round(ev / cpu, 1) if cpu > 0 else None,
                "gateway_cpu_us_per_event": round(cpu * 1e6 / ev, 2) if ev else None,
                "machine_busy_cpu_s": round(busy1 - busy0, 1) if busy0 is not None else None,
                "load_after": load()}

    def route(self, gw, name, paths, token=None):
        """Ask each of paths (a list; cycled) once in turn, REQS in all or
        len(paths); latency and the gateway's CPU per request."""
        conn = http.client.HTTPConnection("127.0.0.1", gw["hport"], timeout=120)
        hdr = {"Authorization": "Bearer " + token} if token else {}
        lat, size, status = [], 0, {}
        c0, t_all = cpu_ns(gw["proc"].pid), time.monotonic()
        for p in paths:
            t0 = time.monotonic()
            conn.request("GET", p, headers=hdr)
            r = conn.getresponse()
            body = r.read()
            lat.append((time.monotonic() - t0) * 1e3)
            size = len(body)
            status[r.status] = status.get(r.status, 0) + 1
        wall = time.monotonic() - t_all
        c1 = cpu_ns(gw["proc"].pid)
        conn.close()
        return {"requests": len(paths), "p50_ms": round(quantile(lat, 0.5), 3),
                "p99_ms": round(quantile(lat, 0.99), 3), "max_ms": round(max(lat), 3),
                "gateway_cpu_ms_per_req": round((c1 - c0) * 1e3 / len(paths), 4),
                "wall_s": round(wall, 2), "bytes_last": size, "status": status,
                "load": load()}

    def measure(self, gw, cases):
        # the form's rows the catch-ups left behind are written first (a deep
        # page measured during that drain shares the cores with it)
        r = {"settled": wait_settled(gw["proc"].pid)}
        r["feed_first"] = self.route(gw, "feed_first",
                                     ["/feed/requests.json?page_size=50"] * REQS)
        pages = max(1, cases // 50)
        lo = max(1, pages - pages // 10)
        deep = ["/feed/requests.json?page_size=50&page=%d" % random.randint(lo, pages)
                for _ in range(max(10, REQS // 4))]
        r["feed_deep"] = self.route(gw, "feed_deep", deep)
        r["feed_deep"]["pages"] = [lo, pages]
        r["stats_summary"] = self.route(gw, "stats_summary", ["/v1/stats/summary"] * REQS,
                                        gw["token"])
        r["healthz"] = self.route(gw, "healthz", ["/healthz"] * REQS)
        r["gateway_mem"] = mem(gw["proc"].pid)
        p = os.path.join(self.work, "gw", "data.mdb")
        st = os.stat(p)
        r["store"] = {"data_mdb_size": st.st_size, "data_mdb_allocated": st.st_blocks * 512,
                      "tables": lmdb_tables(p)}
        return r

    def run(self):
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.make_pki([COUNTY])
        gw = self.start_gateway("gw")
        res = {"stages": []}
        try:
            for size in SIZES:
                st = {"cases": size, "load_before": load()}
                probe = min(PROBE, size // 2)
                say("growth: stage %s cases: fill to %s, catch up; then a probe of %s"
                    % (format(size, ","), format(size - probe, ","), format(probe, ",")))
                add, secs = self.grow(size - probe)
                st["fill_bulk"] = {"events": add, "seconds": round(secs, 1)}
                if add > 0:
                    st["bulk"] = self.catch_up(gw)
                add, secs = self.grow(size)
                st["fill_probe"] = {"events": add, "seconds": round(secs, 1)}
                st["probe"] = self.catch_up(gw)
                st["gateway_after_catch_up"] = mem(gw["proc"].pid)
                st["applied"] = self.applied(gw).get(COUNTY, 0)
                st.update(self.measure(gw, size))
                say("growth: %s cases: probe %.0f events/s (%.1f µs gateway CPU/event); "
                    "feed first p99 %.2f ms, deep p99 %.1f ms (%.2f ms CPU); summary %.2f ms "
                    "CPU; RssAnon %.1f MB RssFile %.1f MB; store %.0f MB (measured once the "
                    "gateway was quiet: %.1f s, %.0f%% of a core busy at first)"
                    % (format(size, ","), st["probe"]["events_per_s"],
                       st["probe"]["gateway_cpu_us_per_event"] or 0,
                       st["feed_first"]["p99_ms"], st["feed_deep"]["p99_ms"],
                       st["feed_deep"]["gateway_cpu_ms_per_req"],
                       st["stats_summary"]["gateway_cpu_ms_per_req"],
                       st["gateway_mem"].get("RssAnon_kib", 0) / 1024,
                       st["gateway_mem"].get("RssFile_kib", 0) / 1024,
                       st["store"]["data_mdb_allocated"] / 1e6, st["settled"]["seconds"],
                       st["settled"]["busy_first"] * 100))
                res["stages"].append(st)
        finally:
            self.stop_all()
        shutil.rmtree(os.path.join(self.work, "node"), ignore_errors=True)
        shutil.rmtree(os.path.join(self.work, "gw"), ignore_errors=True)
        return res


def gw_batches(hport, token):
    """hcp_gateway_batches_applied_total from the gateway's /metrics (None
    when absent)."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", hport, timeout=10)
        c.request("GET", "/metrics", headers={"Authorization": "Bearer " + token})
        body = c.getresponse().read().decode()
        c.close()
    except OSError:
        return None
    for line in body.splitlines():
        if line.startswith("hcp_gateway_batches_applied_total"):
            return float(line.split()[-1])
    return None


def commits_counter(pid, secs):
    """perf counting the gateway's fdatasync/fsync calls (one per LMDB
    commit) for secs, or None without perf or tracepoints: a Popen."""
    if not shutil.which("perf"):
        return None
    try:
        return subprocess.Popen(
            ["perf", "stat", "-x", ",", "-e",
             "syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync", "-p", str(pid),
             "--", "sleep", str(secs)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    except OSError:
        return None


def commits_read(p):
    """The count perf printed (fdatasync + fsync), or None."""
    if p is None:
        return None
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        return None
    total = None
    for line in err.splitlines():
        f = line.split(",")
        if len(f) > 2 and f[0].strip().isdigit() and "sys_enter_f" in f[2]:
            total = (total or 0) + int(f[0])
    return total


def counties_run(build, out, n):
    """One fleet of n simulated counties in trickle mode (see the docstring)."""
    import fleet as fl
    rate = TOTAL / n
    b = fl.Fleet(build, out, n=n, work_name="growth-fleet")
    b.extra_args = ["--trickle", "%.6g" % rate,
                    "--duration", str(fl.TIMEOUT + TRICKLE_S + 120)]
    r = {"counties": n, "rate_per_county": round(rate, 4), "total_per_s": TOTAL,
         "load_before": load()}
    try:
        b.start()
        if b.wait_event("identities", 120) is None:
            raise RuntimeError("bench_fleet made no identities (log: %s)" % b.fleet_err)
        conn = b.wait_event("connected", fl.TIMEOUT)
        if conn is None:
            raise RuntimeError("the fleet of %d did not connect within %d s" % (n, fl.TIMEOUT))
        r["connect_all_s"] = round(conn["ack_all_s"], 2)
        time.sleep(3)
        gpid, fpid = b.gw.pid, b.fleet.pid
        g0, f0, busy0, t0 = cpu_seconds(gpid), cpu_seconds(fpid), machine_busy_seconds(), \
            time.monotonic()
        ba0 = gw_batches(b.hport, b.token)
        pc = commits_counter(gpid, TRICKLE_S)
        b.command("tstart")
        time.sleep(TRICKLE_S)
        b.command("tstop")
        g1, f1, busy1, t1 = cpu_seconds(gpid), cpu_seconds(fpid), machine_busy_seconds(), \
            time.monotonic()
        ba1 = gw_batches(b.hport, b.token)
        commits = commits_read(pc)
        batches = ba1 - ba0 if ba0 is not None and ba1 is not None else None
        r["gateway_batches"] = batches
        r["gateway_commits"] = commits
        r["batches_per_commit"] = round(batches / commits, 2) if batches and commits else None
        t = b.wait_event("trickle", 30)
        if t is None:
            raise RuntimeError("bench_fleet gave no trickle line (log: %s)" % b.fleet_err)
        r["trickle"] = t
        ev = t.get("events") or 0
        r["seconds"] = round(t1 - t0, 2)
        r["events_per_s"] = round(ev / (t1 - t0), 1)
        r["cpu_s"] = {"gateway": round(g1 - g0, 2), "bench_fleet": round(f1 - f0, 2),
                      "machine_busy": round(busy1 - busy0, 1) if busy0 is not None else None,
                      "machine_available": round(2 * (t1 - t0), 1)}
        r["gateway_cpu_us_per_event"] = round((g1 - g0) * 1e6 / ev, 1) if ev else None
        r["gateway_mem"] = mem(gpid)
        r["load_after"] = load()
        b.command("stop")
        s = b.wait_event("summary", 60)
        r["errors"] = (s or {}).get("errors")
    finally:
        if getattr(b, "fleet", None) is not None:
            b.stop()
        shutil.rmtree(b.work, ignore_errors=True)
    say("growth: %d counties x %.3g/s: p50 %.2f ms p99 %.2f ms (%d events); gateway %.0f µs "
        "CPU per live event; RSS %.1f MB"
        % (n, rate, t.get("p50_ms", 0), t.get("p99_ms", 0), ev,
           r["gateway_cpu_us_per_event"] or 0, r["gateway_mem"].get("VmRSS_kib", 0) / 1024))
    return r


def report(res):
    print()
    print("hcp growth (issue #18 item 4)")
    print("  " + "-" * 100)
    if res.get("sizes"):
        print("  %-10s %10s %9s %9s %9s %9s %9s %9s %8s %8s %8s" % (
            "cases", "probe ev/s", "µs CPU/ev", "first p99", "deep p99", "deep CPU", "sum CPU",
            "hz CPU", "anon MB", "file MB", "store MB"))
        for s in res["sizes"]["stages"]:
            print("  %-10s %10.0f %9.1f %9.2f %9.1f %9.2f %9.2f %9.3f %8.1f %8.1f %8.0f" % (
                format(s["cases"], ","), s["probe"]["events_per_s"],
                s["probe"]["gateway_cpu_us_per_event"] or 0, s["feed_first"]["p99_ms"],
                s["feed_deep"]["p99_ms"], s["feed_deep"]["gateway_cpu_ms_per_req"],
                s["stats_summary"]["gateway_cpu_ms_per_req"],
                s["healthz"]["gateway_cpu_ms_per_req"],
                s["gateway_mem"].get("RssAnon_kib", 0) / 1024,
                s["gateway_mem"].get("RssFile_kib", 0) / 1024,
                s["store"]["data_mdb_allocated"] / 1e6))
    if res.get("counties"):
        print("  %-10s %10s %9s %9s %9s %11s %9s %9s" % (
            "counties", "ev/s each", "p50 ms", "p99 ms", "max ms", "µs CPU/ev", "RSS MB",
            "load"))
        for c in res["counties"]:
            t = c.get("trickle", {})
            print("  %-10s %10.3g %9.2f %9.2f %9.1f %11.1f %9.1f %9s" % (
                format(c["counties"], ","), c["rate_per_county"], t.get("p50_ms", 0),
                t.get("p99_ms", 0), t.get("max_ms", 0), c.get("gateway_cpu_us_per_event") or 0,
                c.get("gateway_mem", {}).get("VmRSS_kib", 0) / 1024, c.get("load_after")))
    print("  " + "-" * 100)


def main(argv):
    args = [a for a in argv[1:] if a != "--quick"]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    build, out = os.path.abspath(args[0]), os.path.abspath(args[1])
    for b in ("node/hcp-node", "gateway/hcp-gateway", "certs/hcp-certs", "bench/bench_fleet"):
        if not os.access(os.path.join(build, b), os.X_OK):
            print("bench: %s is missing (build first: make bench)" % b, file=sys.stderr)
            return 1
    if not shutil.which("wrk"):
        print("bench: wrk is missing (scripts/deps.sh bench)", file=sys.stderr)
        return 1
    res = {"settings": {"sizes": SIZES, "probe": PROBE, "reqs": REQS, "counties": COUNTIES,
                        "total_per_s": TOTAL, "trickle_s": TRICKLE_S, "quick": QUICK},
           "load_before": load()}
    if "S" not in SKIP:
        s = Sizes(build, out)
        res["sizes"] = s.run()
        rb.save_results(out, "growth", res, "growth.json")
    if "C" not in SKIP:
        res["counties"] = []
        for n in COUNTIES:
            say("growth: %d counties, %d events/s in all, trickle %d s" % (n, TOTAL, TRICKLE_S))
            res["counties"].append(counties_run(build, out, n))
            rb.save_results(out, "growth", res, "growth.json")
    res["load_after"] = load()
    path = rb.save_results(out, "growth", res, "growth.json")
    report(res)
    print("  results: %s (key \"growth\")" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
