#!/usr/bin/env python3
"""tlog_bench.py — the transparency log's benchmark (issue #14), run by
bench/run.sh after the feed figures. Python 3 standard library, wrk, the
build's binaries.

  tlog_bench.py BUILD_DIR OUT_DIR

Two county nodes (630102, 630103) are filled offline through their HTTP API
with events that each make a leaf: WALK cases per node walked through
verify_start, verify_conclude, feedback and close (5 events each, Python,
4 connections), the rest new cases (POST /v1/cases, wrk + bench/
feed_post.lua), HCP_BENCH_TLOG_N events in all. The filled data directories
are kept and copied afresh for every run, so each run replays the same
events:
  C   catch-up: a fresh gateway (plain tcp://, --insecure) and both nodes
      started with --gateway; time from the nodes' start until
      /v1/counties shows applied == head for both; events/s and the
      gateway's CPU seconds. Runs alternate log on / log off
      (HCP_BENCH_TLOG_OFF=1 in the gateway's environment: the writer appends
      nothing to the log; a switch for this measurement only, docs/api.md),
      REPS times each, in the order on-off, off-on, ... after one uncounted
      warm-up run (the first run after filling is slower), with the page
      cache's dirty data written out (sync) before each; each mode's best
      and median; ratio on/off of the
      medians (target >= 0.85: "within 15 %"), and of the gateway's CPU
      seconds per event (steadier on a shared machine). A log-on run must end with a
      checkpoint covering every event; a log-off run with an empty log.
  L   checkpoint latency, on the last log-on run's gateway (the tree already
      holds every event) with 630102 connected: LAT_N times, after a random
      0-0.5 s pause (so the post falls anywhere in the 500 ms signing
      period), one event (a new case or its next step) is posted at the
      node; the gateway is polled (GET /log/tile/entries/... of the new
      width: served once the leaf is committed; GET /log/checkpoint: its
      size) every ~1 ms. commit -> checkpoint = first checkpoint covering
      the leaf - first time its entry tile is served; post -> checkpoint
      from the node's POST. p50/p90/p99/max (nearest rank).

Environment: HCP_BENCH_TLOG_N (100000 events), HCP_BENCH_TLOG_WALK (2000 cases
per node walked to closed), HCP_BENCH_TLOG_REPS (3), HCP_BENCH_TLOG_LAT_N
(150), BENCH_THREADS, BENCH_CONNECTIONS. Adds "tlog" to OUT_DIR/results.json
(also alone in OUT_DIR/tlog.json) and prints a table. Targets are reported,
never enforced: the script fails only when something could not be measured.
"""
import datetime
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from feed_bench import FeedBench  # noqa: E402
from repl_bench import (cpu_seconds, env_int, free_port, req, save_results,  # noqa: E402
                        say, wait_healthy)

TARGET_RATIO = 0.85
COUNTIES = (("630102", "城东区政务服务中心"), ("630103", "城中区政务服务中心"))
N = env_int("HCP_BENCH_TLOG_N", 100000)
WALK = env_int("HCP_BENCH_TLOG_WALK", 2000)
REPS = max(1, env_int("HCP_BENCH_TLOG_REPS", 3))
LAT_N = env_int("HCP_BENCH_TLOG_LAT_N", 150)
THREADS = env_int("BENCH_THREADS", 2)
CONNS = env_int("BENCH_CONNECTIONS", 32)
CASE = {"kind": "complaint", "unit": {"code": "U1", "name": "政务服务中心"},
        "service_item": {"code": "SI-009", "name": "户籍办理"}, "channel": "hall",
        "dimensions": ["attitude"], "complainant": None, "content": "bench"}
STEPS = ({"type": "verify_start", "verifier": {"name": "核实人", "phone": "1"}},
         {"type": "verify_conclude", "outcome": "unsubstantiated"},
         {"type": "feedback", "via": "sms", "text": "不属实"}, {"type": "close"})


def post(port, token, path, body, conn, want):
    st, data = req(port, "POST", path, token, json.dumps(body, ensure_ascii=False).encode(),
                   conn=conn)
    if st != want:
        raise RuntimeError("POST %s: %d %s" % (path, st, data[:200]))
    return data


