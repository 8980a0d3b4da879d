"""test_case_number_gaps.py — the gateway finds gaps in a county's case
numbers in a real, signed county log (issue #13 "the gateway checks, not
trusts"; docs/checks.md, finding case_number_gap).

Usage: python3 test_case_number_gaps.py hcp-gateway hcp-certs repl_client

A node never skips a case number (test_case_numbers.py), so the log is made
by repl_client (tests/system/repl_client.c, mode `cases`) holding a real
county certificate: case_open events with the intake a node reads from a
POST /v1/cases body, chained from the county's genesis and sent as one
batch signed with the county's key over mutual TLS — what a county whose
node hid or deleted a case would send. Numbers of one day 1, 2, 4, 7 (two
jumps): the gateway applies all four, and reports
two case_number_gaps for that county on /v1/counties `findings` and on
/v1/stats/summary (per county, and in the total), the finding on the cases
after each jump (-0004 and -0007); a county with numbers 1, 2, 3 has none.
"""
import datetime
import json
import os
import subprocess
import tempfile
import time
import unittest

import hcptest
from hcptest import CST, GW_NAME, Gateway, case_body, wait_until

GAPPY, CLEAN = "630103", "630104"
say = hcptest.sayer("gaps", time.monotonic())


class CaseNumberGaps(hcptest.DumpOnFailure, unittest.TestCase):
    procs = []

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-gaps-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.pki = hcptest.make_pki(os.path.join(cls.tmp, "pki"), (GAPPY, CLEAN))
            gdir = os.path.join(cls.tmp, "gateway")
            os.mkdir(gdir)
            cls.gw = Gateway(hcptest.path("hcp-gateway"), tmp=gdir,
                             args=hcptest.gateway_tls_args(cls.pki))
            cls.procs.append(cls.gw)
            cls.gw.start()

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp)

    def send(self, county, day, at, numbers):
        """The county's log: one case_open per number of day (YYYYMMDD) at
        `at`, one signed batch; returns the gateway's acknowledged seq."""
        body = case_body(at=at)
        p = os.path.join(self.pki, "nodes", county)
        cmd = [hcptest.path("repl_client"), self.gw.url, os.path.join(self.pki, "ca.crt"),
               p + ".crt", p + ".key", GW_NAME, "cases",
               json.dumps(body, ensure_ascii=False), day] + [str(n) for n in numbers]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        say("repl_client %s cases %s %s -> %d %r %s", county, day, numbers, r.returncode,
            r.stdout.strip(), r.stderr.strip()[-300:])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("ack "), r.stdout)
        return int(r.stdout.split()[1])

    def test_gaps_reported(self):
        d1 = datetime.datetime.now(CST).replace(hour=9, minute=0, second=0, microsecond=0) \
            - datetime.timedelta(days=2)
        day1 = d1.strftime("%Y%m%d")
        # one county's log skips 3, 5 and 6; another's does not
        self.assertEqual(self.send(GAPPY, day1, hcptest.iso(d1), [1, 2, 4, 7]), 4)
        self.assertEqual(self.send(CLEAN, day1, hcptest.iso(d1), [1, 2, 3]), 3)

        rows = wait_until(lambda: (self.gw.counties().get(GAPPY, {}).get("applied") == 4,
                                   self.gw.counties()), 20.0, "the gateway to apply the log")
        f = rows[GAPPY]["findings"]
        self.assertEqual(f["case_number_gaps"], 2, f)
        self.assertEqual(rows[CLEAN]["findings"]["case_number_gaps"], 0, rows[CLEAN])
        for n, gap in ((1, False), (2, False), (4, True), (7, True)):
            cid = "%s-%s-%04d" % (GAPPY, day1, n)
            r = self.gw.get("/v1/cases/" + cid)
            self.assertEqual(r.status, 200, (cid, r))
            codes = [x["code"] for x in r.json()["findings"]]
            self.assertEqual(codes.count("case_number_gap"), 1 if gap else 0, (cid, codes))

        s = self.gw.get("/v1/stats/summary")
        self.assertEqual(s.status, 200, s)
        s = s.json()
        by = {row["county"]: row for row in s["counties"]}
        self.assertEqual(by[GAPPY]["findings"]["case_number_gaps"], 2, by[GAPPY])
        self.assertEqual(by[CLEAN]["findings"]["case_number_gaps"], 0, by[CLEAN])
        self.assertEqual(s["findings"]["case_number_gaps"], 2, s["findings"])
        one = self.gw.get("/v1/stats/summary?county=" + GAPPY).json()
        self.assertEqual(one["findings"]["case_number_gaps"], 2, one)
        day = "%s-%s-%s" % (day1[:4], day1[4:6], day1[6:])
        on = self.gw.get("/v1/stats/summary?county=%s&from=%s&to=%s" % (GAPPY, day, day)).json()
        self.assertEqual(on["findings"]["case_number_gaps"], 2, on)
        say("gateway: %s case_number_gaps %d (summary total %d); %s %d", GAPPY,
            f["case_number_gaps"], s["findings"]["case_number_gaps"], CLEAN,
            rows[CLEAN]["findings"]["case_number_gaps"])


if __name__ == "__main__":
    hcptest.main("hcp-gateway", "hcp-certs", "repl_client", node=False)
