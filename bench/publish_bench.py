#!/usr/bin/env python3
"""publish_bench.py — static publishing's benchmark (issue #14), run by
bench/run.sh after the feed figures. Python 3 standard library, wrk, Debian's
nginx (scripts/deps.sh web), the build's binaries.

  publish_bench.py BUILD_DIR OUT_DIR

A gateway holding N cases (HCP_BENCH_PUB_N, default 20000) from the feed
bench's four county nodes (filled the same way, bench/feed_bench.py), caught
up; the nodes are stopped. Then:
  P1  `hcp-gateway publish` into an empty directory (seconds, files, bytes)
  P2  the same again with nothing new (the incremental run: files written)
and nginx (worker_processes HCP_BENCH_NGINX_WORKERS, default auto: one per
core, as Debian's nginx.conf has it) is started on
the published directory with docs/nginx-hcp-publish.conf. With wrk -t2 -c32
-d10s (BENCH_THREADS, BENCH_CONNECTIONS, BENCH_DURATION), one run each:
  G1  the gateway: GET /feed/requests.json?page_size=50 (its page cache)
  N1  nginx: the same URL (rewritten to feed/pages/50/1.json)
  G2  the gateway: GET /log/tile/0/000 (a full tile, read from LMDB)
  N2  nginx: the same tile
  G3  the gateway: GET /feed/requests.json?page_size=50&page=RANDOM(1..HCP_BENCH_PUB_PAGES)
  N3  nginx: the same random pages (each a file)
  H   the gateway's /healthz (context)
Ratios N1/G1, N2/G2, N3/G3 (how many times the gateway's rate nginx serves),
reported, never enforced. Adds "publish" to OUT_DIR/results.json (also alone
in OUT_DIR/publish.json) and prints a table. HCP_BENCH_PUB_SKIP=1 in run.sh
skips it.
"""
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from repl_bench import env_int, free_port, req, save_results, say  # noqa: E402
import feed_bench  # noqa: E402

N = env_int("HCP_BENCH_PUB_N", 20000)
PAGES = env_int("HCP_BENCH_PUB_PAGES", 0)  # 0: every page the feed has
WORKERS = env_int("HCP_BENCH_NGINX_WORKERS", 0)  # 0: auto, one per core (Debian's default)
DUR = env_int("BENCH_DURATION", 10)
CONNS = env_int("BENCH_CONNECTIONS", 32)
THREADS = env_int("BENCH_THREADS", 2)
CONF = os.path.join(ROOT, "docs", "nginx-hcp-publish.conf")


def nginx_bin():
    for p in ("/usr/sbin/nginx", shutil.which("nginx") or ""):
        if p and os.access(p, os.X_OK):
            return p
    return None


