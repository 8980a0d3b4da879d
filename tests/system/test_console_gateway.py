"""test_console_gateway.py — the gateway console in a browser (issue #17, docs/consoles.md).

Usage: python3 test_console_gateway.py PATH/TO/hcp-node PATH/TO/hcp-gateway

A real gateway on loopback (plain tcp://, --insecure) fed by one county node
(630102 城东区 of 西宁市): five cases closed this month, one left open, four
ratings of a unit (one negative), a correction directive sent. Accounts made with `hcp-gateway user add`: a
supervisor and an auditor. Then tests/console/gateway.js (puppeteer-core
driving Debian's chromium headless at 1366x768) plays each part as a
person would, one browser per test:
  test_1  the supervisor signs in (a wrong token refused first), sees the
          counties with their state and lag, the figures with the charts
          (Art. 11 units and staff, Art. 12 hot spots), downloads 西宁市's
          monthly form as XLSX (checked here: a ZIP with the sheet), draws a
          spot check with the form (a bad rate refused with the gateway's
          message), records a finding, sees the directives sent and their
          state (the correction applied at the county), and signs out; a
          form refused by the gateway shows the gateway's detail.
  test_2  the auditor sees the access log only (the supervisor's download
          in it); every supervisor route is refused to the session (403),
          and the other menus are not offered.
  test_3  a forged or missing X-CSRF-Token is refused (403 csrf_failed) on a
          write and on sign-out; through the page, the refusal is shown.
  test_4  an expired session (the gateway restarted with HCP_SESSION_IDLE_S=3)
          sends the console back to the sign-in form with the reason.
Screenshots (1366x768) are kept in build/tests/system/console-gateway/ and
each view's Chinese text is checked to be drawn with a CJK font.
chromium, the CJK font and node/npm are installed when missing (scripts/
deps.sh browser node; puppeteer-core by tests/console's npm project); when
that cannot be done the test exits 77 (skipped). HCP_CONSOLE_KEEP=1 keeps
the temporary directory.
"""
import json
import os
import sys
import tempfile
import unittest
import zipfile

import hcpconsole
import hcptest
from hcptest import wait_until

say = hcptest.sayer("console-gw")
COUNTY = "630102"  # 城东区, 西宁市 (630100)
CLOSED = 5


def close_case(node):
    """A complaint walked to its close: verify, unsubstantiated, feedback, close."""
    cid = node.new_case()["id"]
    node.step(cid, {"type": "verify_start", "verifier": {"name": "核实人", "phone": "0971-1"}})
    node.step(cid, {"type": "verify_conclude", "outcome": "unsubstantiated"})
    node.step(cid, {"type": "feedback", "via": "phone", "text": "已告知"})
    node.step(cid, {"type": "close"})
    return cid


