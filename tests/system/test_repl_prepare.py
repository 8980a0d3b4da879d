"""test_repl_prepare.py — a batch's events are decoded and chain-checked on
the gateway's receiving threads before its writer applies them
(docs/replication.md, "Ordering, idempotence, window"); the answers must
be those the writer gave alone: a batch whose K-th event carries a wrong
hash, or a record that does not decode (chained all the same), is answered
`malformed` with the events before it applied, and nothing from it on.

Usage: python3 test_repl_prepare.py hcp-gateway hcp-certs repl_client

The batches are made by repl_client (mode `cases`, tests/system/
repl_client.c) with a real county certificate and signed with its key: one
clean batch of 6 case_open events (county A), one whose 3rd event's hash is
wrong (B), one whose 4th record is garbage chained as if it were a record
(C). Then five counties send at once (two clean, three broken in different places): the
group commit takes whatever queued into one transaction, and each batch must get its own answer
— a refused one never acknowledged, a clean one never refused for another's fault.
"""
import datetime
import json
import os
import subprocess
import tempfile
import threading
import time
import unittest

import hcptest
from hcptest import CST, GW_NAME, Gateway, case_body, wait_until

CLEAN, BROKEN, GARBLED = "630102", "630103", "630104"
# sent at once, so that the gateway's group commit may take them into one transaction
AT_ONCE = {"630105": None, "630106": {"HCP_RC_BREAK": "2"}, "630121": None,
           "630202": {"HCP_RC_GARBLE": "5"}, "630123": {"HCP_RC_BREAK": "6"}}
say = hcptest.sayer("prepare", time.monotonic())


class Prepare(hcptest.DumpOnFailure, unittest.TestCase):
    procs = []

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-prepare-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.pki = hcptest.make_pki(os.path.join(cls.tmp, "pki"), (CLEAN, BROKEN, GARBLED) + tuple(AT_ONCE))
            gdir = os.path.join(cls.tmp, "gateway")
            os.mkdir(gdir)
            cls.gw = Gateway(hcptest.path("hcp-gateway"), tmp=gdir,
                             args=hcptest.gateway_tls_args(cls.pki))
            cls.procs.append(cls.gw)
            cls.gw.start()

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp)

    def send(self, county, n, env=None):
        """n case_open events of county as one signed batch; the answer."""
        d = datetime.datetime.now(CST).replace(hour=9, minute=0, second=0, microsecond=0) \
            - datetime.timedelta(days=1)
        body = case_body(at=hcptest.iso(d))
        p = os.path.join(self.pki, "nodes", county)
        cmd = [hcptest.path("repl_client"), self.gw.url, os.path.join(self.pki, "ca.crt"),
               p + ".crt", p + ".key", GW_NAME, "cases",
               json.dumps(body, ensure_ascii=False), d.strftime("%Y%m%d")] + \
            [str(i + 1) for i in range(n)]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, **(env or {})))
        say("repl_client %s cases x%d %s -> %d %r %s", county, n, env or "", r.returncode,
            r.stdout.strip(), r.stderr.strip()[-300:])
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def applied(self, county, want):
        return wait_until(lambda: (self.gw.counties().get(county, {}).get("applied") == want,
                                   self.gw.counties().get(county)), 20.0,
                          "%s applied at %d" % (county, want))

    def test_answers_as_the_writer_alone(self):
        self.assertEqual(self.send(CLEAN, 6), "ack 6")
        self.applied(CLEAN, 6)
        # a wrong hash in the middle: the two before it stay, nothing after
        self.assertEqual(self.send(BROKEN, 6, {"HCP_RC_BREAK": "3"}), "error malformed")
        row = self.applied(BROKEN, 2)
        self.assertEqual(row["state"], "ok", row)
        # a record that does not decode, chained: the three before it stay
        self.assertEqual(self.send(GARBLED, 6, {"HCP_RC_GARBLE": "4"}), "error malformed")
        self.applied(GARBLED, 3)
        for c, want in ((CLEAN, 6), (BROKEN, 2), (GARBLED, 3)):
            self.assertEqual(self.gw.counties()[c]["applied"], want, c)
        for n in (1, 2, 3):
            cid = "%s-%s-%04d" % (GARBLED, (datetime.datetime.now(CST) - datetime.timedelta(
                days=1)).strftime("%Y%m%d"), n)
            self.assertEqual(self.gw.get("/v1/cases/" + cid).status, 200, cid)

    def test_at_once_each_answered_on_its_own(self):
        answers = {}

        def one(c, env):
            answers[c] = self.send(c, 6, env)

        ts = [threading.Thread(target=one, args=(c, env)) for c, env in AT_ONCE.items()]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        want = {"630105": ("ack 6", 6), "630106": ("error malformed", 1),
                "630121": ("ack 6", 6), "630202": ("error malformed", 4),
                "630123": ("error malformed", 5)}
        for c, (answer, applied) in want.items():
            self.assertEqual(answers.get(c), answer, (c, answers))
            self.applied(c, applied)


if __name__ == "__main__":
    hcptest.main("hcp-gateway", "hcp-certs", "repl_client", node=False)
