#!/usr/bin/env python3
"""link_bench.py — replication over a slow county link, with and without
compressed batches (issue #18 part 3; docs/bench.md "Slow links (issue
#18)"). Run by bench/run.sh's `link` stage; Python 3 standard library, the
build's binaries and tools/hcp-gen.

  link_bench.py BUILD_DIR OUT_DIR

One node (630102) is filled offline by tools/hcp-gen with N requests of
realistic Qinghai data (evaluations, complaints with personal records, their
handling steps): the county's real mix of records, not one record repeated.
Its store is then copied for every run below, so each run catches up the
very same log against a fresh gateway (mutual TLS, as deployed):

  L  levels: bench_zstd_levels (bench/zstd_levels.c) cuts the store's log
     into the batches the node sends and, for each zstd level of
     HCP_BENCH_LINK_LEVELS, reports the frames' ratio and the CPU per event
     of compressing and decompressing them (this picks REPL_ZSTD_LEVEL);
     then a loopback catch-up (no shaping) with compression off and at the
     default level: time, events/s, node and gateway CPU seconds, the ratio
     from the node's hcp_node_sync_zstd_* counters. Done on that
     store and on a second one of R600 ~600-byte evaluations written by wrk
     and bench/repl.lua (the replication bench's records).
  S  shaped: the same catch-up over a link of RATE kbit/s, DELAY ms one-way
     delay and LOSS % loss in each direction, compression off at the node
     (an old-style node) and at the default level: time, events/s, bytes on the wire each way (TLS and all)
     and their ratio. The link is tc netem in a network namespace when this
     machine has it (bench/slowlink.py Netns: the gateway runs inside the
     namespace), else bench/slowlink.py's proxy (SlowLink, a model: see its
     docstring); results say which ("shaper").

Environment: HCP_BENCH_LINK_N (hcp-gen requests, default 6000),
HCP_BENCH_LINK_R600 (20000; 0 skips that store), HCP_BENCH_LINK_LEVELS ("1,3,6,9,19"), HCP_BENCH_LINK_SHAPER (auto | netem |
proxy), HCP_BENCH_LINK_RATE_KBIT (2000), HCP_BENCH_LINK_DELAY_MS (80),
HCP_BENCH_LINK_LOSS_PCT (1), HCP_BENCH_LINK_TIMEOUT_S (900 per shaped run),
HCP_BENCH_LINK_REPEAT (3: catch-ups off and on, alternated, medians reported),
HCP_BENCH_LINK_SKIP (comma list of L,S). Adds "link" to OUT_DIR/results.json
and prints a table. Numbers are reported, never judged: the script fails only
when something could not be measured.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from repl_bench import cpu_seconds, free_port, req, save_results, wait_healthy  # noqa: E402
from slowlink import Netns, SlowLink  # noqa: E402

GW_NAME = "gw.bench"
COUNTY = "630102"


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


N = env_int("HCP_BENCH_LINK_N", 10000)
R600 = env_int("HCP_BENCH_LINK_R600", 20000)
LEVELS = [int(x) for x in (os.environ.get("HCP_BENCH_LINK_LEVELS", "") or "1,3,6,9,19").split(",")
          if x.strip()]
SHAPER = (os.environ.get("HCP_BENCH_LINK_SHAPER", "") or "auto").strip()
RATE_KBIT = env_int("HCP_BENCH_LINK_RATE_KBIT", 2000)
DELAY_MS = env_int("HCP_BENCH_LINK_DELAY_MS", 80)
LOSS_PCT = float(os.environ.get("HCP_BENCH_LINK_LOSS_PCT", "") or 1)
TIMEOUT_S = env_int("HCP_BENCH_LINK_TIMEOUT_S", 900)
REPEAT = max(1, env_int("HCP_BENCH_LINK_REPEAT", 3))
SKIP = set(s.strip().upper() for s in os.environ.get("HCP_BENCH_LINK_SKIP", "").split(",") if s)


def say(msg):
    print("bench: link: " + msg, flush=True)


def metrics(port, token):
    st, body = req(port, "GET", "/metrics", token)
    if st != 200:
        raise RuntimeError("GET /metrics: %d" % st)
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            out[k] = float(v)
    return out


def medians(rows):
    """Per level ("off", "default"): the median of each numeric figure over
    the repeated runs (all complete ones; seconds of incomplete runs count
    as they are, a lower bound)."""
    out = {}
    for level in ("off", "default"):
        rs = [r for r in rows if r["level"] == level]
        m = {"runs": len(rs), "complete": all(r["complete"] for r in rs)}
        for k in ("seconds", "events_per_s", "node_cpu_s", "gateway_cpu_s", "wire_up_bytes",
                  "wire_down_bytes", "failures", "ratio", "simulated_losses"):
            v = sorted(r[k] for r in rs if r.get(k) is not None)
            if v:
                m[k] = v[len(v) // 2]
        out[level] = m
    return out


class LinkBench:
    def __init__(self, build, out, work=None):
        """work: the scratch directory (emptied first); OUT/work/link unless
        given (bench/peers/peers_bench.py --link passes its own)."""
        self.build, self.out = build, out
        self.work = work or os.path.join(out, "work", "link")
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        self.node_bin = os.path.join(build, "node", "hcp-node")
        self.gw_bin = os.path.join(build, "gateway", "hcp-gateway")
        self.certs_bin = os.path.join(build, "certs", "hcp-certs")
        self.gen = os.path.join(ROOT, "tools", "hcp-gen")
        self.pki = os.path.join(self.work, "pki")
        self.procs = []
        self.res = {"settings": {"requests": N, "levels": LEVELS, "rate_kbit": RATE_KBIT,
                                 "delay_ms": DELAY_MS, "loss_pct": LOSS_PCT}}

    # ---- processes ----
    def spawn(self, args, log, env=None, netns=None):
        err = open(log, "wb")
        kw = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                  env=dict(os.environ, **(env or {})))
        p = netns.run(args, **kw) if netns else subprocess.Popen(args, **kw)
        err.close()
        self.procs.append(p)
        return p

    def stop(self, p, timeout=60):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if p in self.procs:
            self.procs.remove(p)

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p)

    def make_pki(self):
        with open(os.path.join(self.work, "certs.log"), "wb") as log:
            for s in (["init", "--dir", self.pki],
                      ["gateway", "--dir", self.pki, "--name", GW_NAME, "--ip", "127.0.0.1"],
                      ["node", "--dir", self.pki, "--county", COUNTY]):
                subprocess.run([self.certs_bin] + s, stdout=log, stderr=log, check=True)

    def fill(self):
        """The source store: hcp-gen's N requests into an offline node."""
        d = os.path.join(self.work, "source")
        port = free_port()
        p = self.spawn([self.node_bin, "--data", d, "--county", COUNTY, "--listen-http",
                        "127.0.0.1:%d" % port, "--sweep-interval", "86400"],
                       os.path.join(self.work, "source.log"))
        if not wait_healthy(port, p):
            raise RuntimeError("source node did not start")
        t0 = time.monotonic()
        subprocess.run([sys.executable, self.gen, "--node",
                        "http://127.0.0.1:%d=%s" % (port, os.path.join(d, "api.token")),
                        "--rate", "0", "--count", str(N), "--workers", "2", "--quiet",
                        "--seed", "18"], stdout=subprocess.DEVNULL, check=True)
        with open(os.path.join(d, "api.token")) as f:
            token = f.read().strip()
        head = int(metrics(port, token)["hcp_node_log_head"])
        self.stop(p)
        say("source: %d requests -> %d events in %.1f s" % (N, head, time.monotonic() - t0))
        self.source, self.head = d, head
        self.res["events"] = head

    def fill_r600(self, n=None):
        """A second store: R600 (or n) evaluations of ~600 bytes by wrk and
        bench/repl.lua, the records of the replication bench (their text
        repeats one phrase 11 times, so they compress better than real
        ones: reported beside, never instead)."""
        n = n or R600
        d = os.path.join(self.work, "source600")
        port = free_port()
        p = self.spawn([self.node_bin, "--data", d, "--county", COUNTY, "--listen-http",
                        "127.0.0.1:%d" % port, "--sweep-interval", "86400"],
                       os.path.join(self.work, "source600.log"))
        if not wait_healthy(port, p):
            raise RuntimeError("source600 node did not start")
        with open(os.path.join(d, "api.token")) as f:
            token = f.read().strip()
        w = subprocess.Popen(["wrk", "-t2", "-c16", "-d600s", "--timeout", "10s", "-s",
                              os.path.join(HERE, "repl.lua"),
                              "http://127.0.0.1:%d/v1/evaluations" % port],
                             env=dict(os.environ, HCP_TOKEN=token, HCP_LIMIT=str(n // 2 + 1)),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        head = 0
        while w.poll() is None:
            head = int(metrics(port, token)["hcp_node_log_head"])
            if head >= n:
                break
            time.sleep(0.25)
        w.send_signal(signal.SIGINT)
        w.wait()
        head = int(metrics(port, token)["hcp_node_log_head"])
        self.stop(p)
        return d, head

    def start_gateway(self, name, env, netns=None):
        d = os.path.join(self.work, name)
        shutil.rmtree(d, ignore_errors=True)
        host = netns.ns_ip if netns else "127.0.0.1"
        port, hport = free_port(), free_port()
        log = os.path.join(self.work, name + ".log")
        args = [self.gw_bin, "--data", d, "--listen", "tls+tcp://%s:%d" % (host, port),
                "--listen-http", "%s:%d" % ("0.0.0.0" if netns else "127.0.0.1", hport),
                "--tls-cert", os.path.join(self.pki, "gateway.crt"),
                "--tls-key", os.path.join(self.pki, "gateway.key"),
                "--tls-ca", os.path.join(self.pki, "ca.crt"),
                "--tls-crl", os.path.join(self.pki, "crl.pem")]
        p = self.spawn(args, log, env, netns)
        # the HTTP API of a gateway inside the namespace is reached through it too
        hhost = netns.ns_ip if netns else "127.0.0.1"
        end = time.monotonic() + 30
        token = None
        while time.monotonic() < end and p.poll() is None:
            try:
                with open(os.path.join(d, "admin.token")) as f:
                    token = f.read().strip()
                import http.client
                c = http.client.HTTPConnection(hhost, hport, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError("gateway did not start (log: %s)" % log)
        return {"proc": p, "host": host, "port": port, "hhost": hhost, "hport": hport,
                "token": token, "log": log}

    def applied(self, gw):
        import http.client
        c = http.client.HTTPConnection(gw["hhost"], gw["hport"], timeout=10)
        c.request("GET", "/v1/counties", headers={"Authorization": "Bearer " + gw["token"]})
        r = c.getresponse()
        body = r.read()
        c.close()
        if r.status != 200:
            raise RuntimeError("GET /v1/counties: %d" % r.status)
        for row in json.loads(body)["counties"]:
            if row["county"] == COUNTY:
                return row["applied"]
        return 0

    # ---- one catch-up ----
    def catch_up(self, name, level, url, gw, timeout, counters=None):
        """Copy the source store, start it against url (HCP_REPL_ZSTD=level
        for the node: "off" or a level), wait until the gateway applied the
        whole log. Returns the run's figures."""
        d = os.path.join(self.work, name)
        for suffix in ("", ".keys"):  # the store and its keys beside it (seal.key)
            shutil.rmtree(d + suffix, ignore_errors=True)
            if os.path.isdir(self.source + suffix):
                shutil.copytree(self.source + suffix, d + suffix)
        port = free_port()
        env = {"HCP_REPL_ZSTD": "" if level == "default" else str(level)}
        c0 = counters() if counters else None
        g0 = cpu_seconds(gw["proc"].pid)
        t0 = time.monotonic()
        p = self.spawn([self.node_bin, "--data", d, "--county", COUNTY, "--listen-http",
                        "127.0.0.1:%d" % port, "--sweep-interval", "86400", "--gateway", url,
                        "--tls-server-name", GW_NAME,
                        "--tls-cert", os.path.join(self.pki, "nodes", COUNTY + ".crt"),
                        "--tls-key", os.path.join(self.pki, "nodes", COUNTY + ".key"),
                        "--tls-ca", os.path.join(self.pki, "ca.crt")],
                       os.path.join(self.work, name + ".log"), env)
        if not wait_healthy(port, p):
            raise RuntimeError("node %s did not start" % name)
        with open(os.path.join(d, "api.token")) as f:
            token = f.read().strip()
        done = False
        head = self.head
        while time.monotonic() - t0 < timeout:
            # the node may add a few events as it starts (its first sweep): its own head counts
            head = max(head, int(metrics(port, token)["hcp_node_log_head"]))
            if self.applied(gw) >= head:
                done = True
                break
            time.sleep(0.1)
        secs = time.monotonic() - t0
        m = metrics(port, token)
        r = {"level": level, "seconds": round(secs, 2), "complete": done,
             "events": head, "events_per_s": round(head / secs, 1) if done else None,
             "applied": self.applied(gw),
             "node_cpu_s": cpu_seconds(p.pid),
             "gateway_cpu_s": round(cpu_seconds(gw["proc"].pid) - g0, 2),
             "frames_compressed": int(m.get("hcp_node_sync_zstd_frames_sent_total", 0)),
             "raw_bytes": int(m.get("hcp_node_sync_zstd_sent_raw_bytes_total", 0)),
             "compressed_bytes": int(m.get("hcp_node_sync_zstd_sent_wire_bytes_total", 0))}
        if r["compressed_bytes"]:
            r["ratio"] = round(r["raw_bytes"] / r["compressed_bytes"], 2)
        with open(os.path.join(self.work, name + ".log"), "rb") as f:
            log = f.read().decode("utf-8", "replace")
        r["failures"] = log.count("sync.failed")
        r["redials"] = log.count("sync.redial")
        if counters:
            c1 = counters()
            r["wire_up_bytes"] = c1["up"] - c0["up"]
            r["wire_down_bytes"] = c1["down"] - c0["down"]
        self.stop(p)
        return r

    # ---- L: levels on loopback ----
    def levels(self, tag, source, head):
        """On the store `source` (head events): bench_zstd_levels's ratio and
        CPU per event for each level of LEVELS, then a loopback catch-up
        without compression and at the default level; results under
        levels_<tag>."""
        p = subprocess.run([os.path.join(self.build, "bench", "bench_zstd_levels"), source, COUNTY,
                            os.path.join(source + ".keys", "seal.key")] +
                           [str(x) for x in LEVELS], capture_output=True, text=True, check=True)
        micro = json.loads(p.stdout)
        for lv in micro["levels"]:
            say("L %s level %-2d ratio %.2f  encode %.2f us/event  decode %.2f us/event  "
                "(%.0f MB/s)" % (tag, lv["level"], lv["ratio"], lv["encode_us_per_event"],
                                 lv["decode_us_per_event"], lv["compress_mb_s"]))
        keep = self.source, self.head
        self.source, self.head = source, head
        rows = []
        try:
            for level in ("off", "default") * REPEAT:
                gw = self.start_gateway("gw-l-%s" % level, {"HCP_REPL_ZSTD": "" if level ==
                                                                 "default" else str(level)})
                r = self.catch_up("node-l-%s" % level, level,
                                  "tls+tcp://127.0.0.1:%d" % gw["port"], gw, 600)
                self.stop(gw["proc"])
                say("L %s level %-3s %6.2f s  %8.0f events/s  node CPU %.2f s  gateway CPU %.2f s"
                    "  ratio %s" % (tag, level, r["seconds"], r["events_per_s"] or 0,
                                    r["node_cpu_s"] or 0, r["gateway_cpu_s"], r.get("ratio", "-")))
                rows.append(r)
        finally:
            self.source, self.head = keep
        self.res["levels_" + tag] = {"events": head, "micro": micro, "runs": rows,
                                     "median": medians(rows)}
        if len(rows) > 1 and rows[1]["raw_bytes"]:
            self.res["levels_" + tag]["mean_event_bytes"] = round(rows[1]["raw_bytes"] / head, 1)

    # ---- S: the shaped link ----
    def shaped(self):
        mode, why = SHAPER, ""
        if mode in ("auto", "netem"):
            ok, why = Netns.available()
            if not ok and mode == "netem":
                raise RuntimeError("netem asked for but unavailable: " + why)
            mode = "netem" if ok else "proxy"
        self.res["shaper"] = mode
        if why:
            self.res["netem_unavailable"] = why
            say("netem unavailable here (%s): the proxy model shapes the link" % why)
        rows = []
        for level in ("off", "default") * REPEAT:
            ns = link = None
            try:
                if mode == "netem":
                    ns = Netns(rate_kbit=RATE_KBIT, delay_ms=DELAY_MS, loss_pct=LOSS_PCT).start()
                    gw = self.start_gateway("gw-s-%s" % level, {"HCP_REPL_ZSTD": ""}, ns)
                    url = "tls+tcp://%s:%d" % (ns.ns_ip, gw["port"])

                    def counters(veth=ns.veth):
                        def rd(k):
                            with open("/sys/class/net/%s/statistics/%s" % (veth, k)) as f:
                                return int(f.read())
                        return {"up": rd("tx_bytes"), "down": rd("rx_bytes")}
                else:
                    gw = self.start_gateway("gw-s-%s" % level, {"HCP_REPL_ZSTD": ""})
                    link = SlowLink(("127.0.0.1", gw["port"]), RATE_KBIT * 1000, DELAY_MS / 1000.0,
                                    LOSS_PCT / 100.0, seed=18).start()
                    url = "tls+tcp://127.0.0.1:%d" % link.port
                    counters = link.counters
                r = self.catch_up("node-s-%s" % level, level, url, gw, TIMEOUT_S, counters)
                if link:
                    r["simulated_losses"] = link.counters()["stalls"]
                self.stop(gw["proc"])
            finally:
                if link:
                    link.close()
                if ns:
                    ns.close()
            say("S level %-3s %7.1f s  %7.1f events/s  up %d B  down %d B  complete %s  "
                "failures %d" % (level, r["seconds"], r["events_per_s"] or 0,
                                 r.get("wire_up_bytes", 0), r.get("wire_down_bytes", 0),
                                 r["complete"], r["failures"]))
            rows.append(r)
        self.res["shaped"] = rows
        med = self.res["shaped_median"] = medians(rows)
        off, on = med["off"], med["default"]
        if on["seconds"] and off["seconds"]:
            self.res["shaped_speedup"] = round(off["seconds"] / on["seconds"], 2)
        if on.get("wire_up_bytes"):
            self.res["shaped_wire_ratio"] = round(off["wire_up_bytes"] / on["wire_up_bytes"], 2)
        say("S median: off %.1f s, compressed %.1f s: %.2fx; bytes up %.2fx fewer"
            % (off["seconds"], on["seconds"], self.res.get("shaped_speedup", 0),
               self.res.get("shaped_wire_ratio", 0)))

    def run(self):
        try:
            self.make_pki()
            self.fill()
            if "L" not in SKIP:
                self.levels("gen", self.source, self.head)
                if R600 > 0:
                    d, head = self.fill_r600()
                    say("source600: %d events" % head)
                    self.levels("r600", d, head)
            if "S" not in SKIP:
                self.shaped()
        finally:
            self.stop_all()
        path = save_results(self.out, "link", self.res, "link.json")
        say("results in %s" % path)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: link_bench.py BUILD_DIR OUT_DIR")
    LinkBench(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])).run()
