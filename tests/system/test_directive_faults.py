"""test_directive_faults.py — directives survive the faults the upward path
survives (docs/directives.md, docs/faults.md): while a supervisor keeps
sending directives, the gateway is SIGKILLed >= 20 times, then county A's
node >= 20 times, and county B's node talks through a proxy that cuts its
connections at random byte positions the whole time. At the end every
directive meant for a county is applied (or refused) there exactly once, in
order: the node's `dirs` list, the `directive` events in its cases' logs (at
the node and as the gateway rebuilt them) and the gateway's states all equal
the province log's entries for that county.

Usage: python3 test_directive_faults.py PATH/TO/hcp-node PATH/TO/hcp-gateway PATH/TO/hcp-certs
HCP_DIRECTIVES_KEEP=1 keeps the temporary directory.
"""
import os
import random
import tempfile
import threading
import time
import unittest

import hcptest
from hcpfaults import Proxy, verify
from hcptest import Gateway, Node, dumps_on_failure, wait_until

A, B = "630102", "630103"
KILLS = 20
CONVERGE = 90.0
RNG = random.Random(int(os.environ.get("HCP_FAULT_SEED", "0")) or None)
T0 = time.monotonic()
say = hcptest.sayer("directive-faults", T0)


class Stream(threading.Thread):
    """A supervisor sending directives to the gateway, one every 20-120 ms,
    retrying through the gateway's deaths: corrections about A's and B's
    cases and, one in four, a type no node knows for all counties."""

    def __init__(self, gw, cases):
        super().__init__(daemon=True)
        self.gw, self.cases = gw, cases
        self.stop = threading.Event()
        self.sent = []  # seqs answered 201
        self.errors = 0

    def run(self):
        k = 0
        while not self.stop.is_set():
            k += 1
            if k % 4 == 0:
                body = {"county": "all", "type": "inspection", "k": k}
            else:
                body = {"type": "correction", "case": self.cases[k % 2], "note": "第%d号更正" % k}
            try:
                r = self.gw.post("/v1/directives", body, timeout=5)
                if r.status == 201:
                    self.sent.append(r.json()["seq"])
                else:
                    self.errors += 1
            except OSError:
                self.errors += 1
            time.sleep(RNG.uniform(0.02, 0.12))

    def finish(self):
        self.stop.set()
        self.join(10)


class Evaluations(threading.Thread):
    """Evaluations posted to a node all along, so that the proxy's cuts and
    the kills land inside batches too; failures (a node being killed) are
    only counted."""

    def __init__(self, node):
        super().__init__(daemon=True)
        self.node = node
        self.stop = threading.Event()
        self.ok = 0

    def run(self):
        while not self.stop.is_set():
            try:
                self.ok += self.node.post("/v1/evaluations", hcptest.evaluation(4),
                                          timeout=5).status == 201
            except OSError:
                pass
            time.sleep(0.01)

    def finish(self):
        self.stop.set()
        self.join(10)


