"""test_accounts.py — named accounts and roles at both daemons (docs/access.md).

Usage: python3 test_accounts.py PATH/TO/hcp-node PATH/TO/hcp-gateway

One gateway (plain tcp://, --insecure) and one county node replicating to it.
Accounts are added with `hcp-node user add` / `hcp-gateway user add` while
the daemons run; each test uses the tokens those commands printed:
  test_1  user add prints the token as its last line (and --help, list, bad
          role); the new accounts work at once, without a restart.
  test_2  a clerk posts cases and handling steps and lists the work queue,
          but never sees personal data (case, step replies, ledger) and is
          refused the access log; nothing the clerk did is in the access log.
  test_3  a supervisor reads personal data; the access log names the
          supervisor's account even with a forged X-HCP-User header.
  test_4  an auditor reads GET /v1/access-log filtered by from, to and
          account, and is refused every other route; malformed filters 400.
  test_5  a dispute filed by one account cannot be decided by the same
          account (409), a clerk cannot decide one (403), another
          supervisor can; each event names the account that recorded it.
  test_6  user disable: the account's token is refused (401) at once.
  test_7  the gateway: supervisors read a case with personal data, each read
          logged with the account in the gateway's own access log, which its
          auditor reads; the auditor is refused the case; no clerk role there.
  test_8  the seal key lives in DIR.keys/, not in the data directory; an old
          DIR/seal.key is moved there once at start.
"""
import datetime
import os
import shutil
import subprocess
import tempfile
import unittest

import hcptest
from hcptest import Node, case_body, wait_until

COUNTY = "630102"
PHONE = "13912345678"
IDNO = "63010219900101123X"


