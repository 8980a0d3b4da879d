"""test_repl_faults.py — replication under faults: processes killed, connections
cut, and refusals at the gateway's door (docs/replication.md).

Usage: python3 test_repl_faults.py PATH/TO/hcp-node PATH/TO/hcp-gateway PATH/TO/hcp-certs
       [unittest arguments, e.g. Faults.test_3_cut_connections]

One PKI (hcp-certs) is shared; every test starts its own gateway and nodes
(real processes, loopback only) and kills them all in its finally:
  test_1  a node with 3,000 offline events catches up while the gateway is
          SIGKILLed 0.05-0.5 s after each start (>= 20 times, restarted on the
          same data dir and ports); in the end every event is at the gateway
          exactly once: applied == node head, lag 0, state ok, head_hash ==
          `hcp-node verify`, the case lists equal, cases spot-checked.
  test_2  the NODE is SIGKILLed >= 20 times while it catches up and a writer
          thread keeps posting; every write answered 201 is at the gateway,
          applied == node head, `hcp-node verify` passes with the same hash.
  test_3  a TCP proxy between node and gateway drops connections (at random
          moments and after a random number of bytes, so inside batches)
          and delays forwarding for ~20 s while events are posted; nothing
          is lost or duplicated (applied == head, lag 0, equal case lists).
  test_4  refusals while two good counties keep replicating: a revoked
          certificate, a certificate from another CA, a TLS client without
          a certificate, plain TCP bytes and random bytes on the replication
          port; the gateway keeps serving the good counties (lag 0).
Progress lines go to stderr; on failure the tail of every process's stderr.
HCP_REPL_KEEP=1 keeps the temporary directory. HCP_FAULTS_SEED=N fixes the
random choices (the seed in use is printed).
"""
import http.client
import os
import random
import shutil
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time
import unittest

import hcptest
from hcptest import GW_NAME, Client, Gateway, Node, dumps_on_failure, evaluation, run_certs, \
    tail, wait_until
from hcpfaults import Proxy, list_ids, verify

C_GWKILL = "630102"   # test_1
C_NODEKILL = "630103"  # test_2
C_PROXY = "630104"    # test_3
C_GOOD = ("630105", "630106")  # test_4: keep replicating
C_REVOKED = "630121"  # test_4 (a)
C_FOREIGN = "630123"  # test_4 (b): certificate from another CA
KILLS = 22
SEED = int(os.environ.get("HCP_FAULTS_SEED", "0")) or random.randrange(1, 1 << 30)
RNG = random.Random(SEED)
T0 = time.monotonic()


say = hcptest.sayer("faults", T0)


def eval_body(county, i, rating):
    return hcptest.evaluation(rating, content="%s 故障测试评价 %d" % (county, i))


def post_many(node, count, threads=4):
    """Post `count` evaluations (ratings 1..5 in turn) on keep-alive
    connections from several threads; returns {case id: content}. The node
    is stable: every request must be answered 201."""
    out, errors = {}, []
    mu = threading.Lock()
    nxt = [0]

    def run():
        cl = Client(node)
        try:
            while True:
                with mu:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= count or errors:
                    return
                b = eval_body(node.county, i, 1 + i % 5)
                st, j = cl.request("POST", "/v1/evaluations", b)
                if st != 201:
                    raise AssertionError("POST /v1/evaluations: %r %r" % (st, j))
                if j.get("case"):
                    with mu:
                        out[j["case"]] = b["content"]
        except BaseException as e:  # reported by the caller
            errors.append(e)
        finally:
            cl.close()

    ts = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    if errors:
        raise errors[0]
    assert nxt[0] >= count, "posting did not finish"
    return out


class Writer(threading.Thread):
    """Posts rating-1/2 evaluations (each opens a case) until stopped;
    remembers every case the node acknowledged (201). Connection errors
    (the node was killed, the gateway is away) are expected: those
    requests are unacknowledged and simply retried with a new body."""

    def __init__(self, node, pause=0.0):
        super().__init__(daemon=True)
        self.node = node
        self.pause = pause
        self.stop_ev = threading.Event()
        self.acked = {}  # case id -> content
        self.errors = 0
        self.other = {}  # unexpected statuses
        self.i = 0

    def run(self):
        cl = Client(self.node, timeout=5)
        while not self.stop_ev.is_set():
            self.i += 1
            b = eval_body(self.node.county, 100000 + self.i, 1 + self.i % 2)
            b["content"] = "%s 写入线程 %d" % (self.node.county, self.i)
            try:
                st, j = cl.request("POST", "/v1/evaluations", b)
            except (OSError, http.client.HTTPException):
                self.errors += 1
                time.sleep(0.02)
                continue
            if st == 201 and isinstance(j, dict) and j.get("case"):
                self.acked[j["case"]] = b["content"]
            elif st != 201:
                self.other[st] = self.other.get(st, 0) + 1
            if self.pause:
                time.sleep(self.pause)
        cl.close()

    def finish(self):
        self.stop_ev.set()
        self.join(30)