class DirectiveFaults(unittest.TestCase):
    procs = []
    tmp = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-dirfaults-")

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, keep_env="HCP_DIRECTIVES_KEEP")

    @classmethod
    def dump(cls, why):
        hcptest.dump(cls.procs, why)

    def node(self, county, pki, url):
        ndir = os.path.join(self.tmp, "node-" + county)
        os.mkdir(ndir)
        n = Node(county=county, tmp=ndir,
                 args=["--sweep-interval", "86400", "--gateway", url]
                 + hcptest.node_tls_args(pki, county))
        self.procs.append(n)
        n.start()
        hcptest.wait_connected(n, "node %s to reach the gateway" % county, 30)
        return n

    def converged(self, gw, nodes, plog):
        """True when every node holds exactly its entries of plog. A daemon
        restarting itself in place (nng 1.5.2's wedges, docs/replication.md
        "Reconnects") answers nothing for a moment: not yet."""
        try:
            return self.converged_now(gw, nodes, plog)
        except OSError as e:
            return False, "a daemon is restarting: %s" % e

    def converged_now(self, gw, nodes, plog):
        for c, n in nodes.items():
            want = [s for s, tg in plog if tg in ("all", c)]
            got = n.get("/v1/directives").json()
            if [d["seq"] for d in got["directives"]] != want:
                return False, "%s: %d of %d" % (c, len(got["directives"]), len(want))
            for d in gw.get("/v1/directives?county=%s&limit=500" % c).json()["directives"]:
                st = [x for x in d["counties"] if x["county"] == c]
                if not st or st[0]["state"] not in ("applied", "refused"):
                    return False, "%s: gateway state of %d is %s" % (c, d["seq"], st)
        return True, "ok"

    @dumps_on_failure
    def test_directives_under_kills_and_cuts(self):
        pki = hcptest.make_pki(os.path.join(self.tmp, "pki"), (A, B))
        gdir = os.path.join(self.tmp, "gateway")
        os.mkdir(gdir)
        gw = Gateway(hcptest.path("hcp-gateway"), tmp=gdir, args=hcptest.gateway_tls_args(pki))
        self.procs.append(gw)
        gw.start()
        proxy = Proxy(gw.repl_port, random.Random(RNG.random())).start()
        self.addCleanup(proxy.close)
        na = self.node(A, pki, gw.url)
        nb = self.node(B, pki, "tls+tcp://127.0.0.1:%d" % proxy.port)
        nodes = {A: na, B: nb}
        cases = [na.new_case()["id"], nb.new_case()["id"]]
        for cid in cases:
            wait_until(lambda: (gw.get("/v1/cases/%s" % cid).status == 200, "not yet"),
                       CONVERGE, "case %s at the gateway" % cid)
        stream = Stream(gw, cases)
        self.addCleanup(stream.finish)
        stream.start()
        evals = [Evaluations(na), Evaluations(nb)]
        for e in evals:
            self.addCleanup(e.finish)
            e.start()
        for _ in range(KILLS):
            time.sleep(RNG.uniform(0.1, 0.6))
            gw.kill()  # SIGKILL
            gw.restart_same_ports()
        say("gateway SIGKILLed %d times; %d directives sent so far", KILLS, len(stream.sent))
        for _ in range(KILLS):
            time.sleep(RNG.uniform(0.1, 0.6))
            na.kill()  # SIGKILL
            na.start()
        say("node %s SIGKILLed %d times; %d directives sent so far", A, KILLS, len(stream.sent))
        stream.finish()
        for e in evals:
            e.finish()
        say("stream: %d sent, %d errors; proxy cut %d connections; evaluations %d/%d",
            len(stream.sent), stream.errors, proxy.cuts, evals[0].ok, evals[1].ok)
        # the link heals: a proxy that cuts every connection within ~100 ms
        # on a loaded machine can outrun the TLS handshake and the catch-up
        # for ever (seen once: county B stuck at 17 of 1,365 events), so
        # convergence is judged after the cuts, as test_repl_faults does
        proxy.chaos = False
        self.assertGreater(len(stream.sent), 2 * KILLS)
        plog = sorted((d["seq"], d["target"]) for d in
                      gw.get("/v1/directives?limit=500").json()["directives"])
        self.assertLessEqual(len(plog), 500)
        self.assertEqual([s for s, _ in plog], list(range(1, len(plog) + 1)))
        self.assertTrue(set(stream.sent) <= {s for s, _ in plog})
        wait_until(lambda: self.converged(gw, nodes, plog), CONVERGE, "directives everywhere",
                   interval=0.5)
        # exactly once, in order: the correction events of each case, at the
        # node and at the gateway, are the province log's corrections for it
        for c, n, cid in ((A, na, cases[0]), (B, nb, cases[1])):
            want = [d["seq"] for d in gw.get("/v1/directives?county=%s&type=correction&limit=500"
                                              % c).json()["directives"]]
            want.sort()

            def events(proc):
                r = proc.get("/v1/cases/%s" % cid)
                return [e["directive"] for e in r.json()["events"] if e["type"] == "directive"]
            self.assertEqual(events(n), want)
            wait_until(lambda: (events(gw) == want, "gateway behind"), CONVERGE,
                       "the directive events of %s at the gateway" % c)
            self.assertEqual([x["seq"] for x in n.get("/v1/cases/%s" % cid).json()["corrections"]],
                             want)
            say("%s: %d entries, %d corrections on %s, each once, in order", c,
                len([1 for _, tg in plog if tg in ("all", c)]), len(want), cid)
        for n in (na, nb):
            self.assertEqual(n.stop(), 0, hcptest.tail(n.stderr()))
            verify(n.data)  # the chain holds after everything


if __name__ == "__main__":
    hcptest.main("hcp-gateway", "hcp-certs")
