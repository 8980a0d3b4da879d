"""test_form_rows.py — the monthly form's rows written behind a catch-up
(docs/reports.md, "Rows written behind").

Usage: python3 test_form_rows.py PATH/TO/hcp-node PATH/TO/hcp-gateway

One gateway (plain tcp://, the default HCP_GW_FORM_ROWS=auto) and one
county node of Xining. The gateway is paused (SIGSTOP) while the node takes
N real-name cases received last month, then resumed: the node's backlog
arrives in large batches, whose transactions write the first rows at once
and mark the rest for the drain.
  test_1  the form downloaded at once holds all N cases with their contact
          columns (marked rows rendered from the cases), and the drain says
          report.rows_drained in the gateway's log once the writer is idle,
          /metrics then shows hcp_gateway_report_rows_pending 0; the form
          is then the same.
  test_2  kill -9 of the gateway right after another paused backlog, a
          restart: the form holds every case (N + M) with its contact
          column, and is the same once the drain ran.
"""
import datetime
import os
import signal
import tempfile
import time
import unittest

import hcptest
from hcptest import wait_until

COUNTY, XINING = "630102", "630100"
N, M = 120, 60


def last_month():
    now = hcptest.now()
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last = first - datetime.timedelta(days=1)
    return last.year, last.month


def phone(i):
    return "139%08d" % i


class FormRows(unittest.TestCase):
    procs = []
    tmp = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-formrows-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            cls.node = hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=COUNTY)
            hcptest.after_first_sweep(time.monotonic() - 0.5)  # before any case: it marks none
            cls.sup = cls.gw.add_user("sup", "supervisor")
            cls.ym = last_month()
            cls.phones = {}

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, None)

    @classmethod
    def backlog(cls, first, count):
        """count cases at the node while the gateway is paused, then resume
        it and wait until all of them are applied there."""
        os.kill(cls.gw.proc.pid, signal.SIGSTOP)
        try:
            for i in range(first, first + count):
                when = hcptest.iso(datetime.datetime(cls.ym[0], cls.ym[1], 1 + i % 27, 10,
                                                     i % 60, tzinfo=hcptest.CST))
                body = hcptest.case_body(at=when)
                body["complainant"] = {"name": "投诉人", "phone": phone(i)}
                r = cls.node.post("/v1/cases", body)
                assert r.status == 201, r
                cls.phones[r.json()["id"]] = phone(i)
        finally:
            os.kill(cls.gw.proc.pid, signal.SIGCONT)
        head = cls.node.head()
        wait_until(lambda: (cls.gw.counties()[COUNTY]["applied"] >= head, "behind"), 60,
                   "the backlog applied at the gateway")

    def form(self):
        q = "/v1/reports/monthly?month=%04d-%02d&prefecture=%s&format=json" % (
            self.ym[0], self.ym[1], XINING)
        r = self.gw.get(q, token=self.sup)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def check_form(self, f):
        rows = f["rows"]
        by_id = {row["case_id"]: row for row in rows}
        self.assertEqual(sorted(by_id), sorted(self.phones))
        for cid, ph in self.phones.items():
            self.assertIn(ph, by_id[cid]["差评投诉人及联系方式"], cid)
        return rows

    def drained(self, after=0):
        return self.gw.stderr().count("report.rows_drained") > after

    def test_1_backlog_then_drain(self):
        self.backlog(0, N)
        before = self.check_form(self.form())
        wait_until(lambda: (self.drained(), self.gw.stderr()[-2000:]), 30,
                   "report.rows_drained in the gateway's log")
        # what an operator (or a benchmark waiting for the gateway to settle) reads
        g = self.gw.metrics()
        self.assertEqual(g["hcp_gateway_report_rows_pending"], 0)
        # last month's cases, none fed back: overdue, judged alike at both ends
        # (the gateway reads only its cases with a running deadline, ov_run)
        over = [v for k, v in g.items()
                if k.startswith('hcp_gateway_county_overdue_cases{county="%s"' % COUNTY)]
        self.assertEqual(len(over), 1, over)
        self.assertGreater(over[0], 0)
        self.assertEqual(over[0], self.node.metrics()["hcp_node_overdue_cases"])
        self.assertEqual(self.check_form(self.form()), before)

    def test_2_kill_and_restart(self):
        self.backlog(N, M)
        self.gw.kill()  # SIGKILL: whatever the drain had written or not
        seen = self.gw.stderr().count("report.rows_drained")
        self.gw.start()
        rows = self.check_form(self.form())
        soon = time.monotonic() + 1.0
        self.assertEqual(len(rows), N + M)
        # the drain may have written the new rows before the kill or not:
        # the form is the same either way, and stays so once it runs
        wait_until(lambda: (self.drained(seen) or time.monotonic() > soon, ""), 5, "a moment")
        self.assertEqual(self.check_form(self.form()), rows)


if __name__ == "__main__":
    hcptest.main("hcp-gateway")