def cli(binary, *args):
    """Run a daemon's subcommand; (exit code, stdout, stderr)."""
    p = subprocess.run([binary] + list(args), capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


class Accounts(unittest.TestCase):
    procs = []
    tmp = None
    gw = None
    node = None
    tok = {}  # account name -> token

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-accttest-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            cls.node = hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=COUNTY,
                                                name="node")

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, None)

    # ---- helpers ----
    @classmethod
    def add(cls, binary, data, name, role):
        """user add; the token is the last line printed."""
        code, out, err = cli(binary, "user", "add", "--data", data, "--name", name,
                             "--role", role)
        assert code == 0, (code, out, err)
        token = out.strip().splitlines()[-1]
        assert len(token) == 64 and all(c in "0123456789abcdef" for c in token), out
        cls.tok[name] = token
        return token

    def as_(self, daemon, name, method, path, body=None, headers=None):
        return daemon.request(method, path, body=body, token=self.tok[name], headers=headers)

    def new_case(self, name):
        r = self.as_(self.node, name, "POST", "/v1/cases",
                     case_body(complainant={"name": "投诉人乙", "phone": PHONE,
                                            "id_number": IDNO}))
        self.assertEqual(r.status, 201, r)
        return r

    def step(self, name, cid, body, want=200):
        r = self.as_(self.node, name, "POST", "/v1/cases/%s/events" % cid, body)
        self.assertEqual(r.status, want, (body, r))
        return r

    def access_log(self, daemon, query=""):
        r = self.as_(daemon, "aud1" if daemon is self.node else "gaud", "GET",
                     "/v1/access-log" + query)
        self.assertEqual(r.status, 200, r)
        return r.json()

    # ---- tests ----
    def test_1_user_add(self):
        node_bin = hcptest.binary()
        code, out, _ = cli(node_bin, "user", "--help")
        self.assertEqual(code, 0)
        self.assertIn("user add", out)
        code, _, _ = cli(node_bin, "user", "add", "--data", self.node.data, "--name", "x",
                         "--role", "king")
        self.assertEqual(code, 2)
        code, _, err = cli(node_bin, "user", "add", "--data", self.node.data, "--name", "admin",
                           "--role", "clerk")
        self.assertEqual(code, 2, err)
        r = self.node.get("/v1/cases", token="0" * 64)
        self.assertEqual(r.status, 401, r)
        # added while the node runs, usable at once
        self.add(node_bin, self.node.data, "clerk1", "clerk")
        for name, role in (("sup1", "supervisor"), ("sup2", "supervisor"), ("aud1", "auditor")):
            self.add(node_bin, self.node.data, name, role)
        r = self.as_(self.node, "clerk1", "GET", "/v1/cases")
        self.assertEqual(r.status, 200, r)
        code, _, err = cli(node_bin, "user", "add", "--data", self.node.data, "--name", "clerk1",
                           "--role", "clerk")
        self.assertEqual(code, 1, "a name is never reused: " + err)
        code, out, err = cli(node_bin, "user", "list", "--data", self.node.data)
        self.assertEqual(code, 0, err)
        rows = {l.split("\t")[0]: l.split("\t")[1:3] for l in out.splitlines()}
        self.assertEqual(rows["clerk1"], ["clerk", "active"])
        self.assertEqual(rows["aud1"], ["auditor", "active"])
        self.assertNotIn(self.tok["clerk1"], out)
        # only a hash is stored: the token's text is nowhere in the store
        with open(os.path.join(self.node.data, "data.mdb"), "rb") as f:
            self.assertNotIn(self.tok["sup1"].encode(), f.read())

    def test_2_clerk(self):
        r = self.new_case("clerk1")
        self.assertNotIn(PHONE, r.text)
        self.assertNotIn(IDNO, r.text)
        cid = r.json()["id"]
        r = self.step("clerk1", cid, {"type": "verify_start",
                                      "verifier": {"name": "核实人", "phone": "13800000009"}})
        self.assertNotIn("13800000009", r.text)
        self.assertNotIn(PHONE, r.text)
        r = self.as_(self.node, "clerk1", "GET", "/v1/cases/" + cid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["id"], cid)
        for secret in (PHONE, IDNO, "13800000009"):
            self.assertNotIn(secret, r.text)
        r = self.as_(self.node, "clerk1", "GET", "/v1/cases?limit=500")
        self.assertEqual(r.status, 200, r)
        self.assertIn(cid, [c["id"] for c in r.json()["cases"]])
        month = hcptest.now().date().strftime("%Y-%m")
        r = self.as_(self.node, "clerk1", "GET", "/v1/ledger?month=" + month)
        self.assertEqual(r.status, 200, r)
        self.assertIn(cid, r.text)
        self.assertNotIn(PHONE, r.text)
        r = self.as_(self.node, "clerk1", "GET", "/v1/access-log")
        self.assertEqual(r.status, 403, r)
        self.assertEqual(r.json()["error"], "forbidden")
        self.assertIn("auditor", r.json()["detail"])
        log = self.access_log(self.node, "?account=clerk1")
        self.assertEqual(log["entries"], [], "a clerk read no personal data")

    def test_3_supervisor(self):
        cid = self.new_case("clerk1").json()["id"]
        r = self.as_(self.node, "sup1", "GET", "/v1/cases/" + cid,
                     headers={"X-HCP-User": "forged-Zq9"})
        self.assertEqual(r.status, 200, r)
        self.assertIn(PHONE, r.text)
        self.assertIn(IDNO, r.text)
        month = hcptest.now().date().strftime("%Y-%m")
        r = self.as_(self.node, "sup1", "GET", "/v1/ledger?month=" + month,
                     headers={"X-HCP-User": "forged-Zq9"})
        self.assertIn(PHONE, r.text)
        entries = self.access_log(self.node)["entries"]
        self.assertNotIn("forged-Zq9", str(entries))
        mine = [e for e in entries if e["what"] == cid]
        self.assertEqual([e["account"] for e in mine], ["sup1"], entries)
        self.assertIn("ledger:" + month, [e["what"] for e in entries if e["account"] == "sup1"])

    def test_4_auditor(self):
        n = self.node
        cid = self.new_case("sup2").json()["id"]  # sup2's reply carries personal data: logged
        for path in ("/v1/cases", "/v1/cases/" + cid, "/v1/ledger?month=2026-01", "/v1/sync",
                     "/metrics"):
            r = self.as_(n, "aud1", "GET", path)
            self.assertEqual(r.status, 403, (path, r))
            self.assertEqual(r.json()["error"], "forbidden")
        r = self.as_(n, "aud1", "POST", "/v1/cases", case_body())
        self.assertEqual(r.status, 403, r)
        today = hcptest.now().date()
        log = self.access_log(n, "?account=sup2&from=%s&to=%s" % (today, today))
        self.assertEqual([(e["account"], e["what"]) for e in log["entries"]], [("sup2", cid)])
        self.assertIsNone(log["next"])
        yesterday = today - datetime.timedelta(days=1)
        self.assertEqual(self.access_log(n, "?to=%s" % yesterday)["entries"], [])
        tomorrow = today + datetime.timedelta(days=1)
        self.assertEqual(self.access_log(n, "?from=%s" % tomorrow)["entries"], [])
        everyone = self.access_log(n)["entries"]
        self.assertTrue({"sup1", "sup2"} <= {e["account"] for e in everyone}, everyone)
        page = self.access_log(n, "?limit=1")
        self.assertEqual(len(page["entries"]), 1)
        nxt = self.access_log(n, "?limit=1&after=%d" % page["next"])["entries"]
        self.assertEqual(nxt[0]["n"], everyone[1]["n"])
        for q in ("?from=yesterday", "?to=2026-13-01", "?account=a&account=b", "?limit=0",
                  "?after=x"):
            r = self.as_(n, "aud1", "GET", "/v1/access-log" + q)
            self.assertEqual(r.status, 400, (q, r))

    def test_5_dispute(self):
        cid = self.new_case("clerk1").json()["id"]
        self.step("clerk1", cid, {"type": "notify_staff"})
        self.step("sup1", cid, {"type": "dispute_file", "by": "S-0042", "reason": "并非本人"})
        r = self.step("clerk1", cid, {"type": "dispute_decide", "outcome": "upheld"}, want=403)
        self.assertIn("supervisor", r.json()["detail"])
        r = self.step("sup1", cid, {"type": "dispute_decide", "outcome": "upheld"}, want=409)
        self.assertEqual(r.json()["error"], "dispute_same_account")
        c = self.step("sup2", cid, {"type": "dispute_decide", "outcome": "upheld"}).json()
        self.assertEqual(c["status"], "received")
        by_type = {e["type"]: e.get("account") for e in c["events"]}
        self.assertEqual(by_type, {"case_open": "clerk1", "notify_staff": "clerk1",
                                   "dispute_file": "sup1", "dispute_decide": "sup2"})

    def test_6_disable(self):
        node_bin = hcptest.binary()
        self.add(node_bin, self.node.data, "temp1", "clerk")
        self.assertEqual(self.as_(self.node, "temp1", "GET", "/v1/cases").status, 200)
        code, out, err = cli(node_bin, "user", "disable", "--data", self.node.data,
                             "--name", "temp1")
        self.assertEqual(code, 0, err)
        r = self.as_(self.node, "temp1", "GET", "/v1/cases")
        self.assertEqual(r.status, 401, r)
        code, out, _ = cli(node_bin, "user", "list", "--data", self.node.data)
        self.assertIn("temp1\tclerk\tdisabled", out)
        code, _, _ = cli(node_bin, "user", "disable", "--data", self.node.data, "--name", "nobody")
        self.assertEqual(code, 1)

    def test_7_gateway(self):
        gw = self.gw
        cid = self.new_case("clerk1").json()["id"]
        wait_until(lambda: (gw.get("/v1/cases/" + cid).status == 200, "not yet"),
                   20.0, "the case at the gateway", interval=0.1)
        code, _, _ = cli(hcptest.path("hcp-gateway"), "user", "add", "--data", gw.data, "--name", "gclerk",
                         "--role", "clerk")
        self.assertEqual(code, 2, "the gateway has no clerks")
        self.add(hcptest.path("hcp-gateway"), gw.data, "gsup", "supervisor")
        self.add(hcptest.path("hcp-gateway"), gw.data, "gaud", "auditor")
        r = self.as_(gw, "gsup", "GET", "/v1/cases/" + cid, headers={"X-HCP-User": "forged"})
        self.assertEqual(r.status, 200, r)
        self.assertIn(PHONE, r.text)
        for path in ("/v1/cases/" + cid, "/v1/cases", "/v1/counties"):
            r = self.as_(gw, "gaud", "GET", path)
            self.assertEqual(r.status, 403, (path, r))
            self.assertNotIn(PHONE, r.text)
        self.assertEqual(self.as_(gw, "gsup", "GET", "/v1/access-log").status, 403)
        log = self.access_log(gw, "?account=gsup")["entries"]
        self.assertEqual([(e["account"], e["what"]) for e in log], [("gsup", cid)])
        every = self.access_log(gw)["entries"]
        self.assertEqual([e["account"] for e in every if e["what"] == cid], ["admin", "gsup"])
        self.assertEqual(gw.get("/healthz", token=None).status, 200)

    def test_8_seal_key_apart(self):
        self.assertFalse(os.path.exists(os.path.join(self.node.data, "seal.key")))
        self.assertTrue(os.path.exists(self.node.data + ".keys/seal.key"))
        self.assertFalse(os.path.exists(os.path.join(self.gw.data, "seal.key")))
        # an installation from before: DIR/seal.key is moved once, at start
        tmp = tempfile.mkdtemp(prefix="hcp-keymove-", dir=self.tmp)
        n = Node(county="630103", tmp=tmp, args=["--sweep-interval", "86400"])
        try:
            n.start()
            cid = n.new_case(complainant={"name": "乙", "phone": PHONE})["id"]
            self.assertEqual(n.stop(), 0)
            os.rename(n.data + ".keys/seal.key", os.path.join(n.data, "seal.key"))
            n.start()
            self.assertIn("seal.key_moved", n.stderr())
            self.assertFalse(os.path.exists(os.path.join(n.data, "seal.key")))
            self.assertIn(PHONE, n.get("/v1/cases/" + cid).text)
            self.assertEqual(n.stop(), 0)
            # both present: refused, saying what to do
            shutil.copy(n.data + ".keys/seal.key", os.path.join(n.data, "seal.key"))
            code, _, err = hcptest.run(["--data", n.data, "--county", "630103",
                                        "--listen-http", "127.0.0.1:0"], timeout=30)
            self.assertNotEqual(code, 0)
            self.assertIn("both", err)
        finally:
            n.cleanup()


if __name__ == "__main__":
    hcptest.main("hcp-gateway")
