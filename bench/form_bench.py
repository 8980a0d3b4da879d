#!/usr/bin/env python3
"""form_bench.py — the monthly 统计表 at scale (issue #12), run by bench/run.sh
after the feed figures. Python 3 standard library and the build's binaries.

  form_bench.py BUILD_DIR OUT_DIR

F1  a gateway store holding HCP_BENCH_FORM_N (1,000,000) cases with personal
    data, made by bench_form_fill (bench/form_fill.c: the gateway's own
    gws_case_put and gws_feed_update, 50,000 per transaction): 40 % of them
    in Xining (630100, about its share of Qinghai's population) spread over
    its counties, the rest evenly over the other counties, every day of
    2026. hcp-gateway started on it (plain tcp://, --insecure; its first
    start builds the transparency log of the cases, not measured), a
    supervisor account added.
F2  GET /v1/reports/monthly for Xining's largest month as that supervisor,
    one request at a time on one keep-alive connection: HCP_BENCH_FORM_REQS
    (20) each as json and csv, HCP_BENCH_FORM_XLSX_REQS (5) as xlsx, after
    one warm-up each; p50 / p99 / max in ms (target p99 < 50 ms), bytes,
    rows, ms per 1,000 rows, and the gateway's CPU time per form (utime +
    stime of the process over the timed requests: less disturbed by other
    work on the machine than the wall clock); GET /healthz the same way.
    Every download writes (and commits) one access-log entry, as in use.
    F2 runs once per pass: the gateway with its form cache ("cache",
    HCP_GW_FORM_CACHE_MB=256, as shipped: the first download of a format
    reads the rows, the next ones are served from the kept form) and
    without it ("nocache", 0: every download reads the rows); the first
    download is reported apart (first_ms), and the load average with each
    format. HCP_BENCH_FORM_PASSES=cache,nocache picks them.
    JSON and CSV are also downloaded by a client that sends
    Accept-Encoding: gzip ("json.gz", "csv.gz"): the wall clock to the last
    compressed byte, the compressed and plain bytes, and the client's
    decompression apart (decompress_p50_ms / _p99_ms, Python's gzip).
Adds "form" to OUT_DIR/results.json (and OUT_DIR/form.json alone). Targets
are reported, never enforced. HCP_BENCH_FORM_SKIP=1 skips it (run.sh).
HCP_BENCH_FORM_STORE=DIR reuses a store an earlier run filled (kept when
given; made there when missing).
"""
import gzip
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from repl_bench import (cpu_seconds, env_int, free_port, save_results, say,  # noqa: E402
                        wait_healthy)

N = env_int("HCP_BENCH_FORM_N", 1000000)
REQS = env_int("HCP_BENCH_FORM_REQS", 20)
XLSX_REQS = env_int("HCP_BENCH_FORM_XLSX_REQS", 5)
START_S = env_int("HCP_BENCH_FORM_START_S", 1800)  # first start: the log is built
PREF = "630100"
TARGET_MS = 50.0
# the gateway with its form cache (HCP_GW_FORM_CACHE_MB, default 256) and without
PASSES = tuple(p for p in (("cache", "256"), ("nocache", "0"))
               if p[0] in os.environ.get("HCP_BENCH_FORM_PASSES", "cache,nocache").split(","))


def quantile(xs, q):
    """The q quantile (0..1) of xs, nearest rank."""
    s = sorted(xs)
    return s[min(len(s) - 1, max(0, int(round(q * len(s) + 0.5)) - 1))]


_BODY = bytearray()


def read_body(r):
    """The answer's body, read into one buffer kept from answer to answer
    (as a browser or curl streams it): Python's read() of a 23 MB body makes
    a new object and copies it in pieces, which cost the client more than
    the gateway's answer (docs/bench.md, "Monthly form", session 9). A view
    of the buffer, valid until the next call."""
    global _BODY
    n = r.getheader("Content-Length")
    if n is None:
        return memoryview(r.read())
    n = int(n)
    if len(_BODY) < n:
        _BODY = bytearray(n)
    mv = memoryview(_BODY)[:n]
    got = 0
    while got < n:
        k = r.readinto(mv[got:])
        if not k:
            raise RuntimeError("short body: %d of %d bytes" % (got, n))
        got += k
    return mv


def timed(conn, path, token, n, pid=None, gz=False):
    """n GETs of path on conn (after one warm-up): wall-clock quantiles, the
    bytes, and the gateway's CPU time per request (pid: its process). gz:
    the client accepts gzip; the wall clock stops at the last compressed
    byte, the decompression is timed apart."""
    h = {"Authorization": "Bearer " + token} if token else {}
    if gz:
        h["Accept-Encoding"] = "gzip"
    ms, dms, status, size, raw, cpu0 = [], [], None, 0, 0, None
    for i in range(n + 1):
        if i == 1 and pid is not None:
            cpu0 = cpu_seconds(pid)
        t0 = time.perf_counter()
        conn.request("GET", path, headers=h)
        r = conn.getresponse()
        body = read_body(r)
        dt = (time.perf_counter() - t0) * 1000
        status, size = r.status, len(body)
        if status != 200:
            raise RuntimeError("%s: HTTP %d %r" % (path, status, bytes(body[:200])))
        if gz:
            if r.getheader("Content-Encoding") != "gzip":
                raise RuntimeError("%s: not gzipped" % path)
            t1 = time.perf_counter()
            raw = len(gzip.decompress(body))
            if i > 0:
                dms.append((time.perf_counter() - t1) * 1000)
        if i > 0:
            ms.append(dt)
        else:
            first = dt
    cpu1 = cpu_seconds(pid) if pid is not None else None
    r = {"n": n, "first_ms": round(first, 2), "p50_ms": round(statistics.median(ms), 2),
         "p99_ms": round(quantile(ms, 0.99), 2), "max_ms": round(max(ms), 2), "bytes": size}
    if gz:
        r.update({"raw_bytes": raw, "decompress_p50_ms": round(statistics.median(dms), 2),
                  "decompress_p99_ms": round(quantile(dms, 0.99), 2)})
    if cpu0 is not None and cpu1 is not None:
        r["gateway_cpu_ms"] = round((cpu1 - cpu0) * 1000 / n, 1)
    return r


