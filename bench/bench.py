#!/usr/bin/env python3
"""bench.py — helpers for bench/run.sh (Python 3 standard library only).

  bench.py port                      a free loopback port
  bench.py wait PORT [SECS]          wait until GET /healthz answers 200
  bench.py metric PORT TOKEN NAME    one value of GET /metrics
  bench.py rss PID                   VmRSS and VmHWM of PID in KiB, as JSON
  bench.py procstat PID              PID's context switches (all its threads)
                                     and CPU ticks (utime + stime), as JSON
  bench.py wrkjson FILE              the WRKJSON line of a wrk output, as JSON
  bench.py report DIR                assemble DIR/*.json into DIR/results.json
                                     and print the table
"""
import datetime
import http.client
import json
import os
import platform
import socket
import sys
import time

# The targets (#3): reported, never enforced.
TARGET_RPS = 15000
TARGET_RATIO_B = 0.5  # issue #18 raised #3's 0.4
TARGET_P99_MS = 10.0
TARGET_RSS_MB = 32.0


def cmd_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_wait(port, secs="20"):
    end = time.monotonic() + float(secs)
    while time.monotonic() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=2)
            c.request("GET", "/healthz")
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                return 0
        except OSError:
            pass
        time.sleep(0.05)
    print("bench.py: the node on port %s did not become healthy" % port, file=sys.stderr)
    return 1


def cmd_metric(port, token, name):
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    c.request("GET", "/metrics", headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    body = r.read().decode()
    for line in body.splitlines():
        if line.startswith(name + " "):
            print(line.split()[1])
            return 0
    print("bench.py: metric %s not found" % name, file=sys.stderr)
    return 1


def cmd_rss(pid):
    out = {}
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                out[k + "_kib"] = int(v.split()[0])
    print(json.dumps(out))
    return 0


def cmd_procstat(pid):
    """Context switches summed over PID's threads (voluntary: it waited,
    e.g. a futex or epoll; involuntary: preempted) and its CPU ticks, so
    run.sh can divide their growth during a wrk run by the requests."""
    vol = invol = 0
    tdir = "/proc/%s/task" % pid
    for tid in os.listdir(tdir):
        try:
            with open(os.path.join(tdir, tid, "status")) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        vol += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        invol += int(line.split()[1])
        except OSError:
            pass  # the thread ended meanwhile
    with open("/proc/%s/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    print(json.dumps({"vol": vol, "invol": invol, "ticks": ticks,
                      "hz": os.sysconf("SC_CLK_TCK")}))
    return 0


def per_request(s0, s1, requests):
    """What the node spent per request during one wrk run: context switches
    and CPU microseconds (from two procstat snapshots)."""
    if not s0 or not s1 or not requests:
        return None
    return {"ctxt_per_req": round((s1["vol"] + s1["invol"] - s0["vol"] - s0["invol"]) / requests, 3),
            "vol_per_req": round((s1["vol"] - s0["vol"]) / requests, 3),
            "cpu_us_per_req": round((s1["ticks"] - s0["ticks"]) * 1e6 / s1["hz"] / requests, 2)}


