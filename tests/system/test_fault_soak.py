#!/usr/bin/env python3
"""test_fault_soak.py — the federation under every fault at once (issue #10's
"fault" label; docs/faults.md).

Usage: test_fault_soak.py PATH/TO/hcp-node PATH/TO/hcp-gateway PATH/TO/hcp-certs

Real processes on loopback: one hcp-gateway with real mutual-TLS certificates
(hcp-certs) and three county nodes, each dialing the gateway through its own
cutting proxy (hcpfaults.Proxy). One writer thread per node posts
evaluations (ratings 1..5), complaints and handling steps through the node's
HTTP API and records every acknowledged write (201 / 200). Phases:

  1. soak: SIGKILLs of the gateway and of the nodes at random moments under
     load (each restarted at once: the gateway on the same ports and data,
     a node on the same data), while the proxies cut connections at random
     moments and byte positions; until >= HCP_FAULT_KILLS kills (100) and
     >= HCP_FAULT_CUTS cuts (100). Then every county converges.
  2. full disk at the gateway: its data directory is on a tmpfs, shrunk
     (`mount -o remount,size=`) to just above what it holds while the
     writers post long texts; then room is given back and the same gateway
     process must catch up by itself.
  3. full disk at a node (the third county's store on its own tmpfs): its
     writes are refused 503 storage_full (unacknowledged), then room is given
     back and the same node process must take writes again and catch up.
  4. lost gateway: the gateway is stopped, its data directory deleted, and a
     fresh gateway started on the same ports and certificates while the
     counties keep writing; it is rebuilt from the counties' logs.
  5. final check: every acknowledged write is present exactly once at its
     node and at the gateway (case lists, evaluation numbers, steps in the
     cases' event lists), every county's applied == its log head with equal
     head hashes, `hcp-node verify` passes on every stopped node with the
     gateway's head hash, and all daemons stop with exit 0.

One line starting "fault soak summary:" gives the counts. Phases 2 and 3
need root (mount); without it, or with HCP_FAULT_SKIP_DISK=1, they are
skipped (said in the summary); HCP_FAULT_SKIP_DISK=gateway (or node) skips
only that one. As root the script re-executes itself in a
private mount namespace (unshare), so its mounts vanish with it.

Like test_repl_faults.py, a daemon that finds nng 1.5.2 wedged restarts
itself in place (docs/replication.md, "Reconnects"); a county that still does
not converge within 150 s is restarted as a supervisor would and said
loudly (NOT CONVERGED), and counted in the summary. In the disk phases no
such help is given: the daemon must resume by itself.

Environment: HCP_FAULT_SEED (random choices; printed), HCP_FAULT_KILLS,
HCP_FAULT_CUTS, HCP_FAULT_SKIP_DISK=1|gateway|node, HCP_FAULT_KEEP=1 (keep the temporary
directory). Python 3 standard library only.
"""
import http.client
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import hcptest
from hcpfaults import Proxy, list_ids, verify
from hcptest import Client, Gateway, Node, tail, wait_until

COUNTIES = ("630102", "630103", "630104")  # the last one's store is on a tmpfs
KILLS = int(os.environ.get("HCP_FAULT_KILLS", "100"))
CUTS = int(os.environ.get("HCP_FAULT_CUTS", "100"))
# HCP_FAULT_SKIP_DISK: 1 (or all) skips both disk phases, "gateway" or "node" one
SKIP_DISK_ENV = os.environ.get("HCP_FAULT_SKIP_DISK", "").strip().lower()
SKIP_DISK = SKIP_DISK_ENV not in ("", "0", "gateway", "node")
SKIP_DISK_ONLY = SKIP_DISK_ENV if SKIP_DISK_ENV in ("gateway", "node") else ""
SEED = int(os.environ.get("HCP_FAULT_SEED", "0")) or random.randrange(1, 1 << 30)
RNG = random.Random(SEED)
SOAK_LIMIT = 300.0  # seconds phase 1 may take to reach its counts
CONVERGE = 150.0  # as test_repl_faults.py: backoff, watchdog, a canary restart
FILLER = "filler"  # a file taking a tmpfs's last bytes (full-disk phases)
GW_TMPFS_KB = 512 * 1024
NODE_TMPFS_KB = 256 * 1024
T0 = time.monotonic()

