#!/usr/bin/env python3
"""repl_bench.py — replication benchmarks (issue #4), run by bench/run.sh after
the intake figures. Python 3 standard library, wrk, and the build's binaries.

  repl_bench.py BUILD_DIR OUT_DIR

Figures (docs/bench.md, "Replication"):
  R   catch-up: one node (630102) holding N evaluations (~600-byte records,
      written offline through its HTTP API by wrk + bench/repl.lua) is
      started with --gateway against a fresh gateway; time from the node's
      start until the gateway's /v1/counties shows applied == the node's
      head (polled every 100 ms); events/s, plus both processes' CPU seconds.
  R1  bench_nng_raw: the same bytes (N x 600) over nng mutual TLS in 64 KiB
      messages, streamed (pair1) and one-in-flight (req/rep).
  R2  bench_gw_apply_raw: the same number of ~600-byte records encoded,
      hash-chained and appended to LMDB, 1,000 per durable transaction.
  F   fleet catch-up: FLEET nodes (Qinghai counties) with FLEET_N events
      each start at once against a fresh gateway: total events/s, the
      gateway's peak RSS (VmHWM).
  T   trickle: the FLEET nodes stay connected; each is sent RATE evaluations
      per second for TRICKLE_S seconds (one `wrk -t1 -c1 -s bench/trickle.lua`
      per node, paced by wrk's delay()). Latency = node commit -> the
      gateway's acknowledgement (sent after its commit) back at the node, one
      clock in one process: the nodes' hcp_node_sync_replication_seconds
      histograms (GET /metrics) read before and ~2 s after the trickle,
      subtracted and summed; p50/p90/p99 interpolated linearly inside the
      histogram's buckets, mean = sum / count. Also posts answered 201 vs
      other, the rate achieved, the gateway's peak RSS, and the CPU seconds of
      the gateway, the nodes, wrk and the rest of the machine meanwhile.

Environment: HCP_BENCH_REPL_N (1000000), HCP_BENCH_REPL_FLEET (44, at most
44: hcp-node accepts only Qinghai counties), HCP_BENCH_REPL_FLEET_N (20000),
HCP_BENCH_REPL_RATE (20 per node per second), HCP_BENCH_REPL_TRICKLE_S (20),
HCP_BENCH_REPL_ARRIVALS (periodic: each node posts every 1/RATE s from a
random phase; poisson: exponential gaps of mean 1/RATE),
HCP_BENCH_REPL_SKIP (comma list of F,T to skip). Adds "replication" to
OUT_DIR/results.json and prints a table. Targets are reported, never enforced:
the script fails only when something could not be measured.
"""
import http.client
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET_RATIO = 0.8  # issue #18 (issue #4 asked 0.7)
GW_NAME = "gw.bench"
RECORD_BYTES = 600
POLL_S = 0.1
HIST = "hcp_node_sync_replication_seconds"


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


N = env_int("HCP_BENCH_REPL_N", 1000000)
FLEET = min(env_int("HCP_BENCH_REPL_FLEET", 44), 44)
FLEET_N = env_int("HCP_BENCH_REPL_FLEET_N", 20000)
RATE = env_int("HCP_BENCH_REPL_RATE", 20)
TRICKLE_S = env_int("HCP_BENCH_REPL_TRICKLE_S", 20)
ARRIVALS = os.environ.get("HCP_BENCH_REPL_ARRIVALS", "").strip() or "periodic"
SKIP = set(s.strip().upper() for s in os.environ.get("HCP_BENCH_REPL_SKIP", "").split(",") if s)


def say(msg):
    print("bench: " + msg, flush=True)


def save_results(out, key, r, alone=None):
    """Merge r under key into OUT/results.json (other parts' keys kept), and
    write it alone to OUT/alone when given; returns the results path."""
    path = os.path.join(out, "results.json")
    res = {}
    if os.path.exists(path):
        with open(path) as f:
            res = json.load(f)
    res[key] = r
    with open(path, "w") as f:
        json.dump(res, f, indent=2, ensure_ascii=False)
        f.write("\n")
    if alone:
        with open(os.path.join(out, alone), "w") as f:
            json.dump(r, f, indent=2, ensure_ascii=False)
    return path


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def req(port, method, path, token=None, body=None, timeout=30, conn=None):
    """One request; returns (status, bytes). Reuses conn when given."""
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = {"Authorization": "Bearer " + token} if token else {}
    if body is not None:
        h["Content-Type"] = "application/json"
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    return r.status, data


