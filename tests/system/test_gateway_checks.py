"""test_gateway_checks.py — the gateway checks, not trusts (issue #13, docs/checks.md).

Usage: python3 test_gateway_checks.py PATH/TO/hcp-node PATH/TO/hcp-gateway

One gateway (plain tcp://, --insecure) and two county nodes:
  630102 城东区 sweeps every second (--sweep-interval 1), as a node should;
  630202 乐都区 never sweeps (--sweep-interval 86400; its first sweep, seen
         marking a canary case, passed before the test's case is opened).
  test_1  finding 1 of the issue seen from the gateway: a case received on a
          Friday (2026-11-20 on the machine's clock; due 11-27) is swept
          overdue at 630102, then steps dated the six following days are posted
          now: the gateway counts six backdated steps for 630102 and lists them
          on the case; no overdue_unmarked there (the county's log holds the
          mark).
  test_2  the same at 630202, whose node never marked it: six backdated steps
          and one overdue_unmarked (the feedback deadline).
  test_3  self-decided disputes: the admin account files and decides one (the
          gateway flags it; a node with issue #13's rules refuses it, 409), and
          the applicant named in a clerk's written application (`by`) decides it
          under an account of that name — the node takes it, the gateway flags it.
  test_4  GET /v1/stats/summary: cases by status and the findings per county
          and in all; county / prefecture / from / to filters; bad parameters
          are 422; a clerk's token is refused.
  test_5  a lost gateway rebuilt from the counties' logs finds the same: the
          gateway is stopped, its data deleted and started again; once it has
          every county's log back, /v1/counties' findings and every case's
          findings are what they were.
Gaps in case numbers cannot be made by a real node (a number is taken only by a
written case); the unit test tests/unit/test_gw_checks.c feeds the checks a log
with a gap.
HCP_CHECKS_KEEP=1 keeps the temporary directory.
"""
import datetime
import os
import shutil
import signal
import tempfile
import unittest

import hcptest
from hcptest import CST, Node, iso, wait_until

A, B = "630102", "630202"  # 城东区 (西宁市 630100), 乐都区 (海东市 630200)
SEEN = 20.0  # seconds for events to travel node -> gateway


def base_day():
    """The Friday a case is received on: the issue's 2026-11-20 when the clock
    is past its steps, else a Friday five weeks back."""
    today = datetime.datetime.now(CST).date()
    issue = datetime.date(2026, 11, 20)
    if today >= datetime.date(2026, 12, 3):
        return issue
    d = today - datetime.timedelta(days=35)
    return d - datetime.timedelta(days=(d.weekday() - 4) % 7)


def at(day, hour=10):
    return iso(datetime.datetime(day.year, day.month, day.day, hour, 0, 0, tzinfo=CST))


def steps(base):
    """Six steps dated base+1 … base+6 (10:00): the whole handling, feedback last."""
    d = [base + datetime.timedelta(days=k) for k in range(1, 7)]
    return [
        {"type": "verify_start", "at": at(d[0]), "verifier": {"name": "核实人丁", "phone": "1"}},
        {"type": "notify_staff", "at": at(d[1])},
        {"type": "verify_conclude", "outcome": "substantiated", "note": "属实", "at": at(d[2])},
        {"type": "rectify_assign", "unit": {"code": "U-9", "name": "某科室"},
         "mode": "immediate", "at": at(d[3])},
        {"type": "rectify_done", "result": "已整改", "at": at(d[4])},
        {"type": "feedback", "via": "phone", "text": "已电话告知", "at": at(d[5])},
    ]


