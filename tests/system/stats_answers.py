#!/usr/bin/env python3
"""stats_answers.py — the province's figures answer the same before and after
a change to how they are kept or read (docs/stats.md, docs/bench.md "Province
figures (issue #12)", Session 8). Not a ctest: run by hand on a filled store.

  stats_answers.py GATEWAY_A GATEWAY_B STORE_DIR [N_RANDOM]

Starts GATEWAY_A (e.g. the build before the change) and then GATEWAY_B on
STORE_DIR (a store bench_stats_fill filled: HCP_BENCH_STATS_STORE of
bench/stats_bench.py), one after the other, asks each every /v1/stats/* route
and /feed/stats.json — the bench's routes, the staff list's pages, and
N_RANDOM (default 40) periods of 1..400 days drawn with a fixed seed, for every
scope — and compares the bodies byte for byte, with only the generation time
(`generated_at`, `generated_datetime`) blanked. Prints the number of answers compared; exits 1 on
the first difference (both bodies written next to the store). The store is
written by the gateway's opening (e.g. tallies a newer build makes once):
run B after A, as here.
"""
import datetime
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time

GEN = re.compile(rb'"generated_(at|datetime)":\s*"[^"]*"')


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def paths(n_random):
    rnd = random.Random(20261204)
    first = datetime.date(2025, 1, 1)
    out = ["/v1/stats/units?year=2025", "/v1/stats/units?year=2026",
           "/v1/stats/staff?year=2025", "/v1/stats/staff?year=2026&limit=1000"]
    for by in ("service_item", "unit", "dimension", "county", "prefecture"):
        out.append("/v1/stats/hotspots?from=2025-01-01&to=2025-12-31&by=" + by)
    scopes = ["", "county=630102&", "prefecture=632700&", "county=632322&"]
    for sc in scopes:
        out.append("/v1/stats/summary?" + sc.rstrip("&"))
        out.append("/v1/stats/summary?%sfrom=2025-01-01&to=2025-12-31" % sc)
        out.append("/v1/stats/summary?%sfrom=2025-02-01&to=2026-02-28" % sc)
        out.append("/v1/stats/summary?%sfrom=2025-03-15" % sc)
        out.append("/v1/stats/summary?%sto=2025-03-15" % sc)
    out += ["/feed/stats.json", "/feed/stats.json?from=2025-01-01&to=2025-12-31"]
    for _ in range(n_random):
        n = rnd.randint(1, 400)
        a = first + datetime.timedelta(days=rnd.randint(0, 698 - n))
        q = "from=%s&to=%s" % (a, a + datetime.timedelta(days=n - 1))
        out.append("/v1/stats/summary?%s%s" % (rnd.choice(scopes), q))
        out.append("/feed/stats.json?" + q)
        out.append("/v1/stats/hotspots?by=%s&%s" % (
            rnd.choice(("service_item", "unit", "dimension", "county", "prefecture")), q))
    return out


def answers(gw_bin, store, plist):
    port = free_port()
    p = subprocess.Popen([gw_bin, "--data", store, "--listen", "tcp://127.0.0.1:%d" % free_port(),
                          "--listen-http", "127.0.0.1:%d" % port, "--insecure"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=open(store + ".answers.log", "ab"))
    try:
        for _ in range(1200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        with open(os.path.join(store, "admin.token")) as f:
            h = {"Authorization": "Bearer " + f.read().strip()}
        out = {}
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for path in plist:
            c.request("GET", path, headers=h)
            r = c.getresponse()
            out[path] = (r.status, GEN.sub(b'"generated": ""', r.read()))
        # the staff list's next pages, by each page's `next`
        nxt = json.loads(out["/v1/stats/staff?year=2025"][1]).get("next")
        for _ in range(3):
            if not nxt:
                break
            path = "/v1/stats/staff?year=2025&after=" + nxt
            c.request("GET", path, headers=h)
            r = c.getresponse()
            body = r.read()
            out["page %d" % len(out)] = (r.status, body)
            nxt = json.loads(body).get("next")
        return out
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(60)


def main(argv):
    if len(argv) not in (4, 5):
        sys.exit(__doc__)
    plist = paths(int(argv[4]) if len(argv) == 5 else 40)
    a = answers(argv[1], argv[3], plist)
    b = answers(argv[2], argv[3], plist)
    if sorted(a) != sorted(b):
        print("DIFFERENT: the staff list's pages")
        return 1
    for path in a:
        if a[path] != b[path]:
            for tag, v in (("a", a[path]), ("b", b[path])):
                with open(os.path.join(argv[3] + ".diff-" + tag), "wb") as f:
                    f.write(b"%d %s\n" % (v[0], path.encode()) + v[1])
            print("DIFFERENT: %s (status %d / %d)" % (path, a[path][0], b[path][0]))
            return 1
        if a[path][0] != 200:
            print("status %d: %s" % (a[path][0], path))
            return 1
    print("same: %d answers, %d bytes" % (len(a), sum(len(v[1]) for v in a.values())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
