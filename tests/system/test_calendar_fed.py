"""One calendar for the federation (issue #13, finding 2; docs/calendar.md
"The federation calendar"), with real processes: a gateway and a county
node over plain tcp://.

The operator publishes with `hcp-gateway calendar publish` (it applies at
the gateway in the same transaction); the province's `calendar` directive
carries it to the node over replication (docs/directives.md), and the test
compares both ends case by case.

Usage: python3 test_calendar_fed.py PATH/TO/hcp-node PATH/TO/hcp-gateway"""
import os
import subprocess
import tempfile
import unittest

import hcptest
from hcptest import Node, path, start_plain_gateway, wait_until

CALENDAR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data",
                        "calendar.tsv")
Y2027 = "2027-01-01\toff\t元旦\t2027\n2027-01-02\toff\t元旦\t2027\n2027-01-03\toff\t元旦\t2027\n"
NOTE = "期限为暂定：该年度节假日安排尚未发布"


def write_calendar(dst, drop_year=None, extra=""):
    """data/calendar.tsv without notice year drop_year, plus extra."""
    with open(CALENDAR, encoding="utf-8") as src, open(dst, "w", encoding="utf-8") as out:
        for line in src:
            if drop_year and line.rstrip("\n").endswith("\t%d" % drop_year):
                continue
            out.write(line)
        out.write(extra)
    return dst