class PublishBench(feed_bench.FeedBench):
    def __init__(self, build, out):
        super().__init__(build, out)
        self.work = os.path.join(out, "work", "publish")
        self.pub = os.path.join(self.work, "public")
        self.nginx = None

    def wrk_at(self, name, port, path, script="feed_get.lua", env=None):
        """One wrk run against 127.0.0.1:port; its WRKJSON summary."""
        out = os.path.join(self.work, name + ".txt")
        e = dict(os.environ, HCP_BENCH_DIR=HERE, **(env or {}))
        p = subprocess.run(
            ["wrk", "-t%d" % THREADS, "-c%d" % CONNS, "-d%ds" % DUR, "--timeout", "5s",
             "--latency", "-s", os.path.join(HERE, script),
             "http://127.0.0.1:%d%s" % (port, path)],
            env=e, capture_output=True, text=True)
        with open(out, "w") as f:
            f.write(p.stdout + p.stderr)
        for line in p.stdout.splitlines():
            if line.startswith("WRKJSON "):
                return json.loads(line[len("WRKJSON "):])
        raise RuntimeError("wrk %s: no WRKJSON line (exit %d):\n%s"
                           % (path, p.returncode, (p.stdout + p.stderr)[-2000:]))

    def publish(self):
        t0 = time.monotonic()
        p = subprocess.run([self.gw_bin, "publish", "--data", self.gw["dir"], "--out", self.pub,
                            "--quiet"], capture_output=True, text=True, timeout=3600)
        secs = time.monotonic() - t0
        if p.returncode != 0:
            raise RuntimeError("publish failed (%d): %s" % (p.returncode, p.stderr[-2000:]))
        m = re.search(r"of (\d+) entries .*: (\d+) files written \((\d+) bytes\), (\d+) unchanged",
                      p.stdout)
        if m is None:
            raise RuntimeError("publish said: %r" % p.stdout)
        return {"seconds": round(secs, 2), "tree_size": int(m.group(1)),
                "files_written": int(m.group(2)), "bytes_written": int(m.group(3)),
                "files_unchanged": int(m.group(4))}

    def start_nginx(self):
        prefix = os.path.join(self.work, "nginx")
        os.makedirs(prefix, exist_ok=True)
        port = free_port()
        with open(CONF, encoding="utf-8") as f:
            server = f.read()
        server = server.replace("listen 80;", "listen 127.0.0.1:%d;" % port)
        server = server.replace("root /srv/hcp/public;", "root %s;" % self.pub)
        conf = os.path.join(prefix, "nginx.conf")
        user = "user root;\n" if os.geteuid() == 0 else ""
        with open(conf, "w", encoding="utf-8") as f:
            f.write("%sdaemon off;\nworker_processes %s;\npid %s/nginx.pid;\n"
                    "error_log %s/error.log warn;\nevents { worker_connections 1024; }\n"
                    "http {\n  access_log off;\n  sendfile on;\n"
                    "  client_body_temp_path %s/b;\n  proxy_temp_path %s/p;\n"
                    "  fastcgi_temp_path %s/f;\n  uwsgi_temp_path %s/u;\n  scgi_temp_path %s/s;\n"
                    "  default_type application/octet-stream;\n%s\n}\n"
                    % ((user, WORKERS or "auto", prefix, prefix) + (prefix,) * 5 + (server,)))
        self.nginx = self.spawn([nginx_bin(), "-p", prefix, "-c", conf, "-e",
                                 os.path.join(prefix, "error.log")],
                                os.path.join(self.work, "nginx.log"))
        for _ in range(100):
            try:
                st, _ = req(port, "GET", "/log/checkpoint")
                if st == 200:
                    return port
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("nginx did not start (see %s/error.log)" % prefix)

    def run(self):
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        os.chmod(self.work, 0o755)
        per = (N + len(feed_bench.COUNTIES) - 1) // len(feed_bench.COUNTIES)
        res = {"settings": {"cases": per * len(feed_bench.COUNTIES), "threads": THREADS,
                            "connections": CONNS, "duration": DUR,
                            "nginx_workers": WORKERS or "auto (%d cores)" % os.cpu_count()}}
        say("publish: filling %d nodes with %s cases" % (len(feed_bench.COUNTIES),
                                                        format(res["settings"]["cases"], ",")))
        heads = {c: self.fill(c, unit, per) for c, unit in feed_bench.COUNTIES}
        self.start_gateway()
        for c, _ in feed_bench.COUNTIES:
            self.start_node(c, self.gw["url"])
        t0 = time.monotonic()
        while not all(self.applied().get(c, 0) >= heads[c] for c in heads):
            if time.monotonic() - t0 > 900:
                raise RuntimeError("catch-up did not finish in 900 s")
            time.sleep(0.2)
        for c, _ in feed_bench.COUNTIES:
            self.stop(self.nodes[c]["proc"])
        time.sleep(1.5)  # the last checkpoint is signed
        say("publish: P1 (first run) and P2 (nothing new)")
        res["p1_first"] = self.publish()
        res["p2_again"] = self.publish()
        port = self.start_nginx()
        gw = self.gw["port"]
        feed = "/feed/requests.json?page_size=50"
        for path in (feed, "/log/tile/0/000"):
            a, b = req(gw, "GET", path), req(port, "GET", path)
            if a[0] != 200 or a != b:
                raise RuntimeError("%s: the gateway and nginx differ (%d, %d)" % (path, a[0], b[0]))
        pages = PAGES or max(1, res["settings"]["cases"] // 50)
        res["settings"]["random_pages"] = pages
        say("publish: wrk -t%d -c%d -d%ds on G1 N1 G2 N2 G3 N3 H" % (THREADS, CONNS, DUR))
        rnd = {"HCP_PAGES": str(pages)}
        res["g1_gateway_feed"] = self.wrk_at("g1", gw, feed)
        res["n1_nginx_feed"] = self.wrk_at("n1", port, feed)
        res["g2_gateway_tile"] = self.wrk_at("g2", gw, "/log/tile/0/000")
        res["n2_nginx_tile"] = self.wrk_at("n2", port, "/log/tile/0/000")
        res["g3_gateway_pages"] = self.wrk_at("g3", gw, "/feed/requests.json",
                                              script="feed_pages.lua", env=rnd)
        res["n3_nginx_pages"] = self.wrk_at("n3", port, "/feed/requests.json",
                                            script="feed_pages.lua", env=rnd)
        res["h_gateway_healthz"] = self.wrk_at("h", gw, "/healthz")
        for n, g, k in (("n1_nginx_feed", "g1_gateway_feed", "ratio_n1_over_g1"),
                        ("n2_nginx_tile", "g2_gateway_tile", "ratio_n2_over_g2"),
                        ("n3_nginx_pages", "g3_gateway_pages", "ratio_n3_over_g3")):
            res[k] = round(res[n]["rps"] / res[g]["rps"], 2) if res[g]["rps"] else None
        res["date"] = datetime.date.today().isoformat()
        self.stop(self.nginx)
        self.stop(self.gw["proc"])
        return res


def report(r):
    def row(name, value, note=""):
        print("  %-46s %14s  %s" % (name, value, note))

    def wr(w):
        return "p50 %.2f p99 %.2f ms; errors %d" % (
            w["p50_ms"], w["p99_ms"], sum(w["errors"].values()))

    s = r["settings"]
    print()
    print("hcp static publishing benchmark (%s cases; nginx workers %s; wrk -t%d -c%d -d%ds)"
          % (format(s["cases"], ","), s["nginx_workers"], s["threads"], s["connections"],
             s["duration"]))
    print("  " + "-" * 78)
    for k, name in (("p1_first", "(P1) publish, first run  s"),
                    ("p2_again", "(P2) publish, nothing new  s")):
        p = r[k]
        row(name, "%.2f" % p["seconds"], "%d files written (%s bytes), %d unchanged" % (
            p["files_written"], format(p["bytes_written"], ","), p["files_unchanged"]))
    for k, name in (("g1_gateway_feed", "(G1) gateway feed page 1  req/s"),
                    ("n1_nginx_feed", "(N1) nginx feed page 1  req/s"),
                    ("g2_gateway_tile", "(G2) gateway tile 0/000  req/s"),
                    ("n2_nginx_tile", "(N2) nginx tile 0/000  req/s"),
                    ("g3_gateway_pages", "(G3) gateway random page 1..%d  req/s" % s["random_pages"]),
                    ("n3_nginx_pages", "(N3) nginx random page  req/s"),
                    ("h_gateway_healthz", "(H) gateway /healthz  req/s")):
        row(name, "%.0f" % r[k]["rps"], wr(r[k]))
    for k, name in (("ratio_n1_over_g1", "N1/G1"), ("ratio_n2_over_g2", "N2/G2"),
                    ("ratio_n3_over_g3", "N3/G3")):
        row("ratio %s" % name, "%.2f" % r[k] if r[k] is not None else "-")
    print("  " + "-" * 78)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, out = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    b = PublishBench(build, out)
    for f in (b.node_bin, b.gw_bin):
        if not os.access(f, os.X_OK):
            print("bench: %s is missing (build first: make bench)" % f, file=sys.stderr)
            return 1
    if not shutil.which("wrk") or nginx_bin() is None:
        print("bench: wrk or nginx is missing (scripts/deps.sh bench web)", file=sys.stderr)
        return 1
    try:
        r = b.run()
    finally:
        b.stop_all()
    path = save_results(out, "publish", r, "publish.json")
    report(r)
    print("  results: %s (key \"publish\")" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