class GatewayChecks(hcptest.DumpOnFailure, unittest.TestCase):
    procs = []
    tmp = None
    gw = None
    nodes = {}
    ids = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-checkstest-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            ndir = os.path.join(cls.tmp, "node-" + A)
            os.mkdir(ndir)
            a = Node(county=A, tmp=ndir,
                     args=["--sweep-interval", "1", "--gateway", cls.gw.url, "--insecure"])
            cls.procs.append(a)
            a.start()
            hcptest.wait_connected(a, "node %s to reach the gateway" % A)
            cls.nodes[A] = a
            b = hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=B)
            # its first (and, with 86400 s, only) sweep must have run before the
            # case: a canary case received two weeks earlier gets its mark then
            canary = b.new_case(at=at(base_day() - datetime.timedelta(days=14), 9))["id"]

            def swept():
                evs = b.get("/v1/cases/" + canary).json()["events"]
                return any(e["type"] == "overdue" for e in evs), evs
            wait_until(swept, 15.0, "node %s's first sweep" % B)
            cls.nodes[B] = b

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, "HCP_CHECKS_KEEP")

    # ---- helpers ----
    def synced(self, county):
        """Wait until the gateway applied county's whole log."""
        n = self.nodes[county]

        def probe():
            head = n.head()
            row = self.gw.counties().get(county, {})
            return row.get("applied") == head and head > 0, (head, row)
        wait_until(probe, SEEN, "the gateway to apply %s's log" % county)

    def findings(self, county):
        return self.gw.counties()[county]["findings"]

    def gw_case(self, cid):
        r = self.gw.get("/v1/cases/" + cid)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def late_steps(self, county):
        """The issue's finding 1 at county: a case received on base day, then
        six steps dated the following days posted now. Returns the case id."""
        n = self.nodes[county]
        base = base_day()
        cid = n.new_case(at=at(base, 9))["id"]
        if county == A:  # the sweeping node marks it overdue first
            def marked():
                c = n.get("/v1/cases/" + cid).json()
                return any(e["type"] == "overdue" for e in c["events"]), c["events"]
            wait_until(marked, 10.0, "the node's overdue mark on " + cid)
        for body in steps(base):
            n.step(cid, body)
        self.synced(county)
        self.ids[county] = cid
        return cid

    # ---- tests ----
    def test_1_backdated_at_a_sweeping_county(self):
        cid = self.late_steps(A)
        c = self.gw_case(cid)
        self.assertIn("overdue", [e["type"] for e in c["events"]])
        codes = [f["code"] for f in c["findings"]]
        self.assertEqual(codes.count("backdated"), 6, c["findings"])
        self.assertNotIn("overdue_unmarked", codes)
        for f in c["findings"]:
            self.assertIsInstance(f["seq"], int)
            self.assertTrue(f["detail"].isascii(), f)  # English, no Chinese
        f = self.findings(A)
        self.assertEqual((f["backdated"], f["overdue_unmarked"]), (6, 0), f)
        self.assertEqual(f["case_number_gaps"], 0, f)

    def test_2_overdue_unmarked_at_a_county_that_never_sweeps(self):
        cid = self.late_steps(B)
        c = self.gw_case(cid)
        self.assertNotIn("overdue", [e["type"] for e in c["events"]])
        unmarked = [x for x in c["findings"] if x["code"] == "overdue_unmarked"]
        self.assertEqual(len(unmarked), 1, c["findings"])
        self.assertIn("feedback deadline", unmarked[0]["detail"])
        self.assertEqual(len([x for x in c["findings"] if x["code"] == "backdated"]), 6)
        f = self.findings(B)
        self.assertEqual((f["backdated"], f["overdue_unmarked"]), (6, 1), f)

    def dispute(self, file_token, by, decide_token):
        """A case at 630102 notified, disputed (filed with file_token, applicant
        `by`) and decided malicious an hour later with decide_token; the
        decision's answer."""
        n = self.nodes[A]
        now = datetime.datetime.now(CST)
        ago = lambda h: iso(now - datetime.timedelta(hours=h))  # noqa: E731
        cid = n.new_case(at=ago(4))["id"]
        n.step(cid, {"type": "notify_staff", "at": ago(3)})
        n.step(cid, {"type": "dispute_file", "by": by, "reason": "并非本人", "at": ago(2)},
               token=file_token)
        r = n.post("/v1/cases/%s/events" % cid,
                   {"type": "dispute_decide", "outcome": "malicious", "note": "恶意", "at": ago(1)},
                   token=decide_token)
        return cid, r

    def test_3_self_decided_dispute(self):
        n = self.nodes[A]
        flagged = 0
        # the admin account files and decides: a node that still allows it
        # (issue #13 made the node refuse it) is caught by the gateway
        cid, r = self.dispute("default", "S-0042", "default")
        if r.status == 200:
            flagged += 1
            self.synced(A)
            found = [x for x in self.gw_case(cid)["findings"] if x["code"] == "self_decided"]
            self.assertEqual(len(found), 1, found)
            self.assertIn("admin", found[0]["detail"])
        else:
            self.assertEqual((r.status, r.json()["error"]), (409, "dispute_same_account"), r)
        # what the node cannot see: the applicant named in the written
        # application (`by`) decides it under an account of that name, the
        # application having been recorded by a clerk
        clerk = n.add_user("clerk-checks", "clerk")
        lisi = n.add_user("lisi", "supervisor")
        cid, r = self.dispute(clerk, "lisi", lisi)
        self.assertEqual(r.status, 200, r)
        flagged += 1
        self.synced(A)
        found = [x for x in self.gw_case(cid)["findings"] if x["code"] == "self_decided"]
        self.assertEqual(len(found), 1, self.gw_case(cid)["findings"])
        self.assertIn("account lisi, who also filed it", found[0]["detail"])
        self.assertEqual(self.findings(A)["self_decided"], flagged)
        self.ids["dispute"] = cid

    def test_4_summary(self):
        for county in (A, B):
            if county not in self.ids:
                self.late_steps(county)
        r = self.gw.get("/v1/stats/summary")
        self.assertEqual(r.status, 200, r)
        s = r.json()
        rows = {row["county"]: row for row in s["counties"]}
        self.assertEqual(rows[A]["findings"], self.findings(A))
        self.assertEqual(rows[B]["findings"], self.findings(B))
        self.assertEqual(s["findings"]["backdated"], sum(
            row["findings"]["backdated"] for row in s["counties"]))
        self.assertEqual(s["cases"]["total"], sum(row["cases"]["total"] for row in s["counties"]))
        self.assertGreaterEqual(rows[B]["cases"]["by_status"]["awaiting_revisit"], 1)
        self.assertEqual(s["scope"], {"county": None, "prefecture": None, "from": None,
                                      "to": None})
        # one county; one prefecture
        one = self.gw.get("/v1/stats/summary?county=" + B).json()
        self.assertEqual([row["county"] for row in one["counties"]], [B])
        self.assertEqual(one["findings"], self.findings(B))
        pre = self.gw.get("/v1/stats/summary?prefecture=630200").json()
        self.assertIn(B, [row["county"] for row in pre["counties"]])
        self.assertNotIn(A, [row["county"] for row in pre["counties"]])
        # the day of receipt: the base day holds the late case, the day before nothing
        base = base_day()
        day = base.isoformat()
        on = self.gw.get("/v1/stats/summary?county=%s&from=%s&to=%s" % (B, day, day)).json()
        self.assertEqual(on["findings"]["backdated"], 6, on)
        self.assertEqual(on["cases"]["total"], 1, on)
        prev = (base - datetime.timedelta(days=1)).isoformat()
        off = self.gw.get("/v1/stats/summary?county=%s&from=%s&to=%s" % (B, prev, prev)).json()
        self.assertEqual((off["cases"]["total"], off["findings"]["backdated"]), (0, 0), off)
        # the canary received two weeks before: from/to open on one side
        upto = self.gw.get("/v1/stats/summary?county=%s&to=%s" % (B, prev)).json()
        self.assertEqual((upto["cases"]["total"], upto["cases"]["by_status"]["received"]), (1, 1))
        since = self.gw.get("/v1/stats/summary?county=%s&from=%s" % (B, day)).json()
        self.assertEqual(since["cases"]["total"], 1, since)
        # refusals
        for q in ("county=12", "county=630000", "prefecture=999900", "from=2026-13-01",
                  "from=2026-12-02&to=2026-12-01", "county=%s&prefecture=630100" % A):
            r = self.gw.get("/v1/stats/summary?" + q)
            self.assertEqual(r.status, 422, (q, r))
        self.assertEqual(self.gw.get("/v1/stats/summary", token=None).status, 401)
        self.assertEqual(self.gw.post("/v1/stats/summary", {}).status, 405)

    def test_5_rebuilt_gateway_finds_the_same(self):
        for county in (A, B):
            if county not in self.ids:
                self.late_steps(county)
            self.synced(county)
        before = {c: self.findings(c) for c in (A, B)}
        cases = {cid: self.gw_case(cid)["findings"] for cid in self.ids.values()}
        self.assertEqual(self.gw.stop(signal.SIGTERM, timeout=30), 0)
        shutil.rmtree(self.gw.data)
        self.gw.restart_same_ports(30.0)
        for county in (A, B):
            self.synced(county)
        self.assertEqual({c: self.findings(c) for c in (A, B)}, before)
        for cid, f in cases.items():
            self.assertEqual(self.gw_case(cid)["findings"], f, cid)


if __name__ == "__main__":
    hcptest.main("hcp-gateway")