def wait_settled(pid, timeout=300.0, window=0.5, busy=0.05):
    """Wait until process pid (a gateway after a catch-up) has gone quiet:
    less than `busy` of a core over `window` seconds. What it finishes
    first is the monthly form's rows a catch-up left behind it
    (hcp_gateway_report_rows_pending in /metrics; docs/reports.md "Rows
    written behind"), which a route measured meanwhile would share the
    cores with. Read from /proc, not /metrics: a scrape reads every open
    case, seconds of the gateway's CPU on a store of a million open ones
    (the feed bench's). Returns {"seconds": waited,
    "busy_first": the share of a core in the first window}; raises after
    timeout."""
    t0, first = time.monotonic(), None
    c0 = cpu_seconds(pid)
    while True:
        time.sleep(window)
        c1 = cpu_seconds(pid)
        if c0 is None or c1 is None:
            raise RuntimeError("process %d is gone" % pid)
        share = (c1 - c0) / window
        first = share if first is None else first
        if share < busy:
            return {"seconds": round(time.monotonic() - t0 - window, 2),
                    "busy_first": round(first, 2)}
        if time.monotonic() - t0 > timeout:
            raise RuntimeError("still %.0f%% of a core busy after %.0f s" % (share * 100, timeout))
        c0 = c1


def hist_quantile(buckets, q):
    """The q quantile (0..1) of a cumulative histogram [(le, count)...]
    ending with +Inf, interpolated linearly inside the bucket that holds it
    (as Prometheus' histogram_quantile; the first bucket starts at 0).
    Returns (value, bucket lower bound, bucket upper bound); in the +Inf
    bucket the value is the highest finite bound (a lower limit)."""
    total = buckets[-1][1] if buckets else 0
    if total <= 0:
        return None, 0.0, 0.0
    rank = q * total
    lo, prev = 0.0, 0
    for le, c in buckets:
        if c >= rank and c > prev:
            if le == float("inf"):
                return lo, lo, le
            return lo + (le - lo) * (rank - prev) / (c - prev), lo, le
        lo, prev = le, c
    return lo, lo, float("inf")


def machine_busy_seconds():
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal ...: busy = all but idle, iowait
        return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def wait_healthy(port, proc, secs=30):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            if req(port, "GET", "/healthz", timeout=2)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def proc_status(pid, keys=("VmRSS", "VmHWM")):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in keys:
                    out[k + "_kib"] = int(v.split()[0])
    except OSError:
        pass
    return out


