#!/usr/bin/env python3
"""spot_bench.py — the spot-check draw and its recomputation (issue #15), run
by bench/run.sh. Python 3 standard library and the build's binaries.

  spot_bench.py BUILD_DIR OUT_DIR

Figures (docs/bench.md, "Spot checks"):
  bench_spot_gen (bench/spot_gen.c) writes a published log of N synthetic
  closed cases (feed entries shaped like the gateway's, all closed in
  November 2026, spread over the 44 Qinghai counties), signs a checkpoint,
  and draws over it with the gateway's code (core/sample.h): every leaf
  parsed through the population rule (scan), then seed, ranks, sort and
  per-county cut (draw). This is the pure draw: the gateway runs the same
  two steps over its LMDB instead of tile files; feeding a million real
  cases through county nodes first would take far longer than the draw.
  Then `hcp-verify spotcheck` recomputes the published draw from the
  directory: the checkpoint's signature, every entry hashed into the tree
  and compared with the signed root, the population, seed and sample.

  The gateway's own route: bench_spot_gen also appends the same leaves to
  the transparency log of a gateway store (gw_tlog_append), hcp-gateway is
  started on it (plain, --insecure), and POST /v1/spotchecks with the same
  beacon is timed (the population read from its LMDB, the draw, one
  `spotcheck` directive per drawn case and the draw written in one
  transaction, the reply); its sample must equal the pure draw's (the same
  leaves give the same root, so the same seed). Then hcp-verify spotcheck
  recomputes that draw against the gateway itself (GET /feed/spotchecks.json
  and the entry tiles over HTTP). CPU seconds of the gateway process beside
  the wall clock.

Environment: HCP_BENCH_SPOT_N (1000000 cases), HCP_BENCH_SPOT_COUNTIES (44),
HCP_BENCH_SPOT_RATE (0.05), HCP_BENCH_SPOT_MIN (5). Adds "spotcheck" to
OUT_DIR/results.json and prints a table. Nothing is enforced: the script
fails only when something could not be measured.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from repl_bench import (cpu_seconds, env_int, free_port, req, save_results,  # noqa: E402
                        wait_healthy)

# The gateway opens its map at the size of the filled file; the draw's
# write (a directive per drawn case) runs on an HTTP worker, which cannot
# grow the map (only the writer does, when its own batches fill it), so the
# bench gives the map room from the start (HCP_MAPSIZE, bytes).
MAPSIZE = 8 << 30
BEACON = "bench: 2026-12-01 双色球 03 07 12 19 25 31 + 09"  # as bench/spot_gen.c


def start_gateway(build, gdir):
    """hcp-gateway on gdir (plain, --insecure): (process, port, log file)."""
    port, repl = free_port(), free_port()
    log = open(gdir + ".log", "ab")
    p = subprocess.Popen([os.path.join(build, "gateway", "hcp-gateway"), "--data", gdir,
                          "--listen", "tcp://127.0.0.1:%d" % repl,
                          "--listen-http", "127.0.0.1:%d" % port, "--insecure"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                         env=dict(os.environ, HCP_MAPSIZE=str(MAPSIZE)))
    if not wait_healthy(port, p, 300):
        stop_gateway(p, log)
        with open(gdir + ".log", encoding="utf-8", errors="replace") as f:
            raise RuntimeError("hcp-gateway did not start: %s" % f.read()[-2000:])
    return p, port, log


def stop_gateway(p, log):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(60)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    log.close()


def gateway_route(build, work, n, rate, minpc, pure):
    """hcp-gateway on the filled store: the draw through POST /v1/spotchecks
    and hcp-verify's recomputation of it over HTTP. Figures into a dict."""
    gdir = os.path.join(work, "gw")
    p, port, log = start_gateway(build, gdir)
    r = {}
    try:
        for _ in range(200):
            if os.path.exists(os.path.join(gdir, "admin.token")):
                break
            time.sleep(0.05)
        with open(os.path.join(gdir, "admin.token")) as f:
            token = f.read().strip()
        st, cp = req(port, "GET", "/log/checkpoint")
        if st != 200 or int(cp.decode().split("\n")[1]) != n:
            raise RuntimeError("the gateway's checkpoint does not cover the %d leaves" % n)
        body = json.dumps({"period": "2026-11", "rate": float(rate), "min_per_county": minpc,
                           "beacon": BEACON}).encode()
        c0, t0 = cpu_seconds(p.pid), time.monotonic()
        st, data = req(port, "POST", "/v1/spotchecks", token=token, body=body, timeout=3600)
        r["route_s"] = round(time.monotonic() - t0, 3)
        c1 = cpu_seconds(p.pid)
        if st != 201:
            raise RuntimeError("POST /v1/spotchecks: %d %s" % (st, data[:300]))
        d = json.loads(data)
        r["route_cpu_s"] = round(c1 - c0, 3) if c0 is not None and c1 is not None else None
        r["route_reply_bytes"] = len(data)
        r["route_population"] = sum(d["population"].values())
        r["route_sample"] = sum(len(v) for v in d["sample"].values())
        r["route_same_sample"] = d["sample"] == pure["sample"] and d["seed"] == pure["seed"]
        if not r["route_same_sample"]:
            raise RuntimeError("the gateway's sample differs from the pure draw's")
        key = os.path.join(work, "gw.key")
        with open(key, "wb") as f:
            f.write(req(port, "GET", "/log/key")[1])
        base = "http://127.0.0.1:%d" % port
        t0 = time.monotonic()
        v = subprocess.run([os.path.join(build, "verify", "hcp-verify"), "spotcheck", "--key", key,
                            "--draw", base + "/feed/spotchecks.json", "--log", base],
                           capture_output=True, text=True, timeout=3600)
        r["route_verify_s"] = round(time.monotonic() - t0, 3)
        if v.returncode != 0:
            raise RuntimeError("hcp-verify spotcheck over the gateway: %s" % v.stderr)
        r["route_verify_output"] = v.stdout.strip()
    finally:
        stop_gateway(p, log)
    return r


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, out = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    gen = os.path.join(build, "bench", "bench_spot_gen")
    verify = os.path.join(build, "verify", "hcp-verify")
    for f in (gen, verify):
        if not os.access(f, os.X_OK):
            print("bench: %s is missing (build first: make bench)" % f, file=sys.stderr)
            return 1
    n = env_int("HCP_BENCH_SPOT_N", 1000000)
    counties = env_int("HCP_BENCH_SPOT_COUNTIES", 44)
    rate = os.environ.get("HCP_BENCH_SPOT_RATE", "0.05")
    minpc = env_int("HCP_BENCH_SPOT_MIN", 5)
    work = os.path.join(out, "work", "spot")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    try:
        # the store and its seal key as hcp-gateway makes them, then the fill
        stop_gateway(*start_gateway(build, os.path.join(work, "gw"))[::2])
        p = subprocess.run([gen, work, str(n), str(counties), rate, str(minpc),
                            os.path.join(work, "gw")],
                           capture_output=True, text=True, timeout=3600)
        if p.returncode != 0:
            print("bench: bench_spot_gen failed: %s" % p.stderr, file=sys.stderr)
            return 1
        r = json.loads(p.stdout)
        t0 = time.monotonic()
        v = subprocess.run([verify, "spotcheck", "--key", os.path.join(work, "log.key"),
                            "--draw", os.path.join(work, "spotchecks.json"), "--log", work],
                           capture_output=True, text=True, timeout=3600)
        r["verify_s"] = round(time.monotonic() - t0, 3)
        if v.returncode != 0:
            print("bench: hcp-verify spotcheck failed: %s" % v.stderr, file=sys.stderr)
            return 1
        r["verify_output"] = v.stdout.strip()
        r["rate"], r["min_per_county"] = float(rate), minpc
        r["draw_total_s"] = round(r["scan_s"] + r["draw_s"], 3)
        r["draw_total_cpu_s"] = round(r["scan_cpu_s"] + r["draw_cpu_s"], 3)
        with open(os.path.join(work, "spotchecks.json"), encoding="utf-8") as f:
            pure = json.load(f)["spotchecks"][0]
        r.update(gateway_route(build, work, n, rate, minpc, pure))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = save_results(out, "spotcheck", r, "spotcheck.json")
    print("  spot checks: a draw over %d closed cases at %d counties (rate %s, min %d)"
          % (r["population"], r["counties"], rate, minpc))
    print("  %-50s %9s %9s" % ("", "wall", "CPU"))
    print("  %-50s %8.3fs %8.3fs" % ("the population (every leaf parsed)", r["scan_s"],
                                     r["scan_cpu_s"]))
    print("  %-50s %8.3fs %8.3fs" % ("seed, ranks, sort, cut (%d drawn)" % r["sample"],
                                     r["draw_s"], r["draw_cpu_s"]))
    print("  %-50s %8.3fs %8.3fs" % ("the draw in all (core/sample over tiles)",
                                     r["draw_total_s"], r["draw_total_cpu_s"]))
    print("  %-50s %8.3fs" % ("hcp-verify spotcheck over the tiles (tree + draw)", r["verify_s"]))
    print("  %-50s %8.3fs %8.3fs" % ("POST /v1/spotchecks on hcp-gateway (%d leaves)" % n,
                                     r["route_s"], r["route_cpu_s"] or 0))
    print("  %-50s %8.3fs" % ("hcp-verify spotcheck over the gateway (HTTP)",
                              r["route_verify_s"]))
    print("  (the gateway's sample equals the pure draw's: %s; fill of its store %.1f s)"
          % (r["route_same_sample"], r["fill_s"]))
    print("  results: %s (key \"spotcheck\")" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
