"""test_console_node.py — the node console (node/www, docs/consoles.md) and
the console sessions (daemon/session.c) on real hcp-node processes.

Usage: python3 test_console_node.py PATH/TO/hcp-node

Two nodes on loopback: A (630102) with the accounts clerk1 (clerk) and sup1
(supervisor) made by `hcp-node user add`, and a case received 10 days ago
(so its feedback deadline has passed: overdue); B (630103) with clerk2 and
HCP_SESSION_IDLE_S=3, where a session ends after three seconds without requests.

  test_1_sessions  the session routes without a browser: sign-in answers the
                   cookie (HttpOnly, SameSite=Strict) and a CSRF token; the
                   cookie stands in for the token on GET; a write needs the
                   CSRF header (none or another: 403 csrf_failed, nothing
                   written); a bearer request needs none; wrong account or
                   token 401; sign-out ends it (401 session_expired); B's
                   session expires when idle; the console files are served
                   without a token; GET /v1/cases/ID/steps and
                   /v1/cases/ID/personal (403 for a clerk, 422 without a
                   reason, logged for a supervisor); nothing secret in the log.
  test_2_browser   tests/console/node.js in Debian's chromium (puppeteer-core):
                   a clerk files a complaint and walks it to its close with
                   the allowed step buttons, sees refusals in Chinese with
                   their article, the overdue case in red, downloads the
                   month's form (CSV, XLSX) and register, prints the ledger;
                   refused: personal data for a clerk, a forged CSRF token,
                   directives for a clerk, an expired session (sign-in shown
                   again). A supervisor reads the personal data with a reason
                   (then in the access log). Screenshots and downloads are
                   kept in $HCP_CONSOLE_ARTIFACTS/node and checked to draw
                   Chinese with a CJK font.

Set-up (npm ci of tests/console, chromium, the CJK font): hcpconsole.py;
exits 77 (skipped) when they cannot be had.
"""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hcpconsole  # noqa: E402
import hcptest  # noqa: E402
from hcptest import days_ago  # noqa: E402

say = hcptest.sayer("console-node")
RUNNER = None


def setup_runner():
    global RUNNER
    RUNNER = hcpconsole.Runner()


def session(node, account, token):
    """Sign in; (cookie header value, csrf, the answer)."""
    r = node.post("/v1/session", {"account": account, "token": token}, token=None)
    assert r.status == 200, r
    cookie = r.headers["Set-Cookie"]
    return cookie.split(";")[0], r.json()["csrf"], r