VERIFIER = {"name": "核实人", "phone": "13700000002"}
STEPS = (("verify_start", {"type": "verify_start", "verifier": VERIFIER}),
         ("verify_conclude", {"type": "verify_conclude", "outcome": "unsubstantiated"}),
         ("feedback", {"type": "feedback", "via": "sms", "text": "经核实不属实"}))
LONG = "，窗口办理等候时间较长" * 240  # ~8 KB of UTF-8: fills a small disk fast


class Failure(Exception):
    pass


say = hcptest.sayer("soak", T0)


# ---- the writers ----

class Writer(threading.Thread):
    """Posts to one node until stopped: evaluations (ratings 1..5; 1 and 2
    open a review case), complaints, and handling steps on the cases it
    opened. Records what the node acknowledged: evaluation numbers, case ids,
    (case id, step type). A connection error or a 503 is an unacknowledged
    write (the node was killed, is restarting, or its disk is full): nothing
    is recorded and the writer goes on with a new request."""

    def __init__(self, node, rng):
        super().__init__(daemon=True)
        self.node = node
        self.rng = rng
        self.mu = threading.Lock()
        self.stop_ev = threading.Event()
        self.pause_ev = threading.Event()
        self.idle_ev = threading.Event()
        self.long = False  # long contents (the disk phases)
        self.pause_s = 0.01
        self.evals = {}  # evaluation number -> case id or None
        self.cases = {}  # case id -> kind
        self.steps = []  # (case id, step type)
        self.pool = {}  # case id -> index of its next step in STEPS
        self.twice = []  # an evaluation number or case id acknowledged twice
        self.errors = 0  # connection errors
        self.full = 0  # 503 storage_full
        self.unavailable = 0  # other 503s
        self.refused_steps = 0  # 409/422 to a step (an earlier one committed unanswered)
        self.other = {}  # unexpected statuses -> count
        self.n = 0

    def acked(self):
        with self.mu:
            return len(self.evals) + sum(1 for k in self.cases.values()
                                         if k == "complaint") + len(self.steps)

    def pause(self):
        """Stop posting and wait until the request in flight is answered."""
        self.idle_ev.clear()
        self.pause_ev.set()
        if self.is_alive() and not self.idle_ev.wait(60):
            raise Failure("writer of %s did not pause within 60 s" % self.node.county)

    def resume(self):
        self.pause_ev.clear()

    def finish(self):
        self.stop_ev.set()
        self.pause_ev.clear()
        self.join(60)

    def run(self):
        cl = Client(self.node, timeout=10)
        while not self.stop_ev.is_set():
            if self.pause_ev.is_set():
                cl.close()
                self.idle_ev.set()
                time.sleep(0.02)
                continue
            try:
                self.one(cl)
            except (OSError, http.client.HTTPException):
                self.errors += 1
                time.sleep(0.05)
                continue
            if self.pause_s:
                time.sleep(self.pause_s)
        cl.close()

    def text(self, what):
        self.n += 1
        t = "%s 故障浸泡%s %d" % (self.node.county, what, self.n)
        return t + LONG if self.long else t

    def one(self, cl):
        r = self.rng.random()
        with self.mu:
            pool = list(self.pool.items()) if r < 0.3 else None
        if pool:
            cid, idx = self.rng.choice(pool)
            typ, body = STEPS[idx]
            st, j = cl.request("POST", "/v1/cases/%s/events" % cid, body)
            with self.mu:
                if st == 200:
                    self.steps.append((cid, typ))
                    if idx + 1 < len(STEPS):
                        self.pool[cid] = idx + 1
                    else:
                        del self.pool[cid]
                elif st in (409, 422):
                    self.refused_steps += 1
                    self.pool.pop(cid, None)
                else:
                    self.status(st, j)
            return
        if r < 0.5:
            body = hcptest.case_body(content=self.text("投诉"))
            st, j = cl.request("POST", "/v1/cases", body)
            with self.mu:
                if st == 201 and isinstance(j, dict) and isinstance(j.get("id"), str):
                    self.case(j["id"], "complaint")
                else:
                    self.status(st, j)
            return
        rating = self.rng.randint(1, 5)
        body = hcptest.evaluation(rating, content=self.text("评价"))
        st, j = cl.request("POST", "/v1/evaluations", body)
        with self.mu:
            if st == 201 and isinstance(j, dict) and isinstance(j.get("evaluation"), int):
                no = j["evaluation"]
                if no in self.evals:
                    self.twice.append("evaluation %d" % no)
                self.evals[no] = j.get("case")
                if j.get("case"):
                    self.case(j["case"], "review")
            else:
                self.status(st, j)

    def case(self, cid, kind):
        """A case acknowledged (mu held)."""
        if cid in self.cases:
            self.twice.append("case %s" % cid)
        self.cases[cid] = kind
        self.pool[cid] = 0

    def status(self, st, j):
        """Any answer but an acknowledgement (mu held)."""
        if st == 503:
            if isinstance(j, dict) and j.get("error") == "storage_full":
                self.full += 1
            else:
                self.unavailable += 1
        else:
            self.other[st] = self.other.get(st, 0) + 1
            if len(self.other) == 1 and self.other[st] == 1:
                say("%s: unexpected answer %d %r", self.node.county, st, str(j)[:300])