# ---- raw clients on the replication port ----

def closed_by_peer(sock, deadline=10.0):
    """Read until the peer closes (b"" or a reset) or deadline; whether it closed."""
    sock.settimeout(0.5)
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        try:
            d = sock.recv(65536)
        except socket.timeout:
            continue
        except (OSError, ssl.SSLError):
            return True
        if not d:
            return True
    return False


def tls_attempt(port, cert=None, key=None):
    """A TLS client (server certificate not checked) on 127.0.0.1:port, with
    the given client certificate or none. Returns a description of how the
    gateway refused it, or None when the session looked usable."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        try:
            s = ctx.wrap_socket(raw, server_hostname=GW_NAME)
        except (ssl.SSLError, OSError) as e:
            return "handshake failed: %s" % e
        try:
            # an SP header (nng's connection preamble for req) as a real node would send
            s.sendall(b"\x00SP\x00\x00\x30\x00\x00")
        except (ssl.SSLError, OSError) as e:
            return "closed on first write: %s" % e
        if closed_by_peer(s):
            return "connection closed after the handshake"
        return None
    finally:
        raw.close()


def raw_attempt(port, payload):
    """Connect, send payload without TLS; whether the gateway closed the connection."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        try:
            s.sendall(payload)
        except OSError:
            return True
        return closed_by_peer(s)
    finally:
        s.close()


# ---- the tests ----