class ConsoleNode(unittest.TestCase):
    tmp = None
    a = b = None

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="hcp-console-node-")
        cls.procs = []
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.a = hcptest.Node(county="630102", tmp=os.path.join(cls.tmp, "a"))
            os.makedirs(cls.a.tmp)
            cls.procs.append(cls.a)
            cls.a.start()
            cls.clerk = cls.a.add_user("clerk1", "clerk")
            cls.sup = cls.a.add_user("sup1", "supervisor")
            c = cls.a.new_case(at=days_ago(10))
            cls.overdue = c["id"]
            got = cls.a.get("/v1/cases/" + cls.overdue).json()
            assert got["overdue"], got
            cls.b = hcptest.Node(county="630103", tmp=os.path.join(cls.tmp, "b"),
                                 env={"HCP_SESSION_IDLE_S": "3"})
            os.makedirs(cls.b.tmp)
            cls.procs.append(cls.b)
            cls.b.start()
            cls.clerk2 = cls.b.add_user("clerk2", "clerk")

    @classmethod
    def tearDownClass(cls):
        try:
            for n in (cls.a, cls.b):
                err = n.stderr() if n is not None else ""
                for secret in (n.token if n else "", getattr(cls, "clerk", ""),
                               getattr(cls, "sup", ""), getattr(cls, "clerk2", "")):
                    assert not secret or secret not in err, "a token in the log"
        finally:
            hcptest.stop_all(cls.procs, cls.tmp, keep_env="HCP_CONSOLE_KEEP")

    def test_1_sessions(self):
        a = self.a
        ck, csrf, r = session(a, "clerk1", self.clerk)
        sc = r.headers["Set-Cookie"]
        self.assertRegex(sc, r"^hcp_session=[0-9a-f]{64}; Path=/; HttpOnly; SameSite=Strict$")
        self.assertEqual(r.json()["account"], "clerk1")
        self.assertEqual(r.json()["roles"], ["clerk"])
        self.assertRegex(csrf, r"^[0-9a-f]{64}$")
        self.assertNotIn(csrf, sc)
        # the cookie instead of the token
        g = a.get("/v1/session", token=None, headers={"Cookie": ck})
        self.assertEqual((g.status, g.json()["csrf"]), (200, csrf))
        self.assertNotIn("Set-Cookie", g.headers)
        self.assertEqual(a.get("/v1/cases", token=None, headers={"Cookie": ck}).status, 200)
        # writes: the CSRF header, equal to the session's
        body = hcptest.case_body()
        before = len(a.get("/v1/cases?limit=500").json()["cases"])
        for hdrs in ({"Cookie": ck}, {"Cookie": ck, "X-CSRF-Token": "0" * 64},
                     {"Cookie": ck, "X-CSRF-Token": csrf[:-1]}):
            w = a.post("/v1/cases", body, token=None, headers=hdrs)
            self.assertEqual((w.status, w.json()["error"]), (403, "csrf_failed"), hdrs)
        self.assertEqual(len(a.get("/v1/cases?limit=500").json()["cases"]), before)
        w = a.post("/v1/cases", body, token=None, headers={"Cookie": ck, "X-CSRF-Token": csrf})
        self.assertEqual(w.status, 201, w)
        self.assertEqual(w.json()["events"][0]["account"], "clerk1")
        self.assertEqual(a.post("/v1/cases", body, token=self.clerk).status, 201)  # bearer: no CSRF
        # refusals of the sign-in
        for acct, tok in (("clerk1", self.sup), ("sup1", self.clerk), ("nobody", self.clerk),
                          ("clerk1", "x")):
            s = a.post("/v1/session", {"account": acct, "token": tok}, token=None)
            self.assertEqual((s.status, s.json()["error"]), (401, "unauthorized"))
        self.assertEqual(a.post("/v1/session", raw=b"{", token=None).status, 400)
        self.assertEqual(a.post("/v1/session", {"account": "a"}, token=None).status, 400)
        adm = a.post("/v1/session", {"account": "admin", "token": a.token}, token=None)
        self.assertEqual(adm.json()["roles"], ["clerk", "supervisor", "auditor"])
        # an unknown or malformed cookie
        for bad in ("hcp_session=" + "0" * 64, "hcp_session=zz", "hcp_session=" + "a" * 300,
                    ck + "; " + ck):
            s = a.get("/v1/cases", token=None, headers={"Cookie": bad})
            self.assertEqual((s.status, s.json()["error"]), (401, "session_expired"), bad)
        self.assertEqual(a.get("/v1/session", token=None).json()["error"], "session_expired")
        # the console's own routes
        steps = a.get("/v1/cases/%s/steps" % self.overdue, token=None, headers={"Cookie": ck})
        self.assertEqual(steps.status, 200, steps)
        s = steps.json()
        self.assertEqual(s["record"]["complainant"], None)
        allowed = sorted(x["type"] for x in s["steps"] if x["allowed"])
        self.assertEqual(allowed, ["notify_staff", "verify_start"])
        fb = [d for d in s["deadlines"] if d["kind"] == "feedback_due"][0]
        self.assertTrue(fb["open"])
        self.assertLess(fb["working_days_left"], 0)
        p = a.get("/v1/cases/%s/personal?reason=x" % self.overdue, token=None,
                  headers={"Cookie": ck})
        self.assertEqual((p.status, p.json()["error"]), (403, "forbidden"))
        sck, scsrf, _ = session(a, "sup1", self.sup)
        p = a.get("/v1/cases/%s/personal" % self.overdue, token=None, headers={"Cookie": sck})
        self.assertEqual(p.status, 422)
        p = a.get("/v1/cases/%s/personal?reason=%%E5%%9B%%9E%%E8%%AE%%BF" % self.overdue,
                  token=None, headers={"Cookie": sck})
        self.assertEqual(p.status, 200)
        self.assertIsNotNone(p.json()["complainant"])
        log = a.get("/v1/access-log?account=sup1").json()["entries"]
        self.assertIn((self.overdue, "回访"), [(e["what"], e.get("reason")) for e in log])
        # the reason is kept in the log masked: a phone number typed into it is not
        p = a.get("/v1/cases/%s/personal?reason=call+13900001234+back" % self.overdue,
                  token=None, headers={"Cookie": sck})
        self.assertEqual(p.status, 200)
        last = a.get("/v1/access-log?account=sup1").json()["entries"][-1]
        self.assertEqual(last["what"], self.overdue)
        self.assertNotIn("13900001234", last["reason"])
        self.assertTrue(last["reason"].startswith("call "), last)
        p = a.get("/v1/cases/%s/personal?reason=%s" % (self.overdue, "x" * 304), token=None,
                  headers={"Cookie": sck})
        self.assertEqual((p.status, p.json()["error"]), (422, "invalid_field"))
        # files without a token; nothing else
        for f in ("/", "/index.html", "/console-app.js", "/console-rules.js", "/console-style.css"):
            g = a.get(f, token=None)
            self.assertEqual(g.status, 200, f)
            self.assertIn("default-src 'self'", g.headers["Content-Security-Policy"])
        self.assertEqual(a.get("/console-missing.js", token=None).status, 401)
        # sign-out
        d = a.request("DELETE", "/v1/session", token=None, headers={"Cookie": ck})
        self.assertEqual(d.status, 403)
        d = a.request("DELETE", "/v1/session", token=None,
                      headers={"Cookie": ck, "X-CSRF-Token": csrf})
        self.assertEqual(d.status, 204)
        self.assertIn("Max-Age=0", d.headers["Set-Cookie"])
        g = a.get("/v1/cases", token=None, headers={"Cookie": ck})
        self.assertEqual((g.status, g.json()["error"]), (401, "session_expired"))
        # B: idle for longer than its limit (3 s) ends the session; no request
        # in between, since each one would keep it alive
        bck, _, _ = session(self.b, "clerk2", self.clerk2)
        self.assertEqual(self.b.get("/v1/cases", token=None, headers={"Cookie": bck}).status, 200)
        time.sleep(5)
        g = self.b.get("/v1/session", token=None, headers={"Cookie": bck})
        self.assertEqual((g.status, g.json()["error"]), (401, "session_expired"))
        err = a.stderr()
        self.assertIn("session.signed_in account=clerk1", err)
        self.assertIn("session.signed_out account=clerk1", err)
        self.assertIn("session.refused account=nobody", err)
        self.assertNotIn(ck.split("=")[1], err)
        self.assertNotIn(csrf, err)

    def test_2_browser(self):
        art = hcpconsole.artifacts("node")
        code, result, err = RUNNER.run("node.js", "http://127.0.0.1:%d" % self.a.port, art, env={
            "HCP_CLERK_TOKEN": self.clerk, "HCP_SUP_TOKEN": self.sup,
            "HCP_OVERDUE_CASE": self.overdue,
            "HCP_SHORT_URL": "http://127.0.0.1:%d" % self.b.port,
            "HCP_SHORT_TOKEN": self.clerk2})
        sys.stderr.write(hcptest.tail(err))
        self.assertIsNotNone(result, "no result line from node.js (exit %d)" % code)
        self.assertTrue(result["ok"], result.get("error"))
        self.assertEqual(code, 0)
        say("result: %s", json.dumps({k: v for k, v in result.items() if k != "screenshots"},
                                     ensure_ascii=False))
        for shot in result["screenshots"]:
            self.assertTrue(os.path.getsize(shot) > 5000, shot)
        for key in ("cjk", "cjk_queue"):
            self.assertEqual(result[key]["boxes"], 0, result[key])
        # the walk happened at the node: the case is closed, by clerk1
        c = self.a.get("/v1/cases/" + result["case"]).json()
        self.assertEqual(c["status"], "closed")
        self.assertEqual({e.get("account") for e in c["events"] if e["type"] != "case_open"},
                         {"clerk1"})
        self.assertTrue(c["revisit"]["satisfied"])
        # the supervisor's read is in the access log
        log = self.a.get("/v1/access-log?account=sup1").json()["entries"]
        self.assertIn((result["case"], "回访核实投诉人联系方式"),
                      [(e["what"], e.get("reason")) for e in log])
        # the downloads: the month's form as CSV (BOM) and XLSX, the register
        csv, xlsx, kcsv = result["downloads"]
        with open(csv, "rb") as f:
            self.assertTrue(f.read(3) == b"\xef\xbb\xbf", csv)
        with open(xlsx, "rb") as f:
            self.assertEqual(f.read(2), b"PK")
        with open(kcsv, "rb") as f:
            self.assertIn("编号".encode("utf-8"), f.read())
        # the forged CSRF request filed nothing
        k = self.a.get("/v1/contacts?month=" + hcptest.now().strftime("%Y-%m")).json()
        self.assertNotIn("伪造请求", json.dumps(k, ensure_ascii=False))


if __name__ == "__main__":
    hcptest.main(before=setup_runner)