def walk(port, token, k):
    """k cases opened and walked to closed (5 events each), one connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(k):
        cid = json.loads(post(port, token, "/v1/cases", CASE, c, 201))["id"]
        for s in STEPS:
            post(port, token, "/v1/cases/%s/events" % cid, s, c, 200)
    c.close()


def nearest_rank(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(q * len(s) + 0.999999) - 1))]



def written_bytes(pid):
    """wchar of /proc/PID/io: bytes pid passed to write calls (None if unreadable)."""
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("wchar:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None

class TlogBench(FeedBench):
    def __init__(self, build, out):
        super().__init__(build, out)
        self.work = os.path.join(out, "work", "tlog")
        self.pristine = os.path.join(self.work, "pristine")

    # ---- filling ----
    def fill_node(self, county, unit, events):
        """A node holding `events` events, every one a case event, offline."""
        n = self.start_node(county)
        errors = []

        def worker(k):
            try:
                walk(n["port"], n["token"], k)
            except Exception as e:  # noqa: BLE001 (reported below)
                errors.append(e)
        ts = [threading.Thread(target=worker, args=(WALK // 4 + (i < WALK % 4),))
              for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        if errors:
            raise errors[0]
        want = events
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
                w.send_signal(2)
            w.wait()
        head = self.head(n)
        self.stop(n["proc"])
        return head

    def restore_nodes(self):
        """Every node's data (and keys) as filled: the same events each run."""
        for c, _ in COUNTIES:
            d = os.path.join(self.work, "node-" + c)
            for suffix in ("", ".keys"):
                shutil.rmtree(d + suffix, ignore_errors=True)
                src = os.path.join(self.pristine, "node-" + c + suffix)
                if os.path.exists(src):
                    shutil.copytree(src, d + suffix)

    # ---- the gateway ----
    def start_gateway_env(self, tag, env):
        gdir = os.path.join(self.work, "gateway-" + tag)
        shutil.rmtree(gdir, ignore_errors=True)
        shutil.rmtree(gdir + ".keys", ignore_errors=True)
        self.gw = {"port": free_port(), "repl": free_port(), "dir": gdir}
        url = "tcp://127.0.0.1:%d" % self.gw["repl"]
        self.gw["url"] = url
        log = os.path.join(self.work, "gateway-%s.log" % tag)
        genv = dict(os.environ)
        genv.pop("HCP_BENCH_TLOG_OFF", None)  # only the "off" runs set it
        genv.update(env)
        p = subprocess.Popen(
            [self.gw_bin, "--data", gdir, "--listen", url, "--listen-http",
             "127.0.0.1:%d" % self.gw["port"], "--insecure"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(log, "ab"),
            env=genv)
        self.procs.append(p)
        self.gw["proc"] = p
        if not wait_healthy(self.gw["port"], p):
            raise RuntimeError("gateway did not start (see %s)" % log)
        tok = os.path.join(gdir, "admin.token")
        for _ in range(100):
            if os.path.exists(tok):
                break
            time.sleep(0.05)
        with open(tok) as f:
            self.gw["token"] = f.read().strip()

    def tree_size(self, conn=None):
        st, body = req(self.gw["port"], "GET", "/log/checkpoint", conn=conn)
        if st != 200:
            raise RuntimeError("GET /log/checkpoint: %d" % st)
        return int(body.decode().split("\n")[1])

    # ---- C ----
    def catch_up(self, on, heads, keep=False):
        self.restore_nodes()
        os.sync()  # the copies' writeback must not fall into the timed part
        tag = "on" if on else "off"
        self.start_gateway_env(tag, {} if on else {"HCP_BENCH_TLOG_OFF": "1"})
        events = sum(heads.values())
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
            time.sleep(0.05)
        secs = time.monotonic() - t0
        r = {"log": tag, "seconds": round(secs, 2), "events_per_s": round(events / secs, 1),
             "gateway_cpu_s": round((cpu_seconds(self.gw["proc"].pid) or 0) - cpu0, 2)}
        t1 = time.monotonic()
        want = events if on else 0
        while self.tree_size() != want:
            if time.monotonic() - t1 > 30:
                raise RuntimeError("log %s: the checkpoint covers %d entries, not %d"
                                   % (tag, self.tree_size(), want))
            time.sleep(0.05)
        r["checkpoint_size"] = want
        r["checkpoint_after_applied_s"] = round(time.monotonic() - t1, 3)
        # the store's file: LMDB grows it to the highest page written
        r["data_mdb_bytes"] = os.path.getsize(os.path.join(self.gw["dir"], "data.mdb"))
        # bytes the gateway handed to write(2)/pwrite(2) since its start: what
        # its transactions commit (LMDB pages, the meta page), whatever the disk
        r["gateway_written_bytes"] = written_bytes(self.gw["proc"].pid)
        say("tlog: catch-up, log %s: %d events in %.2f s = %.0f events/s (gateway CPU %.1f s, "
            "data.mdb %.1f MB, written %.1f MB)"
            % (tag, events, secs, events / secs, r["gateway_cpu_s"],
               r["data_mdb_bytes"] / 1e6, (r["gateway_written_bytes"] or 0) / 1e6))
        if not keep:
            for c, _ in COUNTIES:
                self.stop(self.nodes[c]["proc"])
            self.stop(self.gw["proc"])
        return r

    # ---- L ----
    def latency(self):
        n = self.nodes[COUNTIES[0][0]]
        cn = http.client.HTTPConnection("127.0.0.1", n["port"], timeout=30)
        cg = http.client.HTTPConnection("127.0.0.1", self.gw["port"], timeout=30)
        size = self.tree_size(cg)
        commit, posted, exact = [], [], 0
        cid, step = None, 0
        rnd = random.Random(14)
        for _ in range(LAT_N):
            time.sleep(rnd.uniform(0, 0.5))
            t0 = time.monotonic()
            if cid is None:
                cid = json.loads(post(n["port"], n["token"], "/v1/cases", CASE, cn, 201))["id"]
            else:
                post(n["port"], n["token"], "/v1/cases/%s/events" % cid, STEPS[step], cn, 200)
                step += 1
                if step == len(STEPS):
                    cid, step = None, 0
            size += 1
            k, w = (size - 1) // 256, size - 256 * ((size - 1) // 256)
            tile = "/log/tile/entries/%s%s" % (self.tile_n(k), "" if w == 256 else ".p/%d" % w)
            t1 = None
            while True:
                if self.tree_size(cg) >= size:
                    t2 = time.monotonic()
                    break
                if t1 is None:
                    st, _ = req(self.gw["port"], "GET", tile, conn=cg)
                    if st == 200:
                        t1 = time.monotonic()
                if time.monotonic() - t0 > 10:
                    raise RuntimeError("no checkpoint covers leaf %d after 10 s" % size)
                time.sleep(0.001)
            if t1 is None:
                t1 = t2  # committed and signed between two polls
            else:
                exact += 1
            commit.append(t2 - t1)
            posted.append(t2 - t0)
        cn.close()
        cg.close()

        def stats(xs):
            ms = [x * 1000 for x in xs]
            return {"p50_ms": round(nearest_rank(ms, 0.5), 1),
                    "p90_ms": round(nearest_rank(ms, 0.9), 1),
                    "p99_ms": round(nearest_rank(ms, 0.99), 1),
                    "max_ms": round(max(ms), 1), "mean_ms": round(statistics.mean(ms), 1)}
        return {"samples": LAT_N, "commit_seen_before_checkpoint": exact,
                "commit_to_checkpoint": stats(commit), "post_to_checkpoint": stats(posted),
                "tree_size_at_end": size}

    @staticmethod
    def tile_n(k):
        s = "%03d" % k
        s = "0" * ((3 - len(s) % 3) % 3) + s
        parts = [s[i:i + 3] for i in range(0, len(s), 3)]
        return "/".join(["x" + e for e in parts[:-1]] + [parts[-1]])

    # ---- the run ----
    def run(self):
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        per = (N + len(COUNTIES) - 1) // len(COUNTIES)
        res = {"settings": {"events": per * len(COUNTIES), "walked_cases_per_node": WALK,
                            "nodes": len(COUNTIES), "reps": REPS, "latency_samples": LAT_N,
                            "sign_period_ms": 500}}
        say("tlog: filling %d nodes offline with %s case events (%d cases per node walked to "
            "closed, the rest opened)" % (len(COUNTIES), format(per * len(COUNTIES), ","), WALK))
        t0 = time.monotonic()
        heads = {c: self.fill_node(c, unit, per) for c, unit in COUNTIES}
        res["fill"] = {"seconds": round(time.monotonic() - t0, 1), "events": sum(heads.values())}
        os.makedirs(self.pristine)
        for c, _ in COUNTIES:
            d = os.path.join(self.work, "node-" + c)
            for suffix in ("", ".keys"):
                if os.path.exists(d + suffix):
                    shutil.move(d + suffix, os.path.join(self.pristine, "node-" + c + suffix))
        runs = []
        self.catch_up(False, heads)  # warm-up, not counted: the first run is slower
        for rep in range(REPS):
            for on in ((True, False) if rep % 2 == 0 else (False, True)):  # ABBA
                last = rep == REPS - 1 and on
                runs.append(self.catch_up(on, heads, keep=last))
                if last:
                    say("tlog: checkpoint latency, %d samples" % LAT_N)
                    res["latency"] = self.latency()
                    for c, _ in COUNTIES:
                        self.stop(self.nodes[c]["proc"])
                    self.stop(self.gw["proc"])
        res["runs"] = runs
        events = sum(heads.values())
        for tag in ("on", "off"):
            xs = [r["events_per_s"] for r in runs if r["log"] == tag]
            cpu = [r["gateway_cpu_s"] for r in runs if r["log"] == tag]
            res["catch_up_" + tag] = {"median_events_per_s": round(statistics.median(xs), 1),
                                      "best_events_per_s": max(xs), "runs": xs,
                                      "median_gateway_cpu_us_per_event":
                                      round(statistics.median(cpu) / events * 1e6, 2),
                                      "gateway_cpu_s": cpu}
        on, off = res["catch_up_on"]["median_events_per_s"], \
            res["catch_up_off"]["median_events_per_s"]
        res["ratio_on_over_off"] = round(on / off, 3) if off else None
        con = res["catch_up_on"]["median_gateway_cpu_us_per_event"]
        coff = res["catch_up_off"]["median_gateway_cpu_us_per_event"]
        res["cpu_ratio_off_over_on"] = round(coff / con, 3) if con else None
        res["target_ratio"] = TARGET_RATIO
        res["target_met"] = res["ratio_on_over_off"] is not None and \
            res["ratio_on_over_off"] >= TARGET_RATIO
        res["date"] = datetime.date.today().isoformat()
        return res


def report(r):
    def row(name, value, note=""):
        print("  %-46s %14s  %s" % (name, value, note))

    print()
    print("hcp transparency log benchmark (%s case events from %d nodes, %d runs per mode)"
          % (format(r["settings"]["events"], ","), r["settings"]["nodes"], r["settings"]["reps"]))
    print("  " + "-" * 78)
    for tag in ("on", "off"):
        c = r["catch_up_" + tag]
        row("(C) catch-up, log %s  events/s (median)" % tag, "%.0f" % c["median_events_per_s"],
            "runs %s" % ", ".join("%.0f" % x for x in c["runs"]))
        row("    gateway CPU per event, log %s  us" % tag,
            "%.1f" % c["median_gateway_cpu_us_per_event"],
            "runs %s s" % ", ".join("%.1f" % x for x in c["gateway_cpu_s"]))
    row("ratio on/off (events/s, medians)", "%.3f" % r["ratio_on_over_off"],
        "target >= %g: %s" % (TARGET_RATIO, "met" if r["target_met"] else "MISSED"))
    row("ratio off/on (gateway CPU per event)", "%.3f" % r["cpu_ratio_off_over_on"],
        "the log's cost where the gateway is the bottleneck")
    lat = r["latency"]
    for k, name in (("commit_to_checkpoint", "(L) commit -> checkpoint"),
                    ("post_to_checkpoint", "(L) node POST -> checkpoint")):
        s = lat[k]
        row(name + "  p50 ms", "%.1f" % s["p50_ms"],
            "p90 %.1f p99 %.1f max %.1f (n=%d)" % (s["p90_ms"], s["p99_ms"], s["max_ms"],
                                                   lat["samples"]))
    print("  " + "-" * 78)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, out = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    b = TlogBench(build, out)
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
    path = save_results(out, "tlog", r, "tlog.json")
    report(r)
    print("  results: %s (key \"tlog\")" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