def log_ids(text):
    """The warn/error lines of a daemon's log, counted by id (a summary)."""
    out = {}
    for line in text.splitlines():
        if "level=warn" in line or "level=error" in line:
            k = ([w for w in line.split() if w.startswith("id=")] or ["?"])[0]
            err = [w for w in line.split() if w.startswith("err=")]
            k += (" " + err[0][:40]) if err else ""
            out[k] = out.get(k, 0) + 1
    return out or "nothing"


def steady(fn, what, deadline=120.0):
    """fn() retried while its daemon is away: a daemon that finds nng wedged
    restarts itself in place (docs/replication.md), refusing connections or
    answering 503 for a few seconds; the same call then succeeds."""
    end = time.monotonic() + deadline
    while True:
        try:
            return fn()
        except (OSError, AssertionError, http.client.HTTPException, ValueError) as e:
            if time.monotonic() >= end:
                raise Failure("%s: still failing after %.0f s: %r" % (what, deadline, e))
            time.sleep(0.5)


# ---- tmpfs ----

def mount_tmpfs(path, kb):
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dk,mode=0700" % kb, "hcpfault",
                        path], capture_output=True, text=True)
    return p.returncode == 0, (p.stdout + p.stderr).strip()


def remount(path, kb):
    p = subprocess.run(["mount", "-o", "remount,size=%dk" % kb, path], capture_output=True,
                       text=True)
    return p.returncode == 0, (p.stdout + p.stderr).strip()


def used_kb(path):
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize // 1024