class Faults(unittest.TestCase):
    tmp = None
    pki = None
    pki2 = None

    @classmethod
    def setUpClass(cls):
        say("seed %d (HCP_FAULTS_SEED to repeat)", SEED)
        cls.tmp = tempfile.mkdtemp(prefix="hcp-faulttest-")
        try:
            cls.pki = hcptest.make_pki(os.path.join(cls.tmp, "pki"),
                                       (C_GWKILL, C_NODEKILL, C_PROXY, C_REVOKED) + C_GOOD)
            cls.pki2 = os.path.join(cls.tmp, "pki-other")
            run_certs(hcptest.path("hcp-certs"), "init", "--dir", cls.pki2)
            run_certs(hcptest.path("hcp-certs"), "node", "--dir", cls.pki2, "--county", C_FOREIGN)
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        if os.environ.get("HCP_REPL_KEEP"):
            say("kept %s (HCP_REPL_KEEP)", cls.tmp)
        else:
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        sys.stderr.write("\n")
        self.procs = []
        self.closers = []
        self.dir = os.path.join(self.tmp, self._testMethodName)
        os.mkdir(self.dir)

    def tearDown(self):
        for fn in self.closers:
            try:
                fn()
            except Exception as e:
                sys.stderr.write("close: %r\n" % e)
        bad = []
        for p in self.procs:
            try:
                p.kill()
            except Exception as e:  # keep killing the others
                sys.stderr.write("kill: %r\n" % e)
            err = p.stderr() if p.proc is not None else ""
            mark = hcptest.sanitizer_problem(err)
            if mark:
                bad.append("%s: stderr holds %r" % (self.label(p), mark))
        if bad:
            self.dump("sanitizer reports")
            raise AssertionError("; ".join(bad))

    # ---- processes ----
    def label(self, p):
        return "gateway" if isinstance(p, Gateway) else "node %s (%s)" % (
            p.county, os.path.basename(p.tmp))

    def dump(self, why):
        sys.stderr.write("==== %s: stderr of every process (seed %d) ====\n" % (why, SEED))
        for p in self.procs:
            state = "running" if p.alive() else "exit %r" % (p.proc.poll() if p.proc else None)
            sys.stderr.write("---- %s, %s ----\n%s\n" % (self.label(p), state,
                                                        tail(p.stderr(), 2500)))
        sys.stderr.flush()

    def pk(self, f, pki=None):
        return os.path.join(pki or self.pki, f)

    def gateway(self, start=True):
        """A gateway in this test's directory; with start false only its
        ports are chosen (start it with restart_same_ports)."""
        gdir = os.path.join(self.dir, "gateway")
        os.mkdir(gdir)
        g = Gateway(hcptest.path("hcp-gateway"), tmp=gdir, args=hcptest.gateway_tls_args(self.pki))
        self.procs.append(g)
        if not start:
            g.port = hcptest.free_port()
            g.repl_port = hcptest.free_port()
            while g.repl_port == g.port:
                g.repl_port = hcptest.free_port()
            return g
        g.start()
        say("gateway up: replication %s, http %d", g.url, g.port)
        return g

    def gw_args(self, url, county, pki=None):
        return ["--gateway", url] + hcptest.node_tls_args(pki or self.pki, county,
                                                          ca_pki=self.pki)

    def node(self, county, url=None, pki=None, name=None, start=True, wait=True):
        """A node; with url, dialing the gateway. A new store beside a gateway
        takes writes only after its first contact (it may have history there),
        so unless wait is False this waits for that."""
        ndir = os.path.join(self.dir, name or ("node-" + county))
        os.mkdir(ndir)
        args = ["--sweep-interval", "86400"]
        if url:
            args += self.gw_args(url, county, pki)
        n = Node(county=county, tmp=ndir, args=args)
        self.procs.append(n)
        if start:
            n.start()
            if url and wait:
                wait_until(lambda: (self.sync(n).get("connected") is True, self.sync(n)), 20.0,
                           "node %s to reach the gateway" % county, interval=0.05)
        return n

    # ---- checks ----
    def sync(self, node):
        r = node.get("/v1/sync", timeout=5)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def wait_converged(self, gw, node, deadline):
        """Until the gateway's row for node's county is ok, lag 0, applied ==
        log_head == the node's head, and the node is connected, acked == head."""
        t = time.monotonic()

        def probe():
            self.assertTrue(gw.alive(), "hcp-gateway exited: %r" % gw.proc.poll())
            self.assertTrue(node.alive(), "node %s exited: %r" % (node.county, node.proc.poll()))
            # a daemon restarting itself in place (nng wedged) answers 503 while
            # it stops and refuses connections until it listens again: not yet
            try:
                r = node.get("/v1/sync", timeout=5)
                if r.status != 200:
                    return False, "node %s /v1/sync: %r" % (node.county, r)
                s = r.json()
                row = gw.counties().get(node.county)  # asserts a 200
            except (OSError, AssertionError) as e:
                return False, "restarting? %r" % e
            head = s["log_head"]
            ok = (row is not None and row.get("state") == "ok" and row.get("lag") == 0
                  and row.get("applied") == head and row.get("log_head") == head
                  and s["connected"] is True and s["acked"] == head and head >= 1)
            return ok, "node %s /v1/sync %r\ngateway row %r" % (node.county, s, row)

        wait_until(probe, deadline, "county %s fully replicated" % node.county, interval=0.2)
        row = gw.counties()[node.county]
        say("county %s converged in %.1fs: applied %d, state %s, lag %d", node.county,
            time.monotonic() - t, row["applied"], row["state"], row["lag"])
        return row

    def same_case(self, gw, node, cid, content=None):
        rn, rg = node.get("/v1/cases/" + cid), gw.get("/v1/cases/" + cid)
        self.assertEqual(rn.status, 200, (cid, rn))
        self.assertEqual(rg.status, 200, (cid, rg))
        a, b = rn.json(), rg.json()
        for k in ("id", "county", "kind", "status", "content", "rating", "channel", "received_at"):
            self.assertEqual(a.get(k), b.get(k), (cid, k, a.get(k), b.get(k)))
        if content is not None:
            self.assertEqual(b["content"], content, cid)

    def final_check(self, gw, node, row, spot=()):
        """Exactly once: the lists are equal and without duplicates, spot
        cases equal; then stop the node and compare `hcp-node verify`."""
        c = node.county
        gids, nids = list_ids(gw, c), list_ids(node, c)
        self.assertEqual(len(gids), len(set(gids)), "duplicate case ids at the gateway")
        self.assertEqual(sorted(gids), sorted(nids),
                         "case lists differ: only at gateway %s, only at node %s"
                         % (sorted(set(gids) - set(nids))[:10], sorted(set(nids) - set(gids))[:10]))
        for cid in spot:
            self.same_case(gw, node, cid)
        head = self.sync(node)["log_head"]
        self.assertEqual(row["applied"], head)
        self.assertEqual(node.stop(signal.SIGTERM, timeout=20), 0, tail(node.stderr()))
        vhead, vhash = verify(node.data)
        self.assertEqual(vhead, head)
        self.assertEqual(str(row["head_hash"]).lower(), vhash,
                         "gateway head_hash %r != hcp-node verify %s" % (row["head_hash"], vhash))
        say("county %s: %d cases identical, head %d, hash %s… at both", c, len(gids), head,
            vhash[:16])

    # ---- 1 ----
    @dumps_on_failure
    def test_1_gateway_killed_during_catch_up(self):
        n = self.node(C_GWKILL)
        t = time.monotonic()
        cases = post_many(n, 3000)
        head = self.sync(n)["log_head"]
        self.assertGreaterEqual(head, 3000)
        say("node %s offline: 3000 evaluations in %.1fs, %d cases, head %d", n.county,
            time.monotonic() - t, len(cases), head)
        self.assertEqual(n.stop(), 0, tail(n.stderr()))
        gw = self.gateway(start=False)
        n.args += self.gw_args(gw.url, n.county)
        n.start()
        w = Writer(n, pause=0.01)  # new events keep arriving: kills land inside streams
        self.closers.append(w.finish)
        w.start()
        progress = []
        for k in range(KILLS):
            gw.restart_same_ports()
            time.sleep(RNG.uniform(0.05, 0.5))
            row = gw.counties().get(n.county) or {}
            gw.kill()  # SIGKILL
            progress.append(row.get("applied", 0))
        say("gateway SIGKILLed %d times; applied just before each kill: %s", KILLS,
            " ".join(map(str, progress)))
        w.finish()
        say("writer: %d writes acknowledged during the kills", len(w.acked))
        gw.restart_same_ports()
        self.assertTrue(n.alive(), tail(n.stderr()))
        row = self.wait_converged(gw, n, 60.0)
        self.assertGreaterEqual(row["applied"], head)
        self.assertFalse(sorted(set(w.acked) - set(list_ids(gw, n.county)))[:20])
        ids = sorted(cases)
        self.final_check(gw, n, row, spot=[ids[0], ids[len(ids) // 3], ids[2 * len(ids) // 3],
                                           ids[-1]] + RNG.sample(ids, 6))
        self.assertEqual(gw.stop(), 0, tail(gw.stderr()))

    # ---- 2 ----
    @dumps_on_failure
    def test_2_node_killed_during_catch_up(self):
        gw = self.gateway()
        n = self.node(C_NODEKILL)
        post_many(n, 2000)
        head0 = self.sync(n)["log_head"]
        self.assertEqual(n.stop(), 0, tail(n.stderr()))
        n.args += self.gw_args(gw.url, n.county)
        n.start()
        w = Writer(n)
        self.closers.append(w.finish)
        w.start()
        progress = []
        for k in range(KILLS):
            time.sleep(RNG.uniform(0.05, 0.5))
            n.kill()  # SIGKILL
            row = gw.counties().get(n.county) or {}
            progress.append(row.get("applied", 0))
            n.start()
        time.sleep(0.5)
        w.finish()
        say("node SIGKILLed %d times (offline head %d); gateway applied at each kill: %s",
            KILLS, head0, " ".join(map(str, progress)))
        say("writer: %d writes acknowledged, %d connection errors, other statuses %r",
            len(w.acked), w.errors, w.other)
        self.assertGreater(len(w.acked), 20, "the writer got almost nothing acknowledged")
        self.assertFalse(set(w.other) - {503}, w.other)
        row = self.wait_converged(gw, n, 90.0)
        gids = set(list_ids(gw, n.county))
        lost = sorted(set(w.acked) - gids)
        self.assertFalse(lost, "acknowledged writes missing at the gateway: %s" % lost[:20])
        for cid in RNG.sample(sorted(w.acked), min(15, len(w.acked))):
            self.same_case(gw, n, cid, content=w.acked[cid])
        self.final_check(gw, n, row)
        self.assertEqual(gw.stop(), 0, tail(gw.stderr()))

    # ---- 3 ----
    @dumps_on_failure
    def test_3_cut_connections(self):
        gw = self.gateway()
        proxy = Proxy(gw.repl_port, random.Random(RNG.random())).start()
        self.closers.append(proxy.close)
        url = "tls+tcp://127.0.0.1:%d" % proxy.port
        n = self.node(C_PROXY, url=url)
        writers = [Writer(n, pause=0.002) for _ in range(2)]
        for w in writers:
            self.closers.append(w.finish)
            w.start()
        big = post_many(n, 600, threads=2)  # a burst: several full batches in flight
        seen = []
        for _ in range(10):  # ~20 s of chaos; note the progress at the gateway
            time.sleep(2.0)
            seen.append("%s/%d" % ((gw.counties().get(n.county) or {}).get("applied", 0),
                                   proxy.conns))
        say("gateway applied / proxy connections every 2 s: %s", " ".join(seen))
        for w in writers:
            w.finish()
        with proxy.mu:
            proxy.chaos = False
            cuts, conns = proxy.cuts, proxy.conns
        acked = {}
        for w in writers:
            acked.update(w.acked)
        say("proxy: %d connections, %d cut, %d bytes; %d + %d writes acknowledged",
            conns, cuts, proxy.bytes, len(acked), len(big))
        other = set().union(*[w.other for w in writers])
        if "process.restart" in n.stderr():  # restarting, or restarted
            other -= {503}  # refused while it restarted itself in place: not acknowledged
        self.assertFalse(other, [w.other for w in writers])
        # the node's backoff is at most 30 s (+50 %) and an unanswered request 10 s;
        # a daemon that finds nng wedged restarts itself in place: the node at
        # once, the gateway after its canary failed 3 times (~30-75 s)
        try:
            row = self.wait_converged(gw, n, 150.0)
            restarts = [p.stderr().count("process.restart ") for p in (n, gw)]
            say("converged; restarts in place (nng wedged): node %d, gateway %d", *restarts)
            for who, p in (("node", n), ("gateway", gw)):
                for line in p.stderr().splitlines():
                    if any(k in line for k in ("process.restart", "close_stuck", "canary_failed",
                                               "canary_stuck")):
                        say("%s: %s", who, line)
        except AssertionError as e:
            # Known upstream limitation (docs/replication.md, "Reconnects"): after
            # connections cut inside TLS records, nng 1.5.2 can wedge in the node
            # (its pipe reaper stuck; nng_close never returns), and the node then
            # never reconnects. Say so loudly, restart the node as its supervisor
            # would, and hold it to the same end state: nothing lost or doubled.
            say("NOT CONVERGED in 150 s, node restarted (nng 1.5.2 wedge?): %s", e)
            say("node log tail:\n%s", tail(n.stderr(), 1500))
            n.kill()
            n.start()
            try:
                row = self.wait_converged(gw, n, 30.0)
            except AssertionError as e2:
                # the wedge can be on the gateway's side: it then completes TLS
                # handshakes but never answers (seen with a freshly started node)
                say("NOT CONVERGED with a new node, gateway restarted too: %s", e2)
                say("gateway log tail:\n%s", tail(gw.stderr(), 1500))
                gw.kill()
                gw.restart_same_ports()
                row = self.wait_converged(gw, n, 90.0)
        self.assertGreaterEqual(cuts, 5, "the proxy cut too few connections")
        gids = set(list_ids(gw, n.county))
        self.assertFalse(sorted((set(acked) | set(big)) - gids)[:20])
        self.final_check(gw, n, row, spot=RNG.sample(sorted(acked), min(10, len(acked))))
        self.assertEqual(gw.stop(), 0, tail(gw.stderr()))

    # ---- 4 ----
    @dumps_on_failure
    def test_4_refusals(self):
        gw = self.gateway()
        good = [self.node(c, url=gw.url) for c in C_GOOD]
        rev = self.node(C_REVOKED, url=gw.url)
        for nd in good + [rev]:
            post_many(nd, 20, threads=1)
        for nd in good + [rev]:
            self.wait_converged(gw, nd, 30.0)
        writers = [Writer(nd, pause=0.1) for nd in good]
        for w in writers:
            self.closers.append(w.finish)
            w.start()

        # (a) revoked: the CRL changes; the node (re)authenticates and is refused
        rev_applied = gw.counties()[C_REVOKED]["applied"]
        run_certs(hcptest.path("hcp-certs"), "revoke", "--dir", self.pki, "--county", C_REVOKED)
        say("revoked %s (applied %d)", C_REVOKED, rev_applied)
        # a live session first: batches after the revocation
        for i in range(3):
            rev.evaluate(1, content="吊销之后 %d" % i)
        time.sleep(3.0)
        live = self.sync(rev)
        live_applied = gw.counties()[C_REVOKED]["applied"]
        if live_applied != rev_applied:
            say("NOTE: live session of the revoked %s still replicated (applied %d -> %d, "
                "sync %r)", C_REVOKED, rev_applied, live_applied, live)
        # a new session must be refused
        self.assertEqual(rev.stop(), 0, tail(rev.stderr()))
        rev.start()
        rev.evaluate(2, content="吊销并重启之后")

        def refused():
            s = self.sync(rev)
            self.assertIsNot(s["connected"], True, s)
            e = s["last_error"] or ""
            return ("revoked" in e or "bad_cert" in e), s
        s = wait_until(refused, 20.0, "the revoked node to be refused")
        end = time.monotonic() + 3.0
        while time.monotonic() < end:  # never ok, nothing more applied
            refused()
            self.assertEqual(gw.counties()[C_REVOKED]["applied"], live_applied)
            time.sleep(0.2)
        say("(a) revoked node refused: %r", s["last_error"])

        # (b) a certificate from another CA: TLS refuses it (python client and hcp-node)
        why = tls_attempt(gw.repl_port, self.pk("nodes/%s.crt" % C_FOREIGN, self.pki2),
                          self.pk("nodes/%s.key" % C_FOREIGN, self.pki2))
        self.assertIsNotNone(why, "a TLS client with another CA's certificate was served")
        say("(b) another CA's certificate (python ssl): %s", why)
        fn = self.node(C_FOREIGN, url=gw.url, pki=self.pki2, wait=False)
        r = fn.post("/v1/evaluations", evaluation(1, content="外来证书"))
        self.assertIn(r.status, (201, 503), r)  # 503: it never reached the province

        def foreign():
            s = self.sync(fn)
            self.assertIsNot(s["connected"], True, s)
            return s["last_error"] is not None, s
        s = wait_until(foreign, 15.0, "the foreign-CA node to report an error")
        row = gw.counties().get(C_FOREIGN)
        self.assertTrue(row is None or not row.get("applied"), row)
        say("(b) another CA's certificate (hcp-node): %r", s["last_error"])

        # (c) no client certificate
        why = tls_attempt(gw.repl_port)
        self.assertIsNotNone(why, "a TLS client without a certificate was served")
        say("(c) no certificate: %s", why)

        # (d) plain TCP, (e) random bytes
        self.assertTrue(raw_attempt(gw.repl_port, b"\x00SP\x00\x00\x30\x00\x00" +
                                    b"GET / HTTP/1.0\r\n\r\n"), "plain TCP not closed")
        self.assertTrue(raw_attempt(gw.repl_port, bytes(RNG.getrandbits(8)
                                                        for _ in range(65536))),
                        "random bytes not closed")
        for _ in range(5):  # half-open and truncated handshakes too
            s = socket.create_connection(("127.0.0.1", gw.repl_port), timeout=5)
            s.sendall(b"\x16\x03\x01\x02\x00" + bytes(RNG.getrandbits(8) for _ in range(40)))
            s.close()
        say("(d, e) plain TCP and random bytes: connections closed")

        # the gateway is fine and the good counties kept replicating
        self.assertTrue(gw.alive())
        self.assertEqual(gw.get("/healthz", token=None).status, 200)
        for w in writers:
            w.finish()
        for nd, w in zip(good, writers):
            self.assertGreater(len(w.acked), 10, "writer at %s barely wrote" % nd.county)
            self.wait_converged(gw, nd, 30.0)
            gids = set(list_ids(gw, nd.county))
            self.assertFalse(sorted(set(w.acked) - gids)[:20])
        rows = gw.counties()
        self.assertEqual(rows[C_REVOKED]["applied"], live_applied)
        self.assertEqual(gw.stop(), 0, tail(gw.stderr()))


if __name__ == "__main__":
    hcptest.main("hcp-gateway", "hcp-certs")
