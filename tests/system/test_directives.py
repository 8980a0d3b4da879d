"""test_directives.py — province → county directives end to end over mutual
TLS with certificates from hcp-certs (docs/directives.md).

Usage: python3 test_directives.py PATH/TO/hcp-node PATH/TO/hcp-gateway PATH/TO/hcp-certs

One PKI, one gateway and two county nodes, the tests in order:
  test_1  a supervisor's `correction` about a case of county A (POST
          /v1/directives at the gateway) reaches A, applies once, shows on
          the case at the node and, once its `directive` event replicated,
          at the gateway; GET /v1/directives at both ends says applied.
  test_2  the county answers it with a correction_answer step (the case
          shows the answer at both ends); an answer naming another
          directive is refused (409); a correction about a case the
          gateway does not hold is refused (404).
  test_3  a directive of a type no node knows, sent to "all": every county
          refuses it (unknown_type) and the gateway shows refused + why.
  test_4  restarting the node and the gateway applies nothing twice: the
          node's directive events and its `dirs` list equal the gateway's
          province log for it, in order.
HCP_DIRECTIVES_KEEP=1 keeps the temporary directory.
"""
import os
import tempfile
import time
import unittest

import hcptest
from hcptest import Gateway, Node, dumps_on_failure, wait_until

A, B = "630102", "630103"
CONVERGE = 30.0
T0 = time.monotonic()
say = hcptest.sayer("directives", T0)


def directive_events(node, case_ids=()):
    """The node's `directive` events, read from its cases' event lists and
    from GET /v1/directives: [(seq, result)] in log order."""
    out = []
    for cid in case_ids:
        r = node.get("/v1/cases/%s" % cid)
        assert r.status == 200, r
        out += [(e["directive"], e["result"]) for e in r.json()["events"]
                if e["type"] == "directive"]
    return out


