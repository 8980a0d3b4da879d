#!/usr/bin/env python3
"""directive_bench.py — directive fan-out (issue #13), run by bench/run.sh
after repl_bench.py. Python 3 standard library and the build's binaries.

  directive_bench.py BUILD_DIR OUT_DIR

Figures (docs/bench.md, "Directives (issue #13)"):
  44 county nodes (every Qinghai county) connected to one gateway over nng
  mutual TLS (hcp-certs PKI), all idle. The gateway's admin token (a
  supervisor) POSTs N directives of type `note` to "all" at RATE per second.
  No node knows the type `note`: each refuses it as `unknown_type` — in one
  writer transaction with its `directive` event, exactly as an applied entry
  (a `correction` targets one county, the case's own, so it cannot go to
  "all"). Refused and applied entries travel the same way both ways.

  node latency  per (directive, county): from the POST's 201 until that
                node's GET /v1/directives lists the entry (refused or applied).
                Each node is polled every POLL_MS (one thread, round-robin,
                keep-alive connections); the figure is the upper bound (the
                answer that first showed it); the lower bound (the start of
                the poll before) is kept in the JSON. The node's applied_at is
                in whole seconds, too coarse to use.
  gateway ack   per (directive, county): from the 201 until the gateway's
                GET /v1/directives shows the county applied/refused, i.e. the
                county's `directive` event replicated up and applied (polled
                every POLL_MS, the same way).
  all 44        per directive: until the last county shows it (node / gateway).
  CPU seconds   of the gateway, the 44 nodes, this script and the whole machine
                from the first POST until the last acknowledgement (the polls
                above included); and the gateway's CPU per second over IDLE_S
                idle seconds before (the 44 nodes' pings only).

The latency is bounded by the node's idle ping (node/sync.c): a directive
waits for each county's next ping. An idle node pings when its idle-round
count reaches SYNC_DPOLL_EVERY (2); a round is a SYNC_IDLE_MS (1,000 ms)
sleep, but the pong's own step counts as one, so the period is
SYNC_IDLE_MS x (SYNC_DPOLL_EVERY - 1) + a round trip, about 1 s (not the 2 s
docs/directives.md states). The constants are read from the source and
reported beside the figures.

Then the fleet (HCP_BENCH_DIR_FLEET_N, default 2,900 nodes, one bench_fleet
process: bench/fleet.c, bench/fleet.py's set-up): every node connected and
idle, pinging every HCP_BENCH_DIR_FLEET_PING (1) s as an idle hcp-node does;
HCP_BENCH_DIR_FLEET_ROUNDS (3) times, 5 s apart: "dwatch" (each simulated node
times the next entry it takes and the acknowledgement of its `directive`
event), one `note` directive to "all", and the gateway's GET
/v1/directives?type=note&limit=1 polled every 100 ms until its counts show
every county applied ("all applied at the gateway", an upper bound). Per
node: from the 201 until it took the entry (signature checked) and until its
acknowledging batch was acknowledged (bench_fleet's monotonic clock is this
script's time.monotonic()). HCP_BENCH_DIR_FLEET_N=0 skips the fleet.

Environment: HCP_BENCH_DIR_N (50 directives), HCP_BENCH_DIR_RATE (2 per
second), HCP_BENCH_DIR_POLL_MS (50). Adds "directives" to OUT_DIR/results.json
(the fleet under "fleet" in it) and prints a table. Targets are reported, never enforced: the script fails
only when something could not be measured.
"""
import http.client
import json
import os
import re
import resource
import shutil
import sys
import threading
import time

from repl_bench import (Bench, ROOT, cpu_seconds, env_int, machine_busy_seconds,
                        proc_status, req, save_results, say)

N = env_int("HCP_BENCH_DIR_N", 50)
FLEET_N = env_int("HCP_BENCH_DIR_FLEET_N", 2900)
FLEET_PING = env_int("HCP_BENCH_DIR_FLEET_PING", 1)
FLEET_ROUNDS = env_int("HCP_BENCH_DIR_FLEET_ROUNDS", 3)
RATE = max(0.1, float(os.environ.get("HCP_BENCH_DIR_RATE", "").strip() or 2))
POLL_S = env_int("HCP_BENCH_DIR_POLL_MS", 50) / 1000.0
TYPE = "note"
IDLE_S = 5.0  # the gateway's idle CPU is measured over this long first
CONVERGE_S = 30.0  # after the last POST, at most this long for the last ack


