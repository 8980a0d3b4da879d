"""A node restored from the gateway gets the federation calendar back
(issue #13; docs/calendar.md "The federation calendar", docs/directives.md
"Restore"), with real processes: a gateway and a county node over plain
tcp://.

The province publishes a calendar with 2027's holidays; the node applies
it (an extension into 2027 is no longer provisional). The node's disk is
then lost: a fresh store beside the gateway fetches its history back. Its
`directive` events bring the directive position back but not the calendar
(the event does not carry the body), so the node asks the gateway for that
entry again and stores it before it takes new records. At the end the node
shows the same calendar version as before and counts the case's deadlines
exactly as the gateway does.

Usage: python3 test_calendar_restore.py PATH/TO/hcp-node PATH/TO/hcp-gateway"""
import os
import shutil
import subprocess
import tempfile
import unittest

import hcptest
from hcptest import Node, path, start_plain_gateway, wait_until

CALENDAR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data",
                        "calendar.tsv")
Y2027 = "2027-01-01\toff\t元旦\t2027\n2027-01-02\toff\t元旦\t2027\n2027-01-03\toff\t元旦\t2027\n"


def run(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


class CalendarRestore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-calrestore-")
        cls.procs = []
        cls.next = os.path.join(cls.tmp, "next.tsv")
        with open(CALENDAR, encoding="utf-8") as src, open(cls.next, "w", encoding="utf-8") as o:
            o.write(src.read())
            o.write(Y2027)
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = start_plain_gateway(cls.tmp, cls.procs)
            cls.ndir = os.path.join(cls.tmp, "node")
            os.mkdir(cls.ndir)
            cls.node = cls.new_node()

    @classmethod
    def new_node(cls):
        n = Node(tmp=cls.ndir, args=["--sweep-interval", "86400", "--gateway", cls.gw.url,
                                     "--insecure"])
        cls.procs.append(n)
        n.start()
        hcptest.wait_connected(n, "node to reach the gateway")
        return n

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp)

    def dump(self, why):
        hcptest.dump(self.procs, why)

    def converge(self):
        def probe():
            head = self.node.get("/v1/sync").json()["log_head"]
            row = self.gw.counties().get(self.node.county) or {}
            return row.get("applied") == head, (head, row)
        wait_until(probe, 20.0, "the gateway to apply the node's log")

    def deadlines(self, proc, cid):
        r = proc.get("/v1/cases/" + cid)
        self.assertEqual(r.status, 200, r)
        return r.json()["deadlines"]

    def version(self):
        code, out, err = run([hcptest.binary(), "calendar", "show", "--data", self.node.data])
        self.assertEqual(code, 0, err)
        return dict(line.split("\t", 1) for line in out.splitlines()).get("version")

    def calendar_entries(self):
        r = self.node.get("/v1/directives")
        self.assertEqual(r.status, 200, r)
        return [d for d in r.json()["directives"] if d.get("type", "calendar") == "calendar"]

    def test_restore_brings_the_calendar_back(self):
        # an extension into 2027: provisional while the calendar lacks 2027
        b = self.node.new_case(at=hcptest.iso(hcptest.now()))["id"]
        for body in ({"type": "verify_start",
                      "verifier": {"name": "核实人丙", "phone": "0971-1111111"}},
                     {"type": "verify_conclude", "outcome": "substantiated", "note": "属实"},
                     {"type": "rectify_assign", "unit": {"code": "U-1", "name": "某局"},
                      "mode": "deferred"},
                     {"type": "rectify_extend", "reason": "需协调", "new_due": "2027-01-04"}):
            self.node.step(b, body)
        self.converge()
        self.assertTrue(self.deadlines(self.node, b)["provisional"])

        # the province publishes 2027; the node applies it
        code, out, err = run([path("hcp-gateway"), "calendar", "publish", "--data", self.gw.data,
                              self.next])
        self.assertEqual(code, 0, err)
        seq = None

        def applied():
            r = self.node.get("/v1/directives")
            cal = [d for d in r.json()["directives"] if d.get("type") == "calendar"]
            return bool(cal) and cal[-1]["state"] == "applied", cal
        cal = wait_until(applied, 30.0, "the calendar directive applied at the node")
        seq = cal[-1]["seq"]
        self.assertEqual(self.version(), "1")
        self.converge()
        before = self.deadlines(self.node, b)
        self.assertFalse(before["provisional"], before)
        self.assertEqual(before, self.deadlines(self.gw, b))
        head = self.node.get("/v1/sync").json()["log_head"]

        # the disk is lost: a fresh store beside the gateway restores
        self.assertEqual(self.node.stop(), 0)
        shutil.rmtree(self.node.data)
        shutil.rmtree(self.node.data + ".keys", ignore_errors=True)
        self.node = self.new_node()
        wait_until(lambda: (self.node.get("/v1/sync").json()["log_head"] >= head, "not yet"),
                   30.0, "the restored node to fetch its history back")
        wait_until(lambda: (self.version() == "1", self.version()), 30.0,
                   "the restored node to have calendar version 1 again")
        self.assertIn("directive.restored", self.node.stderr())

        # the same deadlines as the gateway, the calendar entry applied once
        after = self.deadlines(self.node, b)
        self.assertEqual(after, self.deadlines(self.gw, b))
        self.assertEqual(after, before)
        states = [(d["seq"], d["state"]) for d in self.node.get("/v1/directives").json()
                  ["directives"] if d["seq"] == seq]
        self.assertEqual(states, [(seq, "applied")])
        self.assertEqual(self.node.get("/v1/directives").json()["dseq"], seq)

        # it takes records again, nothing acknowledged twice: the gateway
        # holds exactly one `directive` event of this county for the entry
        wait_until(lambda: (self.node.post("/v1/cases", hcptest.case_body()).status == 201,
                            "refused"), 15.0, "the restored node to take a new case")
        self.converge()
        g = self.gw.get("/v1/directives?type=calendar").json()["directives"]
        row = [c for d in g if d["seq"] == seq for c in d["counties"]
               if c["county"] == self.node.county]
        self.assertEqual(row, [{"county": self.node.county, "state": "applied"}], g)
        self.assertNotIn("calendar.restore_refused", self.node.stderr())

        # a restart after the restore: version 1 stays, nothing owed
        self.assertEqual(self.node.stop(), 0)
        self.node.start()
        hcptest.wait_connected(self.node, "node to reach the gateway again")
        self.assertEqual(self.version(), "1")
        self.assertNotIn("directive.owed", self.node.stderr())
        self.assertEqual(self.deadlines(self.node, b), self.deadlines(self.gw, b))


if __name__ == "__main__":
    hcptest.main("hcp-gateway")