def one_pass(gw_bin, gdir, env, token, month, nrows, name):
    """Start the gateway on gdir with env, download the form in each format,
    stop it: the pass's figures (the first download of each format apart:
    with the cache on it is the one that reads the rows)."""
    port = free_port()
    t0 = time.monotonic()
    proc = subprocess.Popen([gw_bin, "--data", gdir, "--listen",
                             "tcp://127.0.0.1:%d" % free_port(), "--listen-http",
                             "127.0.0.1:%d" % port, "--insecure"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(gdir + ".log", "ab"), env=env)
    try:
        if not wait_healthy(port, proc, START_S):
            raise RuntimeError("gateway did not start (see %s.log)" % gdir)
        start_s = time.monotonic() - t0
        say("form: [%s] gateway up in %.1f s; %s of %s: %s rows" % (
            name, start_s, PREF, month, format(nrows, ",")))
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        r = {"cache_mb": env.get("HCP_GW_FORM_CACHE_MB"),
             "gateway_start_seconds": round(start_s, 1), "formats": {}}
        r["healthz"] = timed(conn, "/healthz", None, 200)
        for fmt, n in (("json", REQS), ("csv", REQS), ("json.gz", REQS), ("csv.gz", REQS),
                       ("xlsx", XLSX_REQS)):
            path = "/v1/reports/monthly?month=%s&prefecture=%s&format=%s" % (
                month, PREF, fmt.split(".")[0])
            x = timed(conn, path, token, n, proc.pid, gz=fmt.endswith(".gz"))
            x["ms_per_1000_rows"] = round(x["p50_ms"] * 1000 / max(1, nrows), 2)
            x["meets_target"] = x["p99_ms"] < TARGET_MS
            x["load_average"] = [round(v, 2) for v in os.getloadavg()]
            r["formats"][fmt] = x
            say("form: [%s] %-7s first %8.1f ms  p50 %8.1f ms  p99 %8.1f ms  %s bytes  (gateway "
                "CPU %s ms a form; load %s)%s" % (
                    name, fmt, x["first_ms"], x["p50_ms"], x["p99_ms"], format(x["bytes"], ","),
                    x.get("gateway_cpu_ms"), x["load_average"],
                    "; decompressing p50 %.1f ms p99 %.1f ms" % (
                        x["decompress_p50_ms"], x["decompress_p99_ms"]) if "raw_bytes" in x
                    else ""))
        conn.close()
        say("form: [%s] /healthz p50 %.2f ms p99 %.2f ms" % (name, r["healthz"]["p50_ms"],
                                                            r["healthz"]["p99_ms"]))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return r


def main(argv):
    if len(argv) != 3:
        print("usage: form_bench.py BUILD_DIR OUT_DIR", file=sys.stderr)
        return 2
    build, out = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    gw_bin = os.path.join(build, "gateway", "hcp-gateway")
    fill_bin = os.path.join(build, "bench", "bench_form_fill")
    keep = os.environ.get("HCP_BENCH_FORM_STORE", "")
    work = os.path.join(out, "work", "form")
    gdir = keep or os.path.join(work, "gateway")
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.dirname(gdir), exist_ok=True)
    fill_json = gdir + ".fill.json"
    if not os.path.exists(os.path.join(gdir, "data.mdb")) or not os.path.exists(fill_json):
        say("form: F1 filling a gateway store with %s cases (bench_form_fill)" % format(N, ","))
        res = subprocess.run([fill_bin, gdir, str(N)], check=True, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout
        with open(fill_json, "wb") as f:
            f.write(res)
    with open(fill_json) as f:
        fill = json.load(f)
    say("form: %s cases, filled in %.1f s (%s bytes)" % (
        format(fill["cases"], ","), fill["seconds"], format(fill["data_mdb_bytes"], ",")))
    rows = fill["rows_by_month"]
    big = max(range(12), key=lambda m: rows[m])
    month = "%04d-%02d" % (fill["year"], big + 1)
    token = subprocess.run([gw_bin, "user", "add", "--data", gdir, "--name",
                            "bench-sup-%d" % os.getpid(), "--role", "supervisor"], check=True,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True).stdout.strip().splitlines()[-1]
    r = {"cases": fill["cases"], "fill_seconds": fill["seconds"],
         "data_mdb_bytes": fill["data_mdb_bytes"], "prefecture": PREF, "month": month,
         "rows": rows[big], "rows_by_month": rows, "target_p99_ms": TARGET_MS, "passes": {}}
    # the map: the store's size and room to grow (address space, not disk)
    env = dict(os.environ, HCP_MAPSIZE=str(max(fill["data_mdb_bytes"] * 4, 1 << 32)))
    for name, mb in PASSES:
        r["passes"][name] = one_pass(gw_bin, gdir, dict(env, HCP_GW_FORM_CACHE_MB=mb), token,
                                     month, rows[big], name)
    r["formats"] = r["passes"][PASSES[0][0]]["formats"]  # the figures as before: the gateway as run
    os.makedirs(out, exist_ok=True)
    path = save_results(out, "form", r, "form.json")
    say("form: results in %s" % path)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