def sync_constants():
    """The node's idle timing from node/sync.c: {name: int}; empty if not found."""
    out = {}
    try:
        with open(os.path.join(ROOT, "node", "sync.c"), encoding="utf-8") as f:
            src = f.read()
    except OSError:
        return out
    for name in ("SYNC_IDLE_MS", "SYNC_DPOLL_EVERY", "SYNC_PING_EVERY"):
        m = re.search(r"#define\s+%s\s+(\d+)" % name, src)
        if m:
            out[name] = int(m.group(1))
    return out


def pct(xs, q):
    """The q quantile (0..1) of xs, nearest rank (no interpolation); None if empty."""
    if not xs:
        return None
    s = sorted(xs)
    i = max(0, min(len(s) - 1, int(-(-q * len(s) // 1)) - 1))
    return s[i]


def summary_ms(xs):
    r = {"n": len(xs)}
    for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)):
        v = pct(xs, q)
        r[name + "_ms"] = round(1000 * v, 1) if v is not None else None
    if xs:
        r["mean_ms"] = round(1000 * sum(xs) / len(xs), 1)
        r["min_ms"] = round(1000 * min(xs), 1)
    return r


class DirBench(Bench):
    def __init__(self, build, out):
        super().__init__(build, out)
        self.work = os.path.join(out, "work", "directives")
        self.pki = os.path.join(self.work, "pki")
        self.lock = threading.Lock()
        self.posted = {}  # seq -> monotonic time of the 201
        self.stop_flag = False
        self.post_errors = []

    # ---- the supervisor ----
    def poster(self, gw):
        conn = http.client.HTTPConnection("127.0.0.1", gw["hport"], timeout=30)
        t0 = time.monotonic()
        for i in range(N):
            due = t0 + i / RATE
            d = due - time.monotonic()
            if d > 0:
                time.sleep(d)
            body = json.dumps({"county": "all", "type": TYPE, "i": i,
                               "text": "基准测试通知 %d" % i}, ensure_ascii=False).encode()
            try:
                st, data = req(gw["hport"], "POST", "/v1/directives", gw["token"], body,
                               conn=conn)
            except OSError as e:
                self.post_errors.append(str(e))
                conn = http.client.HTTPConnection("127.0.0.1", gw["hport"], timeout=30)
                continue
            t = time.monotonic()
            if st != 201:
                self.post_errors.append("%d %s" % (st, data[:200]))
                continue
            with self.lock:
                self.posted[json.loads(data)["seq"]] = t
        conn.close()

    # ---- the gateway's view ----
    def gw_poller(self, gw, counties, seen, intervals):
        conn = http.client.HTTPConnection("127.0.0.1", gw["hport"], timeout=30)
        last = None
        while not self.stop_flag:
            t_start = time.monotonic()
            with self.lock:
                todo = sorted(s for s in self.posted if len(seen.get(s, {})) < len(counties))
            if todo:
                lo, hi = todo[0], todo[-1]
                st, data = req(gw["hport"], "GET", "/v1/directives?type=%s&limit=%d&before=%d"
                               % (TYPE, min(500, hi - lo + 1), hi + 1), gw["token"], conn=conn)
                t_end = time.monotonic()
                if st != 200:
                    raise RuntimeError("gateway GET /v1/directives: %d" % st)
                for d in json.loads(data)["directives"]:
                    s = d["seq"]
                    if s not in self.posted:
                        continue
                    got = seen.setdefault(s, {})
                    for c in d["counties"]:
                        if c["state"] in ("applied", "refused") and c["county"] not in got:
                            got[c["county"]] = (t_end, c["state"], c.get("why"))
                if last is not None:
                    intervals.append(t_start - last)
                last = t_start
            d = t_start + POLL_S - time.monotonic()
            time.sleep(d if d > 0 else 0)
        conn.close()

    # ---- the nodes' view ----
    def node_poller(self, nodes, seen, intervals):
        conns = {n["county"]: http.client.HTTPConnection("127.0.0.1", n["port"], timeout=30)
                 for n in nodes}
        prev = {n["county"]: None for n in nodes}  # start of the poll before
        while not self.stop_flag:
            t_round = time.monotonic()
            with self.lock:
                top = max(self.posted) if self.posted else 0
            for n in nodes:
                c = n["county"]
                if top == 0:
                    break
                t_start = time.monotonic()
                st, data = req(n["port"], "GET", "/v1/directives", n["token"], conn=conns[c])
                t_end = time.monotonic()
                if st != 200:
                    raise RuntimeError("node %s GET /v1/directives: %d" % (c, st))
                for d in json.loads(data)["directives"]:
                    s = d["seq"]
                    got = seen.setdefault(s, {})
                    if c not in got:
                        got[c] = (prev[c], t_end, d["state"], d.get("why"))
                if prev[c] is not None:
                    intervals.append(t_start - prev[c])
                prev[c] = t_start
            d = t_round + POLL_S - time.monotonic()
            time.sleep(d if d > 0 else 0)
        for c in conns.values():
            c.close()

    def posted_seqs(self):
        with self.lock:
            return list(self.posted)

    # ---- the run ----
    def run(self):
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        counties = [line.split("\t")[0] for line in open(os.path.join(ROOT, "data",
                                                                      "divisions.tsv"),
                                                         encoding="utf-8")
                    if line[:1].isdigit()]
        say("directives: PKI for the gateway and %d counties (hcp-certs)" % len(counties))
        self.make_pki(counties)
        sc = sync_constants()
        res = {"settings": {"directives": N, "rate_per_s": RATE, "poll_ms": POLL_S * 1000,
                            "type": TYPE, "target": "all", "nodes": len(counties),
                            "measured": "refused (unknown_type): one writer txn and a "
                                        "`directive` event per county, as an applied entry"},
               "node_sync": sc}
        if "SYNC_IDLE_MS" in sc and "SYNC_DPOLL_EVERY" in sc:
            # the pong's step is the first idle round (see the docstring)
            res["node_directive_ping_ms"] = sc["SYNC_IDLE_MS"] * max(1, sc["SYNC_DPOLL_EVERY"]
                                                                     - 1)
        try:
            gw = self.start_gateway("gw")
            t0 = time.monotonic()
            nodes = [self.start_node(c, "n-" + c, gw["port"],
                                     os.path.join(self.work, "n-%s.log" % c))
                     for c in counties]
            deadline = time.monotonic() + 60
            while True:
                down = [n["county"] for n in nodes if not self.node_sync(n).get("connected")]
                if not down:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("nodes not connected after 60 s: %s" % down)
                time.sleep(0.2)
            say("directives: %d nodes connected over mutual TLS in %.1f s; %d `%s` directives "
                "to all at %g/s, nodes and gateway polled every %d ms"
                % (len(nodes), time.monotonic() - t0, N, TYPE, RATE, POLL_S * 1000))
            time.sleep(3)  # every node idle, in its ping cycle
            # the gateway's idle cost (44 nodes pinging, nothing polled), to
            # tell the fan-out's CPU from the pings' and the polls'
            i0, it0 = cpu_seconds(gw["proc"].pid), time.monotonic()
            time.sleep(IDLE_S)
            res["gateway_cpu_idle_s_per_s"] = round((cpu_seconds(gw["proc"].pid) - i0) /
                                                    (time.monotonic() - it0), 4)
            node_seen, gw_seen, node_iv, gw_iv = {}, {}, [], []
            gw_cpu0 = cpu_seconds(gw["proc"].pid)
            nodes_cpu0 = [cpu_seconds(n["proc"].pid) for n in nodes]
            self0 = resource.getrusage(resource.RUSAGE_SELF)
            busy0, w0 = machine_busy_seconds(), time.monotonic()
            threads = [threading.Thread(target=self.node_poller, args=(nodes, node_seen, node_iv)),
                       threading.Thread(target=self.gw_poller,
                                        args=(gw, counties, gw_seen, gw_iv))]
            for t in threads:
                t.start()
            try:
                self.poster(gw)
                end = time.monotonic() + CONVERGE_S
                while time.monotonic() < end:
                    seqs = self.posted_seqs()
                    if all(len(gw_seen.get(s, {})) == len(counties) and
                           len(node_seen.get(s, {})) == len(counties) for s in seqs):
                        break
                    time.sleep(0.1)
            finally:
                self.stop_flag = True
                for t in threads:
                    t.join()
            busy1, w1 = machine_busy_seconds(), time.monotonic()
            self1 = resource.getrusage(resource.RUSAGE_SELF)
            gw_cpu1 = cpu_seconds(gw["proc"].pid)
            nodes_cpu1 = [cpu_seconds(n["proc"].pid) for n in nodes]
            gw_vm = proc_status(gw["proc"].pid)
            for n in nodes:  # the nodes first: see docs/directives.md "Not done yet"
                self.stop(n["proc"])
        finally:
            self.stop_all()

        seqs = sorted(self.posted)
        node_hi, node_lo, gw_lat, node_all, gw_all = [], [], [], [], []
        states = {}
        missing_node, missing_gw = 0, 0
        for s in seqs:
            t201 = self.posted[s]
            ns, gs = node_seen.get(s, {}), gw_seen.get(s, {})
            missing_node += len(counties) - len(ns)
            missing_gw += len(counties) - len(gs)
            for c, (lo, hi, st, why) in ns.items():
                node_hi.append(max(0.0, hi - t201))
                node_lo.append(max(0.0, (lo if lo is not None else t201) - t201))
                states[(st, why)] = states.get((st, why), 0) + 1
            for c, (t, st, why) in gs.items():
                gw_lat.append(max(0.0, t - t201))
            if len(ns) == len(counties):
                node_all.append(max(hi for _, hi, _, _ in ns.values()) - t201)
            if len(gs) == len(counties):
                gw_all.append(max(t for t, _, _ in gs.values()) - t201)
        wall = w1 - w0
        cpu = {"wall": round(wall, 2), "cores": os.cpu_count(),
               "gateway": round(gw_cpu1 - gw_cpu0, 2),
               "nodes": round(sum(b - a for a, b in zip(nodes_cpu0, nodes_cpu1)
                                  if a is not None and b is not None), 2),
               "bench_py": round(self1.ru_utime + self1.ru_stime - self0.ru_utime -
                                 self0.ru_stime, 2)}
        if busy0 is not None and busy1 is not None:
            cpu["machine_busy"] = round(busy1 - busy0, 2)
            cpu["other_processes"] = round(cpu["machine_busy"] - cpu["gateway"] - cpu["nodes"]
                                           - cpu["bench_py"], 2)
        res.update({
            "posted_201": len(seqs), "post_errors": self.post_errors[:10],
            "node_states": {"%s%s" % (st, " " + why if why else ""): k
                            for (st, why), k in sorted(states.items(), key=str)},
            "missing_at_nodes": missing_node, "missing_at_gateway": missing_gw,
            "node_latency": summary_ms(node_hi),
            "node_latency_lower_bound": summary_ms(node_lo),
            "gateway_ack_latency": summary_ms(gw_lat),
            "all_nodes": summary_ms(node_all),
            "all_acked_at_gateway": summary_ms(gw_all),
            "poll_interval_node": summary_ms(node_iv),
            "poll_interval_gateway": summary_ms(gw_iv),
            "cpu_s": cpu,
            "gateway_cpu_s_per_directive": round(cpu["gateway"] / len(seqs), 4) if seqs else None,
            "gateway_VmHWM_kib": gw_vm.get("VmHWM_kib")})
        if not seqs or missing_node or missing_gw:
            say("directives: %d posted, %d (directive, county) not seen at the nodes, %d not "
                "acknowledged at the gateway after %.0f s" % (len(seqs), missing_node, missing_gw,
                                                              CONVERGE_S))
        self.res = res
        return res


def report(r):
    def row(name, value, note=""):
        print("  %-44s %14s  %s" % (name, value, note))

    def four(s):
        return "%s / %s / %s / %s" % (s["p50_ms"], s["p90_ms"], s["p99_ms"], s["max_ms"])

    st = r["settings"]
    print()
    print("hcp directive fan-out (gateway -> %d nodes, nng mutual TLS)" % st["nodes"])
    print("  " + "-" * 76)
    row("%d `%s` to all at %g/s, 201s" % (st["directives"], st["type"], st["rate_per_s"]),
        str(r["posted_201"]), "node states: %s" % r["node_states"])
    row("node has it  p50/p90/p99/max ms", four(r["node_latency"]),
        "%d pairs; poll every %.0f ms (measured p50 %s)" % (
            r["node_latency"]["n"], st["poll_ms"], r["poll_interval_node"]["p50_ms"]))
    row("gateway ack  p50/p90/p99/max ms", four(r["gateway_ack_latency"]),
        "%d pairs" % r["gateway_ack_latency"]["n"])
    row("all %d nodes have it  p50/p99/max ms" % st["nodes"], "%s / %s / %s" % (
        r["all_nodes"]["p50_ms"], r["all_nodes"]["p99_ms"], r["all_nodes"]["max_ms"]))
    row("all %d acked at gateway p50/p99/max ms" % st["nodes"], "%s / %s / %s" % (
        r["all_acked_at_gateway"]["p50_ms"], r["all_acked_at_gateway"]["p99_ms"],
        r["all_acked_at_gateway"]["max_ms"]))
    c = r["cpu_s"]
    row("CPU s: gateway / nodes / this script", "%s / %s / %s" % (
        c["gateway"], c["nodes"], c["bench_py"]), "machine %s of %s cores x %.0f s" % (
        c.get("machine_busy"), c["cores"], c["wall"]))
    row("  gateway idle (pings only)  CPU s per s", str(r.get("gateway_cpu_idle_s_per_s")),
        "before the first POST; the run's CPU includes the polls")
    row("node's idle directive ping  ms", str(r.get("node_directive_ping_ms")),
        "node/sync.c SYNC_IDLE_MS x (SYNC_DPOLL_EVERY - 1)")
    print("  " + "-" * 76)
    fr = r.get("fleet")
    if not fr:
        return
    print()
    print("hcp directive fan-out to the fleet (%d simulated nodes in one process, one gateway)"
          % fr["settings"]["n"])
    print("  " + "-" * 76)
    row("connected (welcome + first ack)  s", str(fr.get("connect_all_s")),
        "ping every %s s" % fr["settings"]["ping_s"])
    for i, rd in enumerate(fr.get("rounds", [])):
        row("round %d: all applied at the gateway  ms" % (i + 1), str(rd.get("gateway_all_ms")),
            "seq %s; applied %s of %d" % (rd.get("seq"), rd.get("gateway_applied"),
                                          fr["settings"]["n"]))
        for name in ("node_took", "node_acked"):
            x = rd.get(name) or {}
            row("  %s p50/p99/max ms" % name, "%s / %s / %s" % (
                x.get("p50_ms"), x.get("p99_ms"), x.get("max_ms")), "%s nodes" % x.get("n"))
    row("gateway peak (VmHWM)  MB", "%.1f" % ((fr.get("gateway_VmHWM_kib") or 0) / 1024))
    row("CPU s per s idle: gateway / bench_fleet", "%s / %s" % (
        fr.get("cpu_s_per_s_idle", {}).get("gateway"),
        fr.get("cpu_s_per_s_idle", {}).get("bench_fleet")), "pings and batches only")
    c = fr.get("cpu_s_rounds", {})
    row("CPU s in the rounds: gateway / bench_fleet", "%s / %s" % (
        c.get("gateway"), c.get("bench_fleet")), "machine %s of %s cores x %s s" % (
        c.get("machine_busy"), c.get("cores"), c.get("wall")))
    row("bench_fleet errors by kind", json.dumps((fr.get("summary") or {}).get("errors", {})))
    print("  " + "-" * 76)


def fleet_run(build, out):
    """The fan-out to HCP_BENCH_DIR_FLEET_N simulated nodes (see the docstring)."""
    os.environ.setdefault("HCP_BENCH_FLEET_N", str(FLEET_N))
    import fleet as fl  # reads HCP_BENCH_FLEET_N when imported
    b = fl.Fleet(build, out)
    b.work = os.path.join(out, "work", "dir-fleet")
    b.pki = os.path.join(b.work, "pki")
    b.extra_args = ["--ping", str(FLEET_PING),
                    "--duration", str(fl.TIMEOUT + 60 + FLEET_ROUNDS * 70)]
    n = fl.N
    res = {"settings": {"n": n, "ping_s": FLEET_PING, "rounds": FLEET_ROUNDS, "type": TYPE,
                        "interval_s": fl.INTERVAL, "poll_gateway_ms": 100}, "rounds": []}

    def nth(name, k, secs):
        end = time.monotonic() + secs
        with b.cv:
            while True:
                got = [j for j in b.lines if j.get("event") == name]
                if len(got) >= k:
                    return got[k - 1]
                left = end - time.monotonic()
                if left <= 0 or b.fleet.poll() is not None:
                    return None
                b.cv.wait(min(left, 1.0))

    say("directives: fleet of %d nodes (bench_fleet, ping every %d s)" % (n, FLEET_PING))
    try:
        b.start()
        if nth("identities", 1, 300) is None:
            raise RuntimeError("bench_fleet made no identities (log: %s)" % b.fleet_err)
        conn = nth("connected", 1, fl.TIMEOUT)
        if conn is None:
            raise RuntimeError("the fleet did not connect within %d s" % fl.TIMEOUT)
        res["connect_all_s"] = round(conn["ack_all_s"], 2)
        say("directives: fleet connected in %.1f s" % conn["ack_all_s"])
        time.sleep(5)
        # CPU of the gateway and of bench_fleet: 5 idle s (pings and the
        # nodes' batches only), then the rounds
        pids = {"gateway": b.gw.pid, "bench_fleet": b.fleet.pid}
        c0, w0 = {k: cpu_seconds(p) or 0.0 for k, p in pids.items()}, time.monotonic()
        time.sleep(5)
        c1, w1 = {k: cpu_seconds(p) or 0.0 for k, p in pids.items()}, time.monotonic()
        res["cpu_s_per_s_idle"] = {k: round((c1[k] - c0[k]) / (w1 - w0), 3) for k in pids}
        busy0 = machine_busy_seconds()
        hc = http.client.HTTPConnection("127.0.0.1", b.hport, timeout=60)
        for r in range(FLEET_ROUNDS):
            b.command("dwatch")
            if nth("dwatching", r + 1, 30) is None:
                raise RuntimeError("bench_fleet did not arm its watch")
            body = json.dumps({"county": "all", "type": TYPE, "text": "舰队基准测试 %d" % r},
                              ensure_ascii=False).encode()
            st, data = req(b.hport, "POST", "/v1/directives", b.token, body, conn=hc)
            t201 = time.monotonic()
            if st != 201:
                raise RuntimeError("POST /v1/directives: %d %s" % (st, data[:200]))
            seq = json.loads(data)["seq"]
            rd = {"seq": seq, "gateway_all_ms": None, "gateway_applied": 0}
            end = t201 + 60
            while time.monotonic() < end:
                st, data = req(b.hport, "GET", "/v1/directives?type=%s&limit=1" % TYPE, b.token,
                               conn=hc)
                t = time.monotonic()
                ds = json.loads(data).get("directives", []) if st == 200 else []
                if ds and ds[0]["seq"] == seq:
                    c = ds[0]["counts"]
                    rd["gateway_applied"] = c["applied"]
                    rd["gateway_refused"] = c["refused"]
                    if c["applied"] + c["refused"] >= n:
                        rd["gateway_all_ms"] = round(1000 * (t - t201), 1)
                        break
                time.sleep(0.1)
            dap = nth("dapplied", r + 1, 30)
            if dap is not None:
                took = [x - t201 for x in dap["recv"] if x > 0]
                acked = [x - t201 for x in dap["ack"] if x > 0]
                rd["node_took"] = summary_ms(took)
                rd["node_acked"] = summary_ms(acked)
                rd["watched_seq"] = [dap["seq_min"], dap["seq_max"]]
            res["rounds"].append(rd)
            say("directives: fleet round %d: seq %d applied at all %d counties (gateway) after "
                "%s ms" % (r + 1, seq, n, rd["gateway_all_ms"]))
            time.sleep(5)
        hc.close()
        c2, w2, busy1 = {k: cpu_seconds(p) or 0.0 for k, p in pids.items()}, time.monotonic(), \
            machine_busy_seconds()
        res["cpu_s_rounds"] = dict({k: round(c2[k] - c1[k], 2) for k in pids},
                                   wall=round(w2 - w1, 2), cores=os.cpu_count())
        if busy0 is not None and busy1 is not None:
            res["cpu_s_rounds"]["machine_busy"] = round(busy1 - busy0, 2)
        b.command("stop")
        res["summary"] = nth("summary", 1, 120)
        b.sampler.stop.set()
        b.sampler.join()
        res["gateway_VmHWM_kib"] = b.sampler.peak.get("VmHWM")
    finally:
        for p in (getattr(b, "fleet", None),):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
        if getattr(b, "gw", None) is not None:
            b.stop()
    return res


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, out = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    b = DirBench(build, out)
    for f in (b.node_bin, b.gw_bin, b.certs_bin):
        if not os.access(f, os.X_OK):
            print("bench: %s is missing (build first: make bench)" % f, file=sys.stderr)
            return 1
    r = b.run()
    if FLEET_N > 0 and not (not r["posted_201"] or r["missing_at_nodes"]
                            or r["missing_at_gateway"]):
        r["fleet"] = fleet_run(build, out)
    path = save_results(out, "directives", r, "directives.json")
    report(r)
    print("  results: %s (key \"directives\")" % path)
    if not r["posted_201"] or r["missing_at_nodes"] or r["missing_at_gateway"]:
        return 1
    rounds = (r.get("fleet") or {}).get("rounds", [])
    if FLEET_N > 0 and (not rounds or any(rd.get("gateway_all_ms") is None for rd in rounds)):
        return 1  # not every county applied within 60 s: not measured
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