def run(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class CalendarFed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-calfed-")
        cls.procs = []
        cls.stale = write_calendar(os.path.join(cls.tmp, "stale.tsv"), drop_year=2026)
        cls.full = write_calendar(os.path.join(cls.tmp, "full.tsv"))
        cls.next = write_calendar(os.path.join(cls.tmp, "next.tsv"), extra=Y2027)
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            # a gateway started once with a calendar lacking 2026 (finding 2a)
            cls.gw = start_plain_gateway(cls.tmp, cls.procs, args=("--calendar", cls.stale))
            ndir = os.path.join(cls.tmp, "node")
            os.mkdir(ndir)
            cls.node = Node(tmp=ndir, args=["--sweep-interval", "86400", "--gateway", cls.gw.url,
                                            "--insecure", "--calendar", cls.stale])
            cls.procs.append(cls.node)
            cls.node.start()
            hcptest.wait_connected(cls.node, "node to reach the gateway")

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp)

    def dump(self, why):
        hcptest.dump(self.procs, why)

    # ---- helpers ----
    def converge(self):
        """Until the gateway applied the node's whole log."""
        def probe():
            head = self.node.get("/v1/sync").json()["log_head"]
            row = self.gw.counties().get(self.node.county) or {}
            return row.get("applied") == head, (head, row)
        wait_until(probe, 20.0, "the gateway to apply the node's log")

    def case(self, at, **over):
        return self.node.new_case(at=at, **over)["id"]

    def steps(self, cid, *steps):
        for body in steps:
            self.node.step(cid, body)

    def deadlines(self, proc, cid):
        r = proc.get("/v1/cases/" + cid)
        self.assertEqual(r.status, 200, r)
        return r.json()["deadlines"]

    def feed_entry(self, cid):
        r = self.gw.get("/feed/requests.json?service_request_id=" + cid, token=None)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json()), 1, r.json())
        return r.json()[0]

    def restart_node(self, args):
        if self.node.alive():
            self.assertEqual(self.node.stop(), 0)
        self.node.args = ["--sweep-interval", "86400", "--gateway", self.gw.url,
                          "--insecure"] + list(args)
        self.node.start()
        hcptest.wait_connected(self.node, "node to reach the gateway again")

    def apply_at_node(self, version, tsv):
        """Wait until the province's `calendar` directive of this version,
        published at the gateway, has reached the node over replication and
        been applied there (docs/directives.md): its `calendar` entries,
        applied, number `version`."""
        del tsv  # the node gets the text from the directive itself

        def probe():
            r = self.node.get("/v1/directives")
            if r.status != 200:
                return None, r.status
            cal = [d for d in r.json()["directives"] if d.get("type") == "calendar"]
            bad = [d for d in cal if d["state"] != "applied"]
            self.assertEqual(bad, [], "a calendar directive was refused")
            return len(cal) >= version or None, [d["seq"] for d in cal]
        wait_until(probe, 30.0, "calendar version %d applied at the node" % version)

    def publish(self, tsv):
        code, out, err = run([path("hcp-gateway"), "calendar", "publish", "--data",
                              self.gw.data, tsv])
        self.assertEqual(code, 0, err)
        return int(out.strip())

    def compare_both_ends(self, ids):
        """Every case's deadlines the same at the node and the gateway."""
        self.converge()
        for cid in ids:
            n, g = self.deadlines(self.node, cid), self.deadlines(self.gw, cid)
            self.assertEqual(n, g, cid)

    # ---- the tests, in order (they share the two daemons) ----
    def test_1_finding_2_and_one_version(self):
        # (a) received Tue 2026-09-29: without 2026's holidays 10-06,
        # provisional; with National Day 10-12
        a = self.case("2026-09-29T10:00:00+08:00")
        # (c) the dispute window: staff notified Wed 09-30 (stale: closes
        # 10-02; with the holidays 10-09); two alike cases
        y1 = self.case("2026-09-29T09:00:00+08:00")
        y2 = self.case("2026-09-29T09:00:00+08:00")
        for y in (y1, y2):
            self.steps(y, {"type": "verify_start", "verifier": {"name": "核实人丙", "phone": "0971-1111111"},
                           "at": "2026-09-29T10:00:00+08:00"},
                       {"type": "notify_staff", "at": "2026-09-30T10:00:00+08:00"})
        # (c) an extension to Mon 10-05, a National Day holiday
        x1 = self.case("2026-09-21T10:00:00+08:00")
        x2 = self.case("2026-09-21T10:00:00+08:00")
        for x in (x1, x2):
            self.steps(x, {"type": "verify_start", "verifier": {"name": "核实人丙", "phone": "0971-1111111"},
                           "at": "2026-09-21T11:00:00+08:00"},
                       {"type": "verify_conclude", "outcome": "substantiated", "note": "属实",
                        "at": "2026-09-21T12:00:00+08:00"},
                       {"type": "rectify_assign", "unit": {"code": "U-1", "name": "某局"},
                        "mode": "deferred", "at": "2026-09-21T13:00:00+08:00"})
        # (b) an extension into 2027 (not covered: 1 January is a holiday)
        b = self.case(hcptest.iso(hcptest.now()))
        self.steps(b, {"type": "verify_start", "verifier": {"name": "核实人丙", "phone": "0971-1111111"}},
                   {"type": "verify_conclude", "outcome": "substantiated", "note": "属实"},
                   {"type": "rectify_assign", "unit": {"code": "U-1", "name": "某局"},
                    "mode": "deferred"},
                   {"type": "rectify_extend", "reason": "需协调", "new_due": "2027-01-01"})
        ids = [a, y1, y2, x1, x2, b]

        # the stale calendar at work: wrong deadline, a late dispute refused,
        # a holiday accepted
        self.converge()
        for proc in (self.node, self.gw):
            d = self.deadlines(proc, a)
            self.assertEqual(d["feedback_due"], "2026-10-06T23:59:59+08:00")
            self.assertTrue(d["provisional"])
        r = self.node.post("/v1/cases/%s/events" % y1,
                           {"type": "dispute_file", "by": "工作人员丁", "reason": "有误",
                            "at": "2026-10-08T10:00:00+08:00"})
        self.assertEqual(r.json().get("error"), "dispute_window_closed", r)
        self.node.step(x1, {"type": "rectify_extend", "reason": "需协调", "new_due": "2026-10-05",
                            "at": "2026-09-25T10:00:00+08:00"})

        # (b) the extension into 2027 is provisional at both ends, and the
        # public feed says so in words
        for proc in (self.node, self.gw):
            d = self.deadlines(proc, b)
            self.assertEqual(d["feedback_due"], "2027-01-01T23:59:59+08:00")
            self.assertTrue(d["provisional"], d)
        e = self.feed_entry(b)
        self.assertTrue(e["deadline_provisional"])
        self.assertEqual(e["deadline_note"], NOTE)

        # (a) the gateway restarted with the right calendar recounts
        self.assertEqual(self.gw.stop(), 0)
        self.gw.args = ["--insecure"]
        self.gw.restart_same_ports()
        d = self.deadlines(self.gw, a)
        self.assertEqual(d["feedback_due"], "2026-10-12T23:59:59+08:00")
        self.assertFalse(d["provisional"])
        self.assertIn("calendar.recount", self.gw.stderr())

        # one version at both ends: published at the gateway, applied at the
        # node; every open case the same, case by case
        self.assertEqual(self.publish(self.full), 1)
        self.apply_at_node(1, self.full)
        self.compare_both_ends(ids)
        self.assertEqual(self.deadlines(self.node, a)["feedback_due"],
                         "2026-10-12T23:59:59+08:00")
        self.assertEqual(self.deadlines(self.node, y2)["dispute_due"],
                         "2026-10-09T23:59:59+08:00")

        # (c) the node's dispute window and extensions follow the version
        self.node.step(y2, {"type": "dispute_file", "by": "工作人员丁", "reason": "有误",
                            "at": "2026-10-08T10:00:00+08:00"})
        r = self.node.post("/v1/cases/%s/events" % x2,
                           {"type": "rectify_extend", "reason": "需协调", "new_due": "2026-10-05",
                            "at": "2026-09-25T10:00:00+08:00"})
        self.assertEqual(r.json().get("error"), "extension_not_working_day", r)
        self.compare_both_ends(ids)

        # the next year published: the extension into 2027 is firm at both
        self.assertEqual(self.publish(self.next), 2)
        self.apply_at_node(2, self.next)
        self.compare_both_ends(ids)
        self.assertFalse(self.deadlines(self.node, b)["provisional"])
        wait_until(lambda: (self.feed_entry(b)["deadline_provisional"] is False, "not yet"),
                   10.0, "the feed to drop the provisional note")
        self.assertIsNone(self.feed_entry(b)["deadline_note"])

    def test_2_node_refuses_to_run_ahead(self):
        # version 2 stored: a --calendar that counts differently is refused
        self.assertEqual(self.node.stop(), 0)
        for cal in (self.stale, self.full):
            self.node.args = ["--calendar", cal]
            self.node.spawn().wait(timeout=30)
            self.assertEqual(self.node.stop(), 1)  # exited by itself; closes its stderr
            self.assertIn("differs from the federation calendar version 2", self.node.stderr())
        # the same calendar (any comments) starts; so does no --calendar
        self.restart_node(["--calendar", self.next])
        code, out, err = run([hcptest.binary(), "calendar", "show", "--data", self.node.data])
        self.assertEqual(code, 0, err)
        self.assertIn("version\t2", out)
        # no local way to change the version: only the province's directive
        code, out, err = run([hcptest.binary(), "calendar", "apply", "--data", self.node.data,
                              "--version", "3", self.full])
        self.assertEqual(code, 2)

    def test_3_gateway_publish_checks(self):
        # the same calendar again is refused; a bad file names its line
        code, _, err = run([path("hcp-gateway"), "calendar", "publish", "--data", self.gw.data,
                            self.next])
        self.assertEqual(code, 1)
        self.assertIn("unchanged", err)
        bad = os.path.join(self.tmp, "bad.tsv")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("date\tkind\tname\tnotice_year\n2027-02-30\toff\t春节\t2027\n")
        code, _, err = run([path("hcp-gateway"), "calendar", "publish", "--data", self.gw.data,
                            bad])
        self.assertEqual(code, 1)
        self.assertIn("line 2", err)
        code, out, err = run([path("hcp-gateway"), "calendar", "show", "--data", self.gw.data])
        self.assertEqual(code, 0, err)
        self.assertIn("version\t2", out)
        # a gateway with a published version refuses a different --calendar
        self.assertEqual(self.gw.stop(), 0)
        self.gw.args = ["--insecure", "--calendar", self.full]
        self.gw.spawn(same_ports=True).wait(timeout=30)
        self.assertEqual(self.gw.stop(), 1)
        self.assertIn("differs from the federation calendar version 2", self.gw.stderr())
        self.gw.args = ["--insecure"]
        self.gw.restart_same_ports()


if __name__ == "__main__":
    hcptest.main("hcp-gateway")
