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

Environment: HCP_BENCH_SPOT_N (1000000 cases), HCP_BENCH_SPOT_COUNTIES (44),
HCP_BENCH_SPOT_RATE (0.05), HCP_BENCH_SPOT_MIN (5). Adds "spotcheck" to
OUT_DIR/results.json and prints a table. Nothing is enforced: the script
fails only when something could not be measured.
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from repl_bench import env_int, save_results  # noqa: E402


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
        p = subprocess.run([gen, work, str(n), str(counties), rate, str(minpc)],
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
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = save_results(out, "spotcheck", r, "spotcheck.json")
    print("  spot checks: a draw over %d closed cases at %d counties (rate %s, min %d)"
          % (r["population"], r["counties"], rate, minpc))
    print("  %-44s %10.3f s" % ("the population (every leaf parsed)", r["scan_s"]))
    print("  %-44s %10.3f s" % ("seed, ranks, sort, cut (%d drawn)" % r["sample"], r["draw_s"]))
    print("  %-44s %10.3f s" % ("the draw in all", r["draw_total_s"]))
    print("  %-44s %10.3f s" % ("hcp-verify spotcheck (tree + draw)", r["verify_s"]))
    print("  results: %s (key \"spotcheck\")" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