class Directives(unittest.TestCase):
    procs = []
    tmp = None
    gw = None
    nodes = {}
    case_id = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-dirtest-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            pki = hcptest.make_pki(os.path.join(cls.tmp, "pki"), (A, B))
            gdir = os.path.join(cls.tmp, "gateway")
            os.mkdir(gdir)
            cls.gw = Gateway(hcptest.path("hcp-gateway"), tmp=gdir,
                             args=hcptest.gateway_tls_args(pki))
            cls.procs.append(cls.gw)
            cls.gw.start()
            for c in (A, B):
                ndir = os.path.join(cls.tmp, "node-" + c)
                os.mkdir(ndir)
                n = Node(county=c, tmp=ndir,
                         args=["--sweep-interval", "86400", "--gateway", cls.gw.url]
                         + hcptest.node_tls_args(pki, c))
                cls.procs.append(n)
                n.start()
                hcptest.wait_connected(n, "node %s to reach the gateway" % c, CONVERGE)
                cls.nodes[c] = n

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, keep_env="HCP_DIRECTIVES_KEEP")

    @classmethod
    def dump(cls, why):
        hcptest.dump(cls.procs, why)

    def gw_dirs(self, **q):
        qs = "&".join("%s=%s" % kv for kv in q.items())
        r = self.gw.get("/v1/directives" + ("?" + qs if qs else ""))
        self.assertEqual(r.status, 200, r)
        return r.json()["directives"]

    def gw_state(self, seq, county):
        for d in self.gw_dirs(county=county):
            if d["seq"] == seq:
                for c in d["counties"]:
                    if c["county"] == county:
                        return c
        return None

    def wait_state(self, seq, county, state):
        def probe():
            c = self.gw_state(seq, county)
            return c is not None and c["state"] == state, c
        wait_until(probe, CONVERGE, "directive %d at %s to be %s" % (seq, county, state))
        return self.gw_state(seq, county)

    @dumps_on_failure
    def test_1_correction(self):
        a = self.nodes[A]
        cid = a.new_case()["id"]
        type(self).case_id = cid
        wait_until(lambda: (self.gw.get("/v1/cases/%s" % cid).status == 200, "not yet"),
                   CONVERGE, "case %s at the gateway" % cid)
        r = self.gw.post("/v1/directives", {"type": "correction", "case": cid,
                                             "note": "请补充核实材料并说明办理时限"})
        self.assertEqual(r.status, 201, r)
        seq = r.json()["seq"]
        self.assertEqual(r.json()["target"], A)
        say("correction %d about %s appended", seq, cid)
        st = self.wait_state(seq, A, "applied")
        say("gateway: %s", st)
        d = [x for x in a.get("/v1/directives").json()["directives"] if x["seq"] == seq]
        self.assertEqual(len(d), 1, d)
        self.assertEqual((d[0]["state"], d[0]["type"], d[0]["case"]), ("applied", "correction", cid))
        case = a.get("/v1/cases/%s" % cid).json()
        self.assertEqual(len(case["corrections"]), 1, case["corrections"])
        c = case["corrections"][0]
        self.assertEqual((c["seq"], c["note"], c["answered_at"]),
                         (seq, "请补充核实材料并说明办理时限", None))
        ev = [e for e in case["events"] if e["type"] == "directive"]
        self.assertEqual([(e["directive"], e["result"]) for e in ev], [(seq, "applied")])
        g = self.gw.get("/v1/cases/%s" % cid).json()
        self.assertEqual([x["seq"] for x in g["corrections"]], [seq])
        # B never sees A's correction
        self.assertEqual([x for x in self.nodes[B].get("/v1/directives").json()["directives"]
                          if x["seq"] == seq], [])

    @dumps_on_failure
    def test_2_answer(self):
        a, cid = self.nodes[A], self.case_id
        seq = a.get("/v1/cases/%s" % cid).json()["corrections"][0]["seq"]
        r = a.post("/v1/cases/%s/events" % cid,
                   {"type": "correction_answer", "directive": seq + 1000, "text": "x"})
        self.assertEqual((r.status, r.json()["error"]), (409, "no_such_correction"), r)
        case = a.step(cid, {"type": "correction_answer", "directive": seq,
                            "text": "已补充材料，三个工作日内办结"})
        c = case["corrections"][0]
        self.assertEqual(c["answer"], "已补充材料，三个工作日内办结")
        self.assertIsNotNone(c["answered_at"])
        self.assertEqual(case["status"], "received")  # a note, not a handling step

        def answered():
            g = self.gw.get("/v1/cases/%s" % cid).json()
            return g["corrections"][0]["answer"] is not None, g["corrections"]
        wait_until(answered, CONVERGE, "the answer at the gateway")
        r = self.gw.post("/v1/directives", {"type": "correction", "case": A + "-20200101-0999",
                                             "note": "x"})
        self.assertEqual(r.status, 404, r)
        r = self.gw.post("/v1/directives", {"type": "correction", "case": cid})
        self.assertEqual(r.status, 422, r)

    @dumps_on_failure
    def test_3_unknown_type(self):
        r = self.gw.post("/v1/directives", {"county": "all", "type": "inspection",
                                             "draw": [1, 2, 3]})
        self.assertEqual(r.status, 201, r)
        seq = r.json()["seq"]
        for c in (A, B):
            st = self.wait_state(seq, c, "refused")
            self.assertEqual(st["why"], "unknown_type", st)
            d = [x for x in self.nodes[c].get("/v1/directives").json()["directives"]
                 if x["seq"] == seq]
            self.assertEqual((d[0]["state"], d[0]["why"]), ("refused", "unknown_type"), d)
        entry = self.gw_dirs(type="inspection")[0]
        self.assertEqual(entry["body"], {"draw": [1, 2, 3]})
        self.assertEqual(entry["counts"]["refused"], len([x for x in entry["counties"]
                                                          if x["state"] == "refused"]))
        # a clerk of the gateway may not send directives: only supervisors
        r = self.gw.post("/v1/directives", {"county": A, "type": "inspection"}, token="nope")
        self.assertEqual(r.status, 401, r)

    @dumps_on_failure
    def test_4_restart_exactly_once(self):
        a = self.nodes[A]
        before = a.get("/v1/directives").json()
        # the nodes first, as an operator would (a gateway stopped under
        # live TLS connections leaves nng's connections to LeakSanitizer)
        for n in self.nodes.values():
            n.stop()
        self.gw.stop()
        self.gw.restart_same_ports()
        for n in self.nodes.values():
            n.start()
        hcptest.wait_connected(a, "node A back", CONVERGE)
        r = self.gw.post("/v1/directives", {"county": A, "type": "inspection", "n": 2})
        seq = r.json()["seq"]
        self.wait_state(seq, A, "refused")
        after = a.get("/v1/directives").json()
        seqs = [d["seq"] for d in after["directives"]]
        self.assertEqual(seqs, sorted(set(seqs)))
        self.assertEqual(seqs, [d["seq"] for d in before["directives"]] + [seq])
        # the province log for A, oldest first, is exactly what A holds
        plog = sorted(d["seq"] for d in self.gw_dirs(county=A))
        self.assertEqual(plog, seqs)
        self.assertEqual(after["dseq"], seq)


if __name__ == "__main__":
    hcptest.main("hcp-gateway", "hcp-certs")