class ConsoleGateway(hcptest.DumpOnFailure, unittest.TestCase):
    procs = []
    tmp = None

    @classmethod
    def setUpClass(cls):
        cls.runner = hcpconsole.Runner()  # node, npm ci, chromium, the CJK font (or exit 77)
        cls.shots = hcpconsole.artifacts("gateway")
        cls.tmp = tempfile.mkdtemp(prefix="hcp-console-gw-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            cls.node = hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=COUNTY)
            cls.closed = [close_case(cls.node) for _ in range(CLOSED)]
            cls.open = cls.node.new_case()["id"]
            for rating in (5, 5, 4, 1):  # Art. 11: a unit's ratings, one negative
                cls.node.evaluate(rating)
            cls.sup = cls.gw.add_user("sup.li", "supervisor")
            cls.aud = cls.gw.add_user("aud.wang", "auditor")
            cls.wait_fed()
            r = cls.gw.post("/v1/directives", {"type": "correction", "case": cls.closed[0],
                                               "note": "请补充核实材料"})
            assert r.status == 201, r
            cls.correction = r.json()["seq"]
            wait_until(lambda: (cls.directive_state(cls.correction) == "applied",
                                cls.directive_state(cls.correction)),
                       20.0, "the correction applied at the county", interval=0.2)
        cls.month = hcptest.now().strftime("%Y-%m")

    @classmethod
    def wait_fed(cls):
        """Every case in the feed and every closed one under the log's checkpoint
        (a draw reads the checkpoint's entries)."""
        want = set(cls.closed)

        def probe():
            r = cls.gw.get("/log/checkpoint", token=None)
            if r.status != 200:
                return False, r.status
            size = int(r.text.split("\n")[1])
            got = set()
            for n in range((size + 255) // 256):
                w = min(256, size - 256 * n)
                t = cls.gw.get("/log/tile/entries/%03d%s" % (n, "" if w == 256 else ".p/%d" % w),
                               token=None)
                b, off = t.body, 0
                while t.status == 200 and off < len(b):
                    ln = b[off] << 8 | b[off + 1]
                    e = json.loads(b[off + 2:off + 2 + ln].decode())
                    if e["status"] == "closed":
                        got.add(e["service_request_id"])
                    off += 2 + ln
            return want <= got, len(got)
        wait_until(probe, 30.0, "the closed cases under the checkpoint", interval=0.2)

    @classmethod
    def directive_state(cls, seq):
        r = cls.gw.get("/v1/directives?county=%s" % COUNTY)
        for d in r.json()["directives"] if r.status == 200 else []:
            if d["seq"] == seq:
                return d["counties"][0]["state"] if d["counties"] else None
        return None

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, "HCP_CONSOLE_KEEP")

    def drive(self, phase, **extra):
        """Run tests/console/gateway.js in PHASE; its result object."""
        summary = self.gw.get("/v1/stats/summary").json()["figures"]
        cfg = {"month": self.month, "county": COUNTY, "prefecture": "630100",
               "closed": self.closed, "correction": self.correction,
               "received": summary["received"], "open": summary["open"],
               "supervisor": {"account": "sup.li", "token": self.sup},
               "auditor": {"account": "aud.wang", "token": self.aud}}
        cfg.update(extra)
        path = os.path.join(self.tmp, "cfg-%s.json" % phase)
        with open(path, "w") as f:
            json.dump(cfg, f, ensure_ascii=False)
        code, res, err = self.runner.run(
            "gateway.js", "http://127.0.0.1:%d" % self.gw.port, self.shots,
            env={"HCP_CONSOLE_PHASE": phase, "HCP_CONSOLE_CONFIG": path}, timeout=240)
        sys.stderr.write(err)
        self.assertIsNotNone(res, "gateway.js %s: no result line (exit %d)" % (phase, code))
        self.assertEqual((code, res.get("ok")), (0, True), res.get("error"))
        for shot in res["screenshots"]:
            self.assertGreater(os.path.getsize(shot), 5000, shot)
            with open(shot, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n", shot)
        self.assertTrue(res["cjk"], "no view's Chinese text checked")
        for view, probe in res["cjk"].items():  # harness.cjkCheck asserted it; shown here
            self.assertEqual(probe["boxes"], 0, (view, probe))
            self.assertEqual(probe["distinct"], len(probe["text"]), (view, probe))
        return res

    def test_1_supervisor(self):
        res = self.drive("supervisor")
        say("supervisor: %s", json.dumps(res, ensure_ascii=False)[:600])
        # the monthly form as the browser saved it: an XLSX workbook
        self.assertTrue(res["download"].endswith("统计表-西宁市-%s.xlsx" % self.month), res)
        with zipfile.ZipFile(res["download"]) as z:
            self.assertIn("xl/worksheets/sheet1.xml", z.namelist())
            sheet = z.read("xl/worksheets/sheet1.xml").decode()
            strings = z.read("xl/sharedStrings.xml").decode() \
                if "xl/sharedStrings.xml" in z.namelist() else sheet
            self.assertIn(self.closed[1], strings + sheet)
        # the draw and the finding the page made, as the gateway has them
        d = self.gw.get("/v1/spotchecks/%d" % res["draw"]).json()
        self.assertEqual(d["by"], "sup.li")
        self.assertEqual(d["beacon"], res["beacon"])
        f = [x for x in d["findings"] if x["case"] == res["finding_case"]]
        self.assertEqual(len(f), 1, d["findings"])
        self.assertEqual((f[0]["reached"], f[0]["rectified"], f[0]["satisfied"], f[0]["by"]),
                         (True, True, True, "sup.li"))
        # the download is in the access log, under the supervisor's name
        log = self.gw.get("/v1/access-log?account=sup.li").json()["entries"]
        self.assertIn("monthly:630100:%s" % self.month, [e["what"] for e in log])

    def test_2_auditor(self):
        res = self.drive("auditor")
        say("auditor: %s", json.dumps(res, ensure_ascii=False)[:600])
        self.assertEqual(res["menu"], ["访问日志"])
        for route, status in res["refused"].items():
            self.assertEqual(status, 403, route)

    def test_3_csrf(self):
        before = self.gw.get("/v1/directives?type=correction").json()["directives"]
        res = self.drive("csrf")
        say("csrf: %s", json.dumps(res, ensure_ascii=False)[:600])
        for what, r in res["forged"].items():
            self.assertEqual((r["status"], r["error"]), (403, "csrf_failed"), what)
        self.assertEqual(res["control"], 201)
        after = self.gw.get("/v1/directives?type=correction").json()["directives"]
        self.assertEqual(len(after), len(before) + 1, "only the control wrote")

    def test_4_expired(self):
        # sessions live in memory: restart the gateway with a 3 s idle limit
        self.assertEqual(self.gw.stop(), 0)
        self.gw.env["HCP_SESSION_IDLE_S"] = "3"
        self.gw.restart_same_ports()
        res = self.drive("expired", idle=3)
        say("expired: %s", json.dumps(res, ensure_ascii=False)[:600])
        self.assertEqual(res["after"], 401)


if __name__ == "__main__":
    hcptest.main("hcp-gateway")