def cpu_seconds(pid):
    """utime + stime of pid (all threads), seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class Bench:
    def __init__(self, build, out):
        self.build = build
        self.out = out
        self.work = os.path.join(out, "work", "repl")
        self.node_bin = os.path.join(build, "node", "hcp-node")
        self.gw_bin = os.path.join(build, "gateway", "hcp-gateway")
        self.certs_bin = os.path.join(build, "certs", "hcp-certs")
        self.raw_apply = os.path.join(build, "bench", "bench_gw_apply_raw")
        self.raw_nng = os.path.join(build, "bench", "bench_nng_raw")
        self.pki = os.path.join(self.work, "pki")
        self.procs = []
        self.res = {"settings": {"n": N, "fleet": FLEET, "fleet_n": FLEET_N, "rate": RATE,
                                 "trickle_s": TRICKLE_S, "record_bytes": RECORD_BYTES},
                    "d_2900_nodes": "skipped (not part of make bench)"}

    # ---- processes ----
    def spawn(self, args, log):
        err = open(log, "wb") if log else subprocess.DEVNULL
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=err)
        if log:
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
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in list(self.procs):
            self.stop(p)

    def start_node(self, county, name, gateway_port=None, log=None):
        d = os.path.join(self.work, name)
        port = free_port()
        args = [self.node_bin, "--data", d, "--county", county, "--listen-http",
                "127.0.0.1:%d" % port, "--sweep-interval", "86400"]
        if gateway_port:
            args += ["--gateway", "tls+tcp://127.0.0.1:%d" % gateway_port,
                     "--tls-server-name", GW_NAME,
                     "--tls-cert", os.path.join(self.pki, "nodes", county + ".crt"),
                     "--tls-key", os.path.join(self.pki, "nodes", county + ".key"),
                     "--tls-ca", os.path.join(self.pki, "ca.crt")]
        p = self.spawn(args, log)
        if not wait_healthy(port, p):
            raise RuntimeError("node %s did not start (log: %s)" % (county, log))
        with open(os.path.join(d, "api.token")) as f:
            token = f.read().strip()
        return {"proc": p, "port": port, "token": token, "county": county, "dir": d}

    def start_gateway(self, name):
        d = os.path.join(self.work, name)
        shutil.rmtree(d, ignore_errors=True)
        port, hport = free_port(), free_port()
        log = os.path.join(self.work, name + ".log")
        p = self.spawn([self.gw_bin, "--data", d, "--listen", "tls+tcp://127.0.0.1:%d" % port,
                        "--listen-http", "127.0.0.1:%d" % hport,
                        "--tls-cert", os.path.join(self.pki, "gateway.crt"),
                        "--tls-key", os.path.join(self.pki, "gateway.key"),
                        "--tls-ca", os.path.join(self.pki, "ca.crt"),
                        "--tls-crl", os.path.join(self.pki, "crl.pem")], log)
        if not wait_healthy(hport, p):
            raise RuntimeError("gateway did not start (log: %s)" % log)
        with open(os.path.join(d, "admin.token")) as f:
            token = f.read().strip()
        return {"proc": p, "port": port, "hport": hport, "token": token, "log": log}

    def node_head(self, n):
        st, body = req(n["port"], "GET", "/metrics", n["token"])
        for line in body.decode().splitlines():
            if line.startswith("hcp_node_log_head "):
                return int(line.split()[1])
        raise RuntimeError("no hcp_node_log_head in /metrics")

    def applied(self, gw, conn=None):
        st, body = req(gw["hport"], "GET", "/v1/counties", gw["token"], conn=conn)
        if st != 200:
            raise RuntimeError("GET /v1/counties: %d" % st)
        return {c["county"]: c["applied"] for c in json.loads(body)["counties"]}

    # ---- set-up ----
    def make_pki(self, counties):
        log = open(os.path.join(self.work, "certs.log"), "wb")
        steps = [["init", "--dir", self.pki],
                 ["gateway", "--dir", self.pki, "--name", GW_NAME, "--ip", "127.0.0.1"]]
        steps += [["node", "--dir", self.pki, "--county", c] for c in counties]
        for s in steps:
            subprocess.run([self.certs_bin] + s, stdout=log, stderr=log, check=True)
        log.close()

    def fill(self, nodes, target, threads, conns):
        """Post ~600-byte evaluations to every node until each holds at least
        target events; returns the seconds it took."""
        t0 = time.monotonic()
        wrks = []
        for n in nodes:
            env = dict(os.environ, HCP_TOKEN=n["token"],
                       HCP_LIMIT=str((target + threads - 1) // threads))
            w = subprocess.Popen(["wrk", "-t%d" % threads, "-c%d" % conns, "-d600s", "--timeout",
                                  "10s", "-s", os.path.join(HERE, "repl.lua"),
                                  "http://127.0.0.1:%d/v1/evaluations" % n["port"]],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wrks.append([n, w])
        left = list(wrks)
        for rnd in range(5):
            while left:
                time.sleep(0.25)
                still = []
                for n, w in left:
                    if self.node_head(n) >= target:
                        w.send_signal(signal.SIGINT)
                        w.wait()
                    elif w.poll() is not None:  # stopped short (errors): top up below
                        still.append([n, None])
                    else:
                        still.append([n, w])
                left = [x for x in still if x[1] is not None]
                short = [x[0] for x in still if x[1] is None]
                for n in short:
                    env = dict(os.environ, HCP_TOKEN=n["token"], HCP_LIMIT=str(
                        max(1, target - self.node_head(n))))
                    w = subprocess.Popen(["wrk", "-t1", "-c4", "-d600s", "-s",
                                          os.path.join(HERE, "repl.lua"),
                                          "http://127.0.0.1:%d/v1/evaluations" % n["port"]],
                                         env=env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
                    left.append([n, w])
            if not left:
                break
        return time.monotonic() - t0

    # ---- R: one node catches up ----
    def catch_up(self):
        c = "630102"
        say("(R) fill a node offline with %s evaluations of ~%d bytes (wrk, repl.lua)"
            % (format(N, ","), RECORD_BYTES))
        n = self.start_node(c, "r-node")
        fill_s = self.fill([n], N, 2, 64)
        head = self.node_head(n)
        self.stop(n["proc"])
        say("(R) %s events in %.1f s (%.0f/s); gateway up, node restarted with --gateway"
            % (format(head, ","), fill_s, head / fill_s))
        gw = self.start_gateway("r-gw")
        load0 = os.getloadavg()[0]
        conn = http.client.HTTPConnection("127.0.0.1", gw["hport"], timeout=30)
        t0 = time.monotonic()
        n = self.start_node(c, "r-node", gw["port"], os.path.join(self.work, "r-node.log"))
        gw_cpu0, node_cpu0 = cpu_seconds(gw["proc"].pid), cpu_seconds(n["proc"].pid)
        deadline = t0 + max(120, N / 2000)
        got = 0
        while time.monotonic() < deadline:
            got = self.applied(gw, conn).get(c, 0)
            if got >= head:
                break
            time.sleep(POLL_S)
        secs = time.monotonic() - t0
        if got < head:
            raise RuntimeError("catch-up: only %d of %d applied after %.0f s" % (got, head, secs))
        gw_cpu, node_cpu = cpu_seconds(gw["proc"].pid), cpu_seconds(n["proc"].pid)
        r = {"events": head, "seconds": round(secs, 3), "events_per_s": round(head / secs, 1),
             "poll_s": POLL_S, "fill_seconds": round(fill_s, 2),
             "fill_per_s": round(head / fill_s, 1),
             "gateway_cpu_s": round(gw_cpu - gw_cpu0, 2) if gw_cpu is not None else None,
             "node_cpu_s": round(node_cpu - node_cpu0, 2) if node_cpu is not None else None,
             "gateway_cpu_us_per_event": round((gw_cpu - gw_cpu0) * 1e6 / head, 2)
             if gw_cpu is not None else None,
             "node_cpu_us_per_event": round((node_cpu - node_cpu0) * 1e6 / head, 2)
             if node_cpu is not None else None,
             "loadavg_1m_before": round(load0, 2), "loadavg_1m_after": round(os.getloadavg()[0], 2),
             "gateway_VmHWM_kib": proc_status(gw["proc"].pid).get("VmHWM_kib"),
             "node_bytes_on_disk": os.path.getsize(os.path.join(n["dir"], "data.mdb")),
             "gateway_bytes_on_disk": os.path.getsize(
                 os.path.join(self.work, "r-gw", "data.mdb"))}
        conn.close()
        self.stop(n["proc"])
        self.stop(gw["proc"])
        # the node's log is no longer needed: free the disk for what follows
        shutil.rmtree(os.path.join(self.work, "r-gw"), ignore_errors=True)
        shutil.rmtree(n["dir"], ignore_errors=True)
        self.res["catch_up"] = r
        say("(R) catch-up: %.1f s, %.0f events/s" % (secs, head / secs))

    # ---- R1, R2: baselines ----
    def baselines(self, events):
        say("(R1) raw nng TLS transfer of %s bytes in 64 KiB messages" % format(
            events * RECORD_BYTES, ","))
        p = self.pki
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([self.raw_nng, str(free_port()), p + "/ca.crt", p + "/gateway.crt",
                              p + "/gateway.key", p + "/nodes/630102.crt",
                              p + "/nodes/630102.key", GW_NAME, str(events * RECORD_BYTES)],
                             check=True, stdout=subprocess.PIPE).stdout
        r1 = json.loads(out)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU, not only the wall clock: on a shared machine the two ceilings are slowed by
        # different things (the transfer by other processes' CPU, the apply by the disk's fsyncs)
        r1["cpu_s"] = round(ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, 2)
        r1["cpu_us_per_event"] = round(r1["cpu_s"] * 1e6 / events, 2)
        r1["loadavg_1m_before"] = round(os.getloadavg()[0], 2)
        for k in ("stream", "reqrep"):
            r1[k]["events_per_s"] = round(r1[k]["mb_per_s"] * 1e6 / RECORD_BYTES, 1)
        self.res["nng_raw"] = r1
        say("(R2) raw LMDB apply of %s records, 1,000 per durable txn" % format(events, ","))
        raw_dir = os.path.join(self.work, "raw")
        out = subprocess.run([self.raw_apply, raw_dir, str(events), "1000"], check=True,
                             stdout=subprocess.PIPE).stdout
        ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
        shutil.rmtree(raw_dir, ignore_errors=True)
        r2 = json.loads(out)
        r2["cpu_s"] = round(ru2.ru_utime + ru2.ru_stime - ru1.ru_utime - ru1.ru_stime, 2)
        r2["cpu_us_per_record"] = round(r2["cpu_s"] * 1e6 / events, 2)
        self.res["gw_apply_raw"] = r2

    # ---- F: the fleet catches up ----
    def fleet(self, counties):
        say("(F) fill %d nodes offline with %s evaluations each" % (len(counties),
                                                                   format(FLEET_N, ",")))
        nodes = [self.start_node(c, "f-" + c) for c in counties]
        fill_s = self.fill(nodes, FLEET_N, 1, 4)
        heads = {n["county"]: self.node_head(n) for n in nodes}
        for n in nodes:
            n["proc"].send_signal(signal.SIGTERM)
        for n in nodes:
            self.stop(n["proc"])
        total = sum(heads.values())
        say("(F) %s events in %.1f s; gateway up, %d nodes restarted with --gateway"
            % (format(total, ","), fill_s, len(nodes)))
        gw = self.start_gateway("f-gw")
        conn = http.client.HTTPConnection("127.0.0.1", gw["hport"], timeout=30)
        t0 = time.monotonic()
        nodes = [self.start_node(c, "f-" + c, gw["port"], os.path.join(self.work, "f-%s.log" % c))
                 for c in counties]
        started = time.monotonic() - t0
        deadline = t0 + max(120, total / 2000)
        done = False
        while time.monotonic() < deadline:
            a = self.applied(gw, conn)
            if all(a.get(c, 0) >= h for c, h in heads.items()):
                done = True
                break
            time.sleep(POLL_S)
        secs = time.monotonic() - t0
        conn.close()
        if not done:
            raise RuntimeError("fleet catch-up incomplete after %.0f s" % secs)
        st = proc_status(gw["proc"].pid)
        self.res["fleet"] = {"nodes": len(nodes), "events": total, "seconds": round(secs, 3),
                             "events_per_s": round(total / secs, 1),
                             "nodes_start_s": round(started, 2),
                             "gateway_VmHWM_kib": st.get("VmHWM_kib"),
                             "gateway_VmRSS_kib": st.get("VmRSS_kib"),
                             "fill_seconds": round(fill_s, 2)}
        say("(F) fleet catch-up: %.1f s, %.0f events/s, gateway peak RSS %.1f MB"
            % (secs, total / secs, st.get("VmHWM_kib", 0) / 1024))
        return gw, nodes

    # ---- T: trickle latency ----
    def node_metrics(self, n):
        """The node's replication histogram and log head from GET /metrics:
        {"buckets": [(le seconds, cumulative count)...], "sum", "count", "head"}."""
        st, body = req(n["port"], "GET", "/metrics", n["token"])
        if st != 200:
            raise RuntimeError("GET /metrics of %s: %d" % (n["county"], st))
        m = {"buckets": [], "sum": None, "count": None, "head": None}
        for line in body.decode().splitlines():
            if line.startswith(HIST + "_bucket{le=\""):
                le, _, cnt = line[len(HIST) + 12:].partition("\"} ")
                m["buckets"].append((float(le), int(cnt)))
            elif line.startswith(HIST + "_sum "):
                m["sum"] = float(line.split()[1])
            elif line.startswith(HIST + "_count "):
                m["count"] = int(line.split()[1])
            elif line.startswith("hcp_node_log_head "):
                m["head"] = int(line.split()[1])
        if not m["buckets"] or m["count"] is None or m["sum"] is None:
            raise RuntimeError("no %s histogram in the /metrics of node %s (a build without "
                               "it?)" % (HIST, n["county"]))
        return m

    def node_sync(self, n):
        st, body = req(n["port"], "GET", "/v1/sync", n["token"])
        return json.loads(body) if st == 200 else {}

    def trickle(self, gw, nodes):
        period_ms = 1000.0 / RATE
        say("(T) %d connected nodes, %d evaluations/s each (%s) for %d s (wrk -t1 -c1 -s "
            "bench/trickle.lua per node); latency from the nodes' %s histograms"
            % (len(nodes), RATE, ARRIVALS, TRICKLE_S, HIST))
        syncs = [self.node_sync(n) for n in nodes]
        not_conn = [n["county"] for n, s in zip(nodes, syncs) if not s.get("connected")]
        lagging = [n["county"] for n, s in zip(nodes, syncs) if s.get("lag", 1) != 0]
        if not_conn or lagging:
            say("(T) before the trickle: not connected %s, lagging %s"
                % (not_conn or "none", lagging or "none"))
        before = [self.node_metrics(n) for n in nodes]
        gw_cpu0 = cpu_seconds(gw["proc"].pid)
        nodes_cpu0 = [cpu_seconds(n["proc"].pid) for n in nodes]
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self0 = resource.getrusage(resource.RUSAGE_SELF)
        busy0, t0 = machine_busy_seconds(), time.monotonic()
        if ARRIVALS not in ("periodic", "poisson"):
            raise RuntimeError("HCP_BENCH_REPL_ARRIVALS: periodic or poisson, not %r" % ARRIVALS)
        rng = random.Random(4)  # each node's first post at a random point of the period
        wrks = []
        for n in nodes:
            out = os.path.join(self.work, "t-%s.wrk" % n["county"])
            env = dict(os.environ, HCP_TOKEN=n["token"], HCP_RATE=str(RATE),
                       HCP_ARRIVALS=ARRIVALS,
                       HCP_PHASE_MS="%.1f" % rng.uniform(0, period_ms))
            with open(out, "wb") as f:
                w = subprocess.Popen(["wrk", "-t1", "-c1", "-d%ds" % TRICKLE_S, "--timeout",
                                      "10s", "-s", os.path.join(HERE, "trickle.lua"),
                                      "http://127.0.0.1:%d" % n["port"]],
                                     env=env, stdout=f, stderr=subprocess.STDOUT)
            wrks.append((n, w, out))
        for n, w, out in wrks:
            try:
                w.wait(TRICKLE_S + 60)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()
        busy1, t1 = machine_busy_seconds(), time.monotonic()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self1 = resource.getrusage(resource.RUSAGE_SELF)
        gw_cpu1 = cpu_seconds(gw["proc"].pid)
        nodes_cpu1 = [cpu_seconds(n["proc"].pid) for n in nodes]
        # the last acknowledgements: ~2 s, longer (up to 10 s more) while a node lags
        time.sleep(2.0)
        deadline = time.monotonic() + 10
        while True:
            syncs = [self.node_sync(n) for n in nodes]
            lag = sum(s.get("lag", 0) for s in syncs)
            if lag == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        after = [self.node_metrics(n) for n in nodes]
        applied = self.applied(gw)
        posts = []
        for n, w, out in wrks:
            line = None
            with open(out, encoding="utf-8", errors="replace") as f:
                for ln in f:
                    if ln.startswith("TRICKLE "):
                        line = ln[len("TRICKLE "):]
            if line is None:
                raise RuntimeError("wrk for node %s printed no TRICKLE line (see %s)"
                                   % (n["county"], out))
            posts.append(json.loads(line))
        # the trickle's part of the histograms: after - before, summed over the nodes
        les = [le for le, _ in before[0]["buckets"]]
        cum = [0] * len(les)
        hsum, hcount = 0.0, 0
        for b, a in zip(before, after):
            if [le for le, _ in a["buckets"]] != les or [le for le, _ in b["buckets"]] != les:
                raise RuntimeError("the nodes' histograms have different buckets")
            for i in range(len(les)):
                cum[i] += a["buckets"][i][1] - b["buckets"][i][1]
            hsum += a["sum"] - b["sum"]
            hcount += a["count"] - b["count"]
        buckets = list(zip(les, cum))
        committed = sum(a["head"] - b["head"] for b, a in zip(before, after))
        ok = sum(p["ok"] for p in posts)
        other = sum(p["other"] for p in posts)
        errs = {}
        for p in posts:
            for k, v in p["errors"].items():
                if k != "status":  # wrk's count of 4xx/5xx: in "other" already
                    errs[k] = errs.get(k, 0) + v
        statuses = " ".join(p["statuses"] for p in posts if p["statuses"])
        secs = [p["seconds"] for p in posts if p["seconds"] > 0]
        rates = sorted(p["ok"] / p["seconds"] for p in posts if p["seconds"] > 0)
        not_applied = [n["county"] for n, a in zip(nodes, after)
                       if applied.get(n["county"], 0) < a["head"]]
        down = [n["county"] for n, s in zip(nodes, syncs) if not s.get("connected")]

        # where the two cores went during the trickle: ours, and the rest of the machine's
        cpu = {"gateway": gw_cpu1 - gw_cpu0 if gw_cpu0 is not None and gw_cpu1 is not None else 0,
               "nodes": sum(b - a for a, b in zip(nodes_cpu0, nodes_cpu1)
                            if a is not None and b is not None),
               "wrk": ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime,
               "bench_py": self1.ru_utime + self1.ru_stime - self0.ru_utime - self0.ru_stime}
        if busy0 is not None and busy1 is not None:
            cpu["machine_busy"] = busy1 - busy0
            cpu["other_processes"] = max(0.0, cpu["machine_busy"] - sum(
                cpu[k] for k in ("gateway", "nodes", "wrk", "bench_py")))
        cpu = {k: round(v, 2) for k, v in cpu.items()}
        # CPU per live event at both ends (the nodes' includes taking the post over HTTP)
        cpu["gateway_us_per_event"] = round(cpu["gateway"] * 1e6 / committed, 1) if committed else None
        cpu["nodes_us_per_event"] = round(cpu["nodes"] * 1e6 / committed, 1) if committed else None
        cpu["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
        cpu["wall"] = round(t1 - t0, 2)
        cpu["cores"] = os.cpu_count()

        def q_ms(q):
            v, lo, hi = hist_quantile(buckets, q)
            return (round(1000 * v, 2) if v is not None else None,
                    [round(1000 * lo, 2), round(1000 * hi, 2) if hi != float("inf") else None])

        p50, _ = q_ms(0.50)
        p90, _ = q_ms(0.90)
        p99, p99_bucket = q_ms(0.99)
        top = [le for (le, c), prev in zip(buckets, [0] + cum[:-1]) if c > prev]
        post_ms = sorted(p["p50_ms"] for p in posts)
        self.res["trickle"] = {
            "method": "node commit -> gateway acknowledgement back at the node, from the nodes' "
                      "%s histograms (after - before the trickle, summed over the nodes); "
                      "quantiles interpolated linearly inside histogram buckets; posts by one "
                      "wrk -t1 -c1 -s bench/trickle.lua per node" % HIST,
            "nodes": len(nodes), "rate_per_node": RATE, "seconds": TRICKLE_S,
            "arrivals": ARRIVALS,
            "events_measured": hcount, "events_committed": committed, "posted_201": ok,
            "post_other_status": other, "post_other_statuses": statuses or None,
            "post_socket_errors": errs,
            "rate_achieved_per_node": round(sum(rates) / len(rates), 2) if rates else None,
            "rate_achieved_per_node_min": round(rates[0], 2) if rates else None,
            "rate_achieved_total": round(ok / (sum(secs) / len(secs)), 1) if secs else None,
            "p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "p99_bucket_ms": p99_bucket,
            "mean_ms": round(1000 * hsum / hcount, 3) if hcount else None,
            "max_bucket_ms": ((round(1000 * top[-1], 2) if top[-1] != float("inf")
                               else "> %g" % (1000 * les[-2])) if top else None),
            "buckets": {("%g" % le if le != float("inf") else "+Inf"): c for le, c in buckets},
            "post_latency_p50_ms_median_node": post_ms[len(post_ms) // 2] if post_ms else None,
            "post_latency_p99_ms_worst_node": max((p["p99_ms"] for p in posts), default=None),
            "nodes_not_connected_before": not_conn, "nodes_not_connected_after": down,
            "counties_not_applied_after": not_applied,
            "cpu_s": cpu,
            "gateway_VmHWM_kib": proc_status(gw["proc"].pid).get("VmHWM_kib")}
        t = self.res["trickle"]
        if other or sum(errs.values()):
            say("(T) post errors: %d non-201 (%s), socket errors %s"
                % (other, statuses or "-", errs))
        # wrk stops at -d with its post in flight: the node may commit it unseen by wrk
        if hcount != committed or not 0 <= committed - ok <= len(nodes):
            say("(T) %d posts answered 201, %d events committed, %d measured"
                % (ok, committed, hcount))
        if down or not_applied:
            say("(T) after: not connected %s, gateway behind the node %s"
                % (down or "none", not_applied or "none"))
        if "other_processes" in cpu:
            say("(T) CPU s over %.1f s on %s cores: machine %.1f = gateway %.1f + nodes %.1f + "
                "wrk %.1f + this script %.1f + other processes %.1f"
                % (cpu["wall"], cpu["cores"], cpu["machine_busy"], cpu["gateway"], cpu["nodes"],
                   cpu["wrk"], cpu["bench_py"], cpu["other_processes"]))
        say("(T) p50 %s ms, p90 %s ms, p99 %s ms (in the %s-%s ms bucket), mean %s ms over %d "
            "events; %.2f posts/s per node" % (p50, p90, p99, p99_bucket[0], p99_bucket[1],
                                               t["mean_ms"], hcount,
                                               t["rate_achieved_per_node"] or 0))

    def run(self):
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        divs = [line.split("\t")[0] for line in open(os.path.join(ROOT, "data", "divisions.tsv"),
                                                     encoding="utf-8")
                if line[:1].isdigit()]
        counties = divs[:FLEET]
        say("replication: PKI for the gateway and %d counties (hcp-certs)" % len(counties))
        self.make_pki(sorted(set(counties + ["630102"])))
        try:
            self.catch_up()
            self.baselines(self.res["catch_up"]["events"])
            if "F" not in SKIP and FLEET > 0:
                gw, nodes = self.fleet(counties)
                if "T" not in SKIP:
                    self.trickle(gw, nodes)
                for n in nodes:
                    n["proc"].send_signal(signal.SIGTERM)
        finally:
            self.stop_all()
        r = self.res
        slower = min(r["nng_raw"]["stream"]["events_per_s"], r["gw_apply_raw"]["records_per_s"])
        r["slower_baseline_events_per_s"] = slower
        r["ratio_catch_up_over_slower_baseline"] = round(r["catch_up"]["events_per_s"] / slower, 3)
        r["ratio_catch_up_over_nng_raw_stream"] = round(
            r["catch_up"]["events_per_s"] / r["nng_raw"]["stream"]["events_per_s"], 3)
        r["ratio_catch_up_over_gw_apply_raw"] = round(
            r["catch_up"]["events_per_s"] / r["gw_apply_raw"]["records_per_s"], 3)
        r["target_ratio"] = TARGET_RATIO
        r["target_met"] = r["ratio_catch_up_over_slower_baseline"] >= TARGET_RATIO
        return r


def report(r):
    def row(name, value, note=""):
        print("  %-44s %14s  %s" % (name, value, note))

    cu, raw, app = r["catch_up"], r["nng_raw"], r["gw_apply_raw"]
    print()
    print("hcp replication benchmark (node -> gateway, nng mutual TLS)")
    print("  " + "-" * 76)
    row("(R) catch-up of %s events  events/s" % format(cu["events"], ","),
        "%.0f" % cu["events_per_s"], "%.1f s; CPU s: gateway %s, node %s"
        % (cu["seconds"], cu["gateway_cpu_s"], cu["node_cpu_s"]))
    row("    (filling the node offline, HTTP  ev/s)", "%.0f" % cu["fill_per_s"],
        "%.1f s" % cu["fill_seconds"])
    row("(R1) raw nng TLS, 64 KiB msgs, stream  MB/s", "%.1f" % raw["stream"]["mb_per_s"],
        "= %.0f events/s" % raw["stream"]["events_per_s"])
    row("     same, req/rep one in flight       MB/s", "%.1f" % raw["reqrep"]["mb_per_s"],
        "= %.0f events/s" % raw["reqrep"]["events_per_s"])
    row("(R2) raw LMDB apply, 1,000/txn, durable rec/s", "%.0f" % app["records_per_s"],
        "%.0f B per record" % app["bytes_per_record"])
    row("ratio (R) / slower of (R1, R2)", "%.3f" % r["ratio_catch_up_over_slower_baseline"],
        "target >= %g: %s" % (TARGET_RATIO, "met" if r["target_met"] else "MISSED"))
    if "ratio_catch_up_over_nng_raw_stream" in r:
        row("    (R) / (R1 stream), (R) / (R2)", "%.3f / %.3f" % (
            r["ratio_catch_up_over_nng_raw_stream"], r["ratio_catch_up_over_gw_apply_raw"]),
            "load average %s before (R)" % cu.get("loadavg_1m_before"))
    if "cpu_us_per_record" in app and cu.get("gateway_cpu_us_per_event") is not None:
        row("    CPU us per event: (R) gw+node / (R1) / (R2)", "%.2f / %.2f / %.2f" % (
            cu["gateway_cpu_us_per_event"] + (cu["node_cpu_us_per_event"] or 0),
            raw["cpu_us_per_event"], app["cpu_us_per_record"]),
            "(R2)'s CPU / (R)'s: %.3f" % (app["cpu_us_per_record"] / (
                cu["gateway_cpu_us_per_event"] + (cu["node_cpu_us_per_event"] or 0))))
    if cu.get("gateway_cpu_us_per_event") is not None:
        row("    CPU per event, gateway / node  us", "%.2f / %.2f" % (
            cu["gateway_cpu_us_per_event"], cu["node_cpu_us_per_event"] or 0))
    f = r.get("fleet")
    if f:
        row("(F) %d nodes x %s catch up at once  ev/s" % (f["nodes"], format(
            r["settings"]["fleet_n"], ",")), "%.0f" % f["events_per_s"],
            "%.1f s, %s events" % (f["seconds"], format(f["events"], ",")))
        row("    gateway peak RSS (VmHWM)  MB", "%.1f" % (f["gateway_VmHWM_kib"] / 1024))
    t = r.get("trickle")
    if t and t["p50_ms"] is not None:
        row("(T) %d nodes x %d ev/s%s: node->gw p50/p99 ms" % (
            t["nodes"], t["rate_per_node"], "" if t.get("arrivals", "periodic") == "periodic"
            else " " + t["arrivals"]),
            "%.1f / %.1f" % (t["p50_ms"], t["p99_ms"]),
            "p90 %.1f, mean %.1f; %s events; histogram, p99 in %s-%s ms"
            % (t["p90_ms"], t["mean_ms"], format(t["events_measured"], ","),
               t["p99_bucket_ms"][0], t["p99_bucket_ms"][1] or "inf"))
        row("    posts answered 201 / other; ev/s per node", "%s / %d" % (
            format(t["posted_201"], ","), t["post_other_status"] + sum(
                t["post_socket_errors"].values())), "%.2f per node (wrk + trickle.lua)"
            % (t["rate_achieved_per_node"] or 0))
        c = t.get("cpu_s", {})
        if "other_processes" in c:
            row("    CPU s meanwhile: gateway / nodes / wrk", "%.1f / %.1f / %.1f" % (
                c["gateway"], c["nodes"], c["wrk"]), "other processes %.1f of %d cores x %.0f s"
                % (c["other_processes"], c["cores"], c["wall"]))
        if c.get("gateway_us_per_event") is not None:
            row("    CPU per live event: gateway / node  us", "%.0f / %.0f" % (
                c["gateway_us_per_event"], c["nodes_us_per_event"]),
                "node: HTTP post, commit and replication")
    row("(d) 2,900 nodes", "skipped")
    print("  " + "-" * 76)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, out = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    b = Bench(build, out)
    for f in (b.node_bin, b.gw_bin, b.certs_bin, b.raw_apply, b.raw_nng):
        if not os.access(f, os.X_OK):
            print("bench: %s is missing (build first: make bench)" % f, file=sys.stderr)
            return 1
    r = b.run()
    path = save_results(out, "replication", r, "repl.json")
    report(r)
    print("  results: %s (key \"replication\")" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