def cmd_wrkjson(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("WRKJSON "):
                print(json.dumps(json.loads(line[len("WRKJSON "):])))
                return 0
    print("bench.py: no WRKJSON line in %s" % path, file=sys.stderr)
    return 1


def load(d, name):
    p = os.path.join(d, name + ".json")
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def ratio(x, y):
    return round(x / y, 3) if x is not None and y else None


def verdict(ok):
    return "-" if ok is None else ("met" if ok else "MISSED")


def cmd_report(d):
    """Build results.json from the parts run.sh wrote; print the table."""
    a = load(d, "a_intake")
    a_null = load(d, "a_intake_devnull")
    b = load(d, "b_healthz")
    c = load(d, "c_lmdb_raw")
    dm = load(d, "d_memory")
    extra = load(d, "extra") or {}
    a_rps = a["rps"] if a else None
    res = {
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release()},
        "settings": extra.get("settings", {}),
        "a_intake": a,
        "a_intake_stderr_devnull": a_null,
        "b_healthz": b,
        "c_lmdb_raw": c,
        "d_memory": dm,
        "node": extra.get("node", {}),
        "per_request": {
            "a_intake": per_request(extra.get("proc", {}).get("a0"), extra.get("proc", {}).get("a1"),
                                    a["requests"] if a else None),
            "b_healthz": per_request(extra.get("proc", {}).get("b0"),
                                     extra.get("proc", {}).get("b1"), b["requests"] if b else None),
        },
        "ratios": {
            "a_over_b": ratio(a_rps, b["rps"] if b else None),
            "a_over_c": ratio(a_rps, c["records_per_s"] if c else None),
            "a_file_over_a_devnull": ratio(a_rps, a_null["rps"] if a_null else None),
        },
    }
    rss_mb = dm["VmRSS_kib"] / 1024 if dm and "VmRSS_kib" in dm else None
    t = {
        "durable_evaluations_per_s": {"target": TARGET_RPS, "value": a_rps,
                                      "met": None if a_rps is None else a_rps >= TARGET_RPS},
        "a_over_b": {"target": TARGET_RATIO_B, "value": res["ratios"]["a_over_b"],
                     "met": None if res["ratios"]["a_over_b"] is None
                     else res["ratios"]["a_over_b"] >= TARGET_RATIO_B},
        "p99_ms": {"target": TARGET_P99_MS, "value": a["p99_ms"] if a else None,
                   "met": None if not a else a["p99_ms"] < TARGET_P99_MS},
        "rss_mb": {"target": TARGET_RSS_MB, "value": round(rss_mb, 1) if rss_mb else None,
                   "met": None if rss_mb is None else rss_mb < TARGET_RSS_MB},
    }
    res["targets"] = t
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump(res, f, indent=2, ensure_ascii=False)
        f.write("\n")

    def row(name, value, note=""):
        print("  %-44s %14s  %s" % (name, value, note))

    def num(v, fmt="%.0f"):
        return "n/a" if v is None else fmt % v

    s = res["settings"]
    print()
    print("hcp-node benchmark (%s cpus; wrk -t%s -c%s -d%ss)"
          % (os.cpu_count(), s.get("threads"), s.get("connections"), s.get("duration")))
    print("  " + "-" * 76)
    if a:
        row("(a) POST /v1/evaluations, durable  req/s", num(a["rps"]),
            "target >= %d: %s" % (TARGET_RPS, verdict(t["durable_evaluations_per_s"]["met"])))
        row("    latency p50 / p99 / max  ms", "%.2f / %.2f / %.1f"
            % (a["p50_ms"], a["p99_ms"], a["max_ms"]),
            "p99 target < %g: %s" % (TARGET_P99_MS, verdict(t["p99_ms"]["met"])))
        errs = sum(a["errors"].values())
        row("    errors (non-2xx, socket)", str(errs))
    if a_null:
        row("(a') same, node stderr to /dev/null   req/s", num(a_null["rps"]),
            "p99 %.2f ms" % a_null["p99_ms"])
    if b:
        row("(b) GET /healthz, same node        req/s", num(b["rps"]),
            "p50 %.2f / p99 %.2f ms" % (b["p50_ms"], b["p99_ms"]))
    if c:
        row("(c) raw LMDB, 1,000/txn, durable   rec/s", num(c["records_per_s"]),
            "%d records, %.0f B each" % (c["records"], c["bytes_per_record"]))
    if dm:
        row("(d) node VmRSS after %s evaluations  MB" % format(dm.get("evaluations", 0), ","),
            num(rss_mb, "%.1f"), "target < %g: %s" % (TARGET_RSS_MB, verdict(t["rss_mb"]["met"])))
        row("    of it: heap (RssAnon) / LMDB map (RssFile)  MB", "%.1f / %.1f"
            % (dm.get("RssAnon_kib", 0) / 1024, dm.get("RssFile_kib", 0) / 1024),
            "peak VmHWM %.1f MB" % (dm.get("VmHWM_kib", 0) / 1024))
    for k, name in (("a_intake", "(a)"), ("b_healthz", "(b)")):
        pr = res["per_request"][k]
        if pr:
            row("%s node per request: ctx switches / CPU us" % name,
                "%.2f / %.1f" % (pr["ctxt_per_req"], pr["cpu_us_per_req"]))
    r = res["ratios"]
    row("ratio (a)/(b)", num(r["a_over_b"], "%.3f"),
        "target >= %g: %s" % (TARGET_RATIO_B, verdict(t["a_over_b"]["met"])))
    row("ratio (a)/(c)", num(r["a_over_c"], "%.3f"))
    row("ratio (a) logging to file / to /dev/null", num(r["a_file_over_a_devnull"], "%.3f"))
    n = res["node"]
    if n.get("commits"):
        row("writes per commit during (a)", "%.1f" % (n["writes"] / n["commits"]))
    print("  " + "-" * 76)
    print("  results: %s" % os.path.join(d, "results.json"))
    return 0


def main(argv):
    cmds = {"port": cmd_port, "wait": cmd_wait, "metric": cmd_metric, "rss": cmd_rss,
            "procstat": cmd_procstat,
            "wrkjson": cmd_wrkjson, "report": cmd_report}
    if len(argv) < 2 or argv[1] not in cmds:
        print(__doc__, file=sys.stderr)
        return 2
    return cmds[argv[1]](*argv[2:]) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