def shrink(path):
    """Shrink the tmpfs at path to a little above what it holds, then fill
    what is left with a file (FILLER, removed when room is given back): the
    disk is then full to the last byte, so a daemon's next write that needs
    a new block fails at once with ENOSPC (a write cut short by the disk
    filling up shows as EIO in LMDB). Returns the size in KiB."""
    used = used_kb(path)
    for margin in (256, 512, 1024, 2048, 4096):
        ok, err = remount(path, used + margin)
        if ok:
            break
        used = used_kb(path)
    else:
        raise Failure("cannot shrink the tmpfs at %s: %s" % (path, err))
    fd = os.open(os.path.join(path, FILLER), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in (65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    return used + margin


def give_back(path, kb):
    """Room given back: the filler removed and the tmpfs grown to kb KiB."""
    try:
        os.unlink(os.path.join(path, FILLER))
    except FileNotFoundError:
        pass
    return remount(path, kb)


# ---- the soak ----

class Soak:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="hcp-faultsoak-")
        self.pki = os.path.join(self.tmp, "pki")
        self.procs = []
        self.proxies = []
        self.writers = []
        self.nodes = []
        self.gw = None
        self.mounts = []
        self.kills = {"gateway": 0, "node": 0}
        self.supervisor = 0  # restarts the test made because a county never converged
        self.disk = "skipped"
        self.rebuilt = None

    # ---- processes ----
    def gw_args(self, url, county):
        return ["--gateway", url] + hcptest.node_tls_args(self.pki, county)

    def setup(self):
        hcptest.make_pki(self.pki, COUNTIES)
        gdir = os.path.join(self.tmp, "gateway")
        os.mkdir(gdir)
        self.gw_mount = os.path.join(self.tmp, "gateway-disk")
        self.node_mount = os.path.join(self.tmp, "node-disk")
        if SKIP_DISK:
            self.disk = "skipped (HCP_FAULT_SKIP_DISK)"
        elif os.geteuid() != 0:
            self.disk = "skipped (not root: no tmpfs)"
        else:
            for path, kb in ((self.gw_mount, GW_TMPFS_KB), (self.node_mount, NODE_TMPFS_KB)):
                ok, err = mount_tmpfs(path, kb)
                if not ok:
                    self.disk = "skipped (mount: %s)" % err
                    break
                self.mounts.append(path)
            if len(self.mounts) == 2:
                self.disk = "pending"
        g = Gateway(hcptest.path("hcp-gateway"), tmp=gdir, args=hcptest.gateway_tls_args(self.pki))
        if self.disk == "pending":
            g.data = os.path.join(self.gw_mount, "data")
        self.procs.append(g)
        g.start()
        self.gw = g
        say("gateway up: replication %s, http %d, data %s", g.url, g.port, g.data)
        for i, c in enumerate(COUNTIES):
            proxy = Proxy(g.repl_port, random.Random(RNG.random())).start()
            self.proxies.append(proxy)
            ndir = os.path.join(self.tmp, "node-" + c)
            os.mkdir(ndir)
            data = None
            if self.disk == "pending" and i == len(COUNTIES) - 1:
                data = os.path.join(self.node_mount, "data")
            n = Node(county=c, tmp=ndir, data=data,
                     args=["--sweep-interval", "86400"] +
                     self.gw_args("tls+tcp://127.0.0.1:%d" % proxy.port, c))
            self.procs.append(n)
            n.start()
            self.nodes.append(n)
        for n in self.nodes:  # a new store beside a gateway takes writes after first contact
            wait_until(lambda: (self.sync(n).get("connected") is True, self.sync(n)), 60.0,
                       "node %s to reach the gateway" % n.county, interval=0.1)
        for n in self.nodes:
            w = Writer(n, random.Random(RNG.random()))
            self.writers.append(w)
            w.start()
        say("%d nodes up and connected through their proxies; writers started", len(self.nodes))

    def sync(self, node):
        r = node.get("/v1/sync", timeout=5)
        if r.status != 200:
            raise Failure("node %s /v1/sync: %r" % (node.county, r))
        return r.json()

    def cuts(self):
        total = 0
        for p in self.proxies:
            with p.mu:
                total += p.cuts
        return total

    def chaos(self, on):
        for p in self.proxies:
            with p.mu:
                p.chaos = on

    def check_alive(self, what):
        """A daemon that exited by itself (a crash) is a defect."""
        for p in [self.gw] + self.nodes:
            if not p.alive():
                who = "gateway" if p is self.gw else "node %s" % p.county
                err = p.stderr()
                grows = [ln for ln in err.splitlines() if "id=store.grow" in ln]
                raise Failure("%s: %s exited by itself (exit %r); its log: %d store.grow%s, "
                              "warnings and errors %s; log tail:\n%s"
                              % (what, who, p.proc.poll(), len(grows),
                                 " (last: %s)" % grows[-1][-40:] if grows else "",
                                 log_ids(err), tail(err, 2500)))

    # ---- convergence ----
    def converged(self, node):
        """(done, detail): the gateway holds node's whole log."""
        try:
            r = node.get("/v1/sync", timeout=5)
            if r.status != 200:
                return False, "node %s /v1/sync: %r" % (node.county, r)
            s = r.json()
            row = self.gw.counties().get(node.county)
        except (OSError, AssertionError) as e:  # restarting in place
            return False, "restarting? %r" % e
        head = s["log_head"]
        ok = (row is not None and row.get("state") == "ok" and row.get("lag") == 0 and
              row.get("applied") == head and row.get("log_head") == head and
              s["connected"] is True and s["acked"] == head and head >= 1)
        return ok, "node %s /v1/sync %r\ngateway row %r" % (node.county, s, row)

    def wait_all(self, deadline, supervisor=True, what="converge"):
        """Pause the writers and wait until every county is fully at the
        gateway. With supervisor, a county that does not get there in time
        is restarted as test_repl_faults.py does (nng 1.5.2 wedge); without,
        it is a failure (the disk phases: each daemon must resume alone)."""
        for w in self.writers:
            w.pause()
        t = time.monotonic()
        for n in self.nodes:
            def probe(n=n):
                self.check_alive(what)
                return self.converged(n)
            try:
                wait_until(probe, max(5.0, deadline - (time.monotonic() - t)),
                           "county %s at the gateway (%s)" % (n.county, what), interval=0.2)
                continue
            except AssertionError as e:
                if not supervisor:
                    raise Failure("%s: %s\nnode log tail:\n%s\ngateway log tail:\n%s"
                                  % (what, e, tail(n.stderr(), 2000), tail(self.gw.stderr(),
                                                                            2500)))
                say("NOT CONVERGED in %.0f s, node %s restarted (nng 1.5.2 wedge?): %s",
                    deadline, n.county, e)
                say("node log tail:\n%s", tail(n.stderr(), 1500))
            self.supervisor += 1
            n.kill()
            n.start()
            try:
                wait_until(lambda: self.converged(n), 30.0, "county %s after a node restart"
                           % n.county, interval=0.2)
            except AssertionError as e2:
                say("NOT CONVERGED with a new node, gateway restarted too: %s", e2)
                say("gateway log tail:\n%s", tail(self.gw.stderr(), 1500))
                self.supervisor += 1
                self.gw.kill()
                self.gw.restart_same_ports(30.0)
                wait_until(lambda: self.converged(n), 90.0, "county %s after a gateway restart"
                           % n.county, interval=0.2)
        say("%s: every county at the gateway after %.1f s", what, time.monotonic() - t)

    def resume(self):
        for w in self.writers:
            w.resume()

    # ---- 1 ----
    def soak(self):
        self.chaos(True)
        t = time.monotonic()
        k = 0
        while sum(self.kills.values()) < KILLS or self.cuts() < CUTS:
            if time.monotonic() - t > SOAK_LIMIT:
                raise Failure("soak: %d kills and %d cuts in %.0f s (want %d and %d)"
                              % (sum(self.kills.values()), self.cuts(), SOAK_LIMIT, KILLS, CUTS))
            time.sleep(RNG.uniform(0.1, 0.8))
            self.check_alive("soak")
            k += 1
            if RNG.random() < 0.3:
                self.gw.kill()  # SIGKILL
                self.kills["gateway"] += 1
                self.gw.restart_same_ports(30.0)
            else:
                n = RNG.choice(self.nodes)
                n.kill()  # SIGKILL
                self.kills["node"] += 1
                n.start(30.0)
            if k % 20 == 0:
                say("soak: %d kills (gateway %d, nodes %d), %d cuts, %d writes acknowledged",
                    k, self.kills["gateway"], self.kills["node"], self.cuts(),
                    sum(w.acked() for w in self.writers))
        self.chaos(False)
        say("soak done in %.1f s: %d kills (gateway %d, nodes %d), %d cuts, %d connections",
            time.monotonic() - t, sum(self.kills.values()), self.kills["gateway"],
            self.kills["node"], self.cuts(), sum(p.conns for p in self.proxies))
        self.wait_all(CONVERGE, what="after the soak")
        self.resume()

    # ---- 2, 3 ----
    def applied(self):
        rows = self.gw.counties()
        return sum((rows.get(n.county) or {}).get("applied", 0) for n in self.nodes)

    def disk_gateway(self):
        for w in self.writers:
            w.long = True
        time.sleep(1.0)
        mark = len(self.gw.stderr())
        size = shrink(self.gw_mount)
        say("gateway disk: tmpfs shrunk to %d KiB (%d KiB used)", size, used_kb(self.gw_mount))
        last, same_since, t = -1, time.monotonic(), time.monotonic()
        stalled = False
        while time.monotonic() - t < 40.0:
            time.sleep(0.5)
            self.check_alive("gateway disk full")
            try:
                a = self.applied()
            except (OSError, AssertionError) as e:
                say("gateway disk full: /v1/counties failed: %r", e)
                continue
            if a != last:
                last, same_since = a, time.monotonic()
            elif time.monotonic() - same_since >= 5.0:
                stalled = True
                break
        acked_full = sum(w.acked() for w in self.writers)
        err = self.gw.stderr()
        say("gateway disk full: applied %s%s; %d writes acknowledged by the nodes so far; "
            "gateway log: %d store.grow, last %s", last,
            " and stalled for 5 s" if stalled else " (never stalled in 40 s)", acked_full,
            err.count("store.grow"), ([ln for ln in err.splitlines() if "store.grow" in ln]
                                      or ["-"])[-1][:200])
        if not stalled:
            raise Failure("the gateway's disk never filled (applied kept growing): "
                          "the phase tested nothing")
        time.sleep(3.0)  # keep it full a little longer, writers still posting
        say("gateway disk full: its log meanwhile: %s", log_ids(self.gw.stderr()[mark:]))
        self.check_alive("gateway disk full")
        for w in self.writers:
            w.long = False
        pid = self.gw.proc.pid
        ok, err = give_back(self.gw_mount, GW_TMPFS_KB)
        if not ok:
            raise Failure("remount of the gateway's tmpfs: %s" % err)
        say("gateway disk: room given back (%d KiB)", GW_TMPFS_KB)
        self.wait_all(120.0, supervisor=False, what="gateway disk given back")
        if self.gw.proc.pid != pid:
            raise Failure("the gateway was restarted during the disk phase")
        self.resume()

    def disk_node(self):
        n, w = self.nodes[-1], self.writers[-1]
        w.long = True
        time.sleep(0.5)
        full0 = w.full
        size = shrink(self.node_mount)
        say("node %s disk: tmpfs shrunk to %d KiB", n.county, size)
        t = time.monotonic()
        while w.full - full0 < 5 and time.monotonic() - t < 40.0:
            time.sleep(0.2)
            self.check_alive("node disk full")
        if w.full - full0 < 5:
            raise Failure("node %s: no 503 storage_full within 40 s of a full disk (%d)"
                          % (n.county, w.full - full0))
        time.sleep(2.0)
        self.check_alive("node disk full")
        say("node %s disk full: %d writes answered 503 storage_full", n.county, w.full - full0)
        w.long = False
        pid = n.proc.pid
        before = w.acked()
        ok, err = give_back(self.node_mount, NODE_TMPFS_KB)
        if not ok:
            raise Failure("remount of the node's tmpfs: %s" % err)
        wait_until(lambda: (w.acked() >= before + 5, w.acked() - before), 60.0,
                   "node %s to take writes again once room was given back" % n.county)
        say("node %s disk: room given back, writes acknowledged again", n.county)
        self.wait_all(120.0, supervisor=False, what="node disk given back")
        if n.proc.pid != pid:
            raise Failure("node %s was restarted during the disk phase" % n.county)
        self.resume()

    # ---- 4 ----
    def lost_gateway(self):
        time.sleep(1.0)
        code = self.gw.stop(signal.SIGTERM, timeout=30)
        if code != 0:
            raise Failure("gateway exit %r at SIGTERM; log tail:\n%s"
                          % (code, tail(self.gw.stderr(), 2000)))
        shutil.rmtree(self.gw.data)
        before = sum(w.acked() for w in self.writers)
        say("lost gateway: stopped, %s deleted; counties keep writing", self.gw.data)
        time.sleep(3.0)
        self.gw.restart_same_ports(30.0)
        t = time.monotonic()
        rows = self.gw.counties()
        if any(r.get("applied", 0) > 0 for r in rows.values()):
            raise Failure("the fresh gateway is not empty: %r" % rows)
        offline = sum(w.acked() for w in self.writers) - before
        say("lost gateway: a fresh gateway on the same ports (%d writes acknowledged meanwhile)",
            offline)
        if offline < 5:
            raise Failure("the counties barely wrote while the gateway was away (%d)" % offline)
        time.sleep(3.0)  # the counties write on while it rebuilds
        self.wait_all(CONVERGE, what="lost gateway rebuilt")
        self.rebuilt = (self.applied(), time.monotonic() - t)
        self.resume()

    # ---- 5 ----
    def final(self):
        for w in self.writers:
            w.finish()
        self.wait_all(CONVERGE, what="final")
        lost, dup, problems = [], [], []
        steps_checked = 0
        for n, w in zip(self.nodes, self.writers):
            c = n.county
            nids = steady(lambda: list_ids(n, c), "case list at node %s" % c)
            gids = steady(lambda: list_ids(self.gw, c), "case list of %s at the gateway" % c)
            dup += ["%s twice at the node" % x for x in sorted(set(nids)) if nids.count(x) > 1]
            dup += ["%s twice at the gateway" % x for x in sorted(set(gids)) if gids.count(x) > 1]
            dup += w.twice
            sn, sg = set(nids), set(gids)
            lost += ["%s missing at the node" % x for x in sorted(set(w.cases) - sn)]
            lost += ["%s missing at the gateway" % x for x in sorted(set(w.cases) - sg)]
            if sn != sg:
                problems.append("county %s: case lists differ (only at node %s, only at gateway "
                                "%s)" % (c, sorted(sn - sg)[:5], sorted(sg - sn)[:5]))
            m = steady(n.metrics, "node %s /metrics" % c)
            total = int(m.get("hcp_node_evaluations_total", -1))
            top = max(w.evals) if w.evals else 0
            if total < top:
                lost.append("county %s: evaluation %d acknowledged, the node counts %d"
                            % (c, top, total))
            bycase = {}
            for cid, typ in w.steps:
                bycase.setdefault(cid, []).append(typ)
            for cid, typs in sorted(bycase.items()):
                rn, rg = steady(lambda: self.read(n, cid), "case %s at the node" % cid), \
                    steady(lambda: self.read(self.gw, cid), "case %s at the gateway" % cid)
                if rn.status != 200 or rg.status != 200:
                    lost.append("case %s: node %d, gateway %d" % (cid, rn.status, rg.status))
                    continue
                en = [(e["seq"], e["type"]) for e in rn.json().get("events", [])]
                eg = [(e["seq"], e["type"]) for e in rg.json().get("events", [])]
                if en != eg:
                    problems.append("case %s: events differ: node %r gateway %r" % (cid, en, eg))
                for typ in typs:
                    steps_checked += 1
                    for who, evs in (("node", en), ("gateway", eg)):
                        k = sum(1 for _, t in evs if t == typ)
                        if k == 0:
                            lost.append("step %s of %s missing at the %s" % (typ, cid, who))
                        elif k > 1:
                            dup.append("step %s of %s %d times at the %s" % (typ, cid, k, who))
            other = {}
            for k, v in w.other.items():
                other[k] = other.get(k, 0) + v
            if other:
                problems.append("county %s: unexpected answers %r" % (c, other))
        # reads above may have logged accesses: converge once more, then stop and verify
        self.wait_all(CONVERGE, what="after the read-back")
        rows = steady(self.gw.counties, "gateway /v1/counties")
        for n in self.nodes:
            code = n.stop(signal.SIGTERM, timeout=30)
            if code != 0:
                problems.append("node %s exit %r at SIGTERM" % (n.county, code))
                continue
            head, h = verify(n.data)
            row = rows[n.county]
            if row["applied"] != head or str(row["head_hash"]).lower() != h:
                problems.append("county %s: gateway applied %r hash %r, node verify head %d "
                                "hash %s" % (n.county, row["applied"], row["head_hash"], head, h))
        code = self.gw.stop(signal.SIGTERM, timeout=30)
        if code != 0:
            problems.append("gateway exit %r at SIGTERM" % code)
        return lost, dup, problems, steps_checked

    @staticmethod
    def read(proc, cid):
        """GET /v1/cases/ID; a 503 (restarting in place) raises to be retried."""
        r = proc.get("/v1/cases/" + cid)
        if r.status == 503:
            raise AssertionError("503 from %s" % proc.port)
        return r

    def restarts_in_place(self):
        """How many times the daemons restarted themselves in place (nng
        wedged, docs/replication.md); their log lines are printed."""
        total = 0
        for p in self.procs:
            who = "gateway" if p is self.gw else "node %s" % p.county
            for line in p.stderr().splitlines():
                if any(k in line for k in ("process.restart", "close_stuck", "canary_failed",
                                           "canary_stuck")):
                    say("%s: %s", who, line)
                total += line.count("process.restart ")
        return total

    def cleanup(self):
        for w in self.writers:
            w.stop_ev.set()
            w.pause_ev.clear()
        for p in self.proxies:
            p.close()
        for p in self.procs:
            try:
                p.kill()
            except Exception as e:  # keep killing the others
                say("kill: %r", e)
        for path in self.mounts:
            subprocess.run(["umount", "-l", path], capture_output=True)
        if os.environ.get("HCP_FAULT_KEEP"):
            say("kept %s (HCP_FAULT_KEEP)", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    if len(args) != 3:
        sys.exit("usage: test_fault_soak.py hcp-node hcp-gateway hcp-certs")
    hcptest.BINARY = os.path.abspath(args[0])
    hcptest.PATHS["hcp-gateway"] = os.path.abspath(args[1])
    hcptest.PATHS["hcp-certs"] = os.path.abspath(args[2])
    for what, path in (("hcp-node", hcptest.BINARY), ("hcp-gateway", hcptest.path("hcp-gateway")),
                       ("hcp-certs", hcptest.path("hcp-certs"))):
        if not os.access(path, os.X_OK):
            sys.exit("%s not executable: %r" % (what, path))
    # as root, run in a private mount namespace: the tmpfs mounts go with us
    if (os.geteuid() == 0 and not SKIP_DISK and not os.environ.get("HCP_FAULT_UNSHARED") and
            shutil.which("unshare") and
            subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0):
        os.environ["HCP_FAULT_UNSHARED"] = "1"
        os.environ["HCP_FAULT_SEED"] = str(SEED)
        sys.stdout.flush()
        os.execvp("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable,
                              os.path.abspath(__file__)] + [os.path.abspath(a) for a in args])
    say("seed %d (HCP_FAULT_SEED to repeat); %d kills, %d cuts wanted", SEED, KILLS, CUTS)
    s = Soak()
    ok, lost, dup, problems, steps_checked = False, [], [], [], 0
    try:
        s.setup()
        s.soak()
        if s.disk == "pending":
            done = []
            if SKIP_DISK_ONLY != "gateway":
                s.disk_gateway()
                done.append("gateway")
            if SKIP_DISK_ONLY != "node":
                s.disk_node()
                done.append("node")
            s.disk = "%s filled and given room back, resumed by %s%s" % (
                " and ".join(done), "itself" if len(done) == 1 else "themselves",
                " (%s skipped: HCP_FAULT_SKIP_DISK)" % SKIP_DISK_ONLY if SKIP_DISK_ONLY else "")
        s.lost_gateway()
        lost, dup, problems, steps_checked = s.final()
        ok = not lost and not dup and not problems
    except Failure as e:
        problems.append(str(e))
    except AssertionError as e:
        problems.append("assertion: %s" % e)
    finally:
        acked = {"evaluations": 0, "complaints": 0, "steps": 0}
        other = {}
        for w in s.writers:
            with w.mu:
                acked["evaluations"] += len(w.evals)
                acked["complaints"] += sum(1 for k in w.cases.values() if k == "complaint")
                acked["steps"] += len(w.steps)
                for k, v in w.other.items():
                    other[k] = other.get(k, 0) + v
        try:
            rip = s.restarts_in_place()
        except OSError:
            rip = -1
        if problems or not ok:
            say("FAILED (seed %d):\n%s", SEED, "\n".join(problems + lost[:20] + dup[:20]))
            for p in s.procs:
                who = "gateway" if p is s.gw else "node %s" % p.county
                sys.stderr.write("---- %s log tail ----\n%s\n" % (who, tail(p.stderr(), 2500)))
        say("writers: %d connection errors, %d 503 unavailable, %d 503 storage_full, "
            "%d refused steps, other statuses %r",
            sum(w.errors for w in s.writers), sum(w.unavailable for w in s.writers),
            sum(w.full for w in s.writers), sum(w.refused_steps for w in s.writers), other)
        rebuilt = ("%d events, converged %.1f s after its start" % s.rebuilt) if s.rebuilt else "not reached"
        print("fault soak summary: kills %d (gateway %d, nodes %d), cuts %d, acknowledged writes "
              "%d (evaluations %d, complaints %d, steps %d; %d steps read back), lost %d, "
              "duplicated %d, restarts in place %d, supervisor restarts %d, disk: %s, "
              "lost gateway rebuilt: %s, %.0f s, seed %d"
              % (sum(s.kills.values()), s.kills["gateway"], s.kills["node"], s.cuts(),
                 sum(acked.values()), acked["evaluations"], acked["complaints"], acked["steps"],
                 steps_checked, len(lost), len(dup), rip, s.supervisor, s.disk, rebuilt,
                 time.monotonic() - T0, SEED), flush=True)
        s.cleanup()
    print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
