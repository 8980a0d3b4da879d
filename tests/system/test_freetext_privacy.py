"""test_freetext_privacy.py — personal data typed into free text (issue #10,
docs/access.md, docs/codec.md "Free text").

Usage: python3 test_freetext_privacy.py PATH/TO/hcp-node PATH/TO/hcp-gateway

A phone, an 18-digit ID number and an e-mail address are typed into the
content of an evaluation, of a review and of a complaint, and into the free
text of every step of the complaint (notes, reasons, results, feedback
text, by, via, window). Then, with a gateway (tcp://, --insecure) and one
node:
  test_1  the node's GET /v1/cases/ID gives every text back as typed, and
          that read is in the access log;
  test_2  the node's case list and ledger, the gateway's case list and the
          public feed show the masked text only;
  test_3  the raw bytes of both data directories (live and after a clean
          stop), a node backup and both logs hold none of the three;
          `hcp-node verify` passes; a node restored from the gateway gets
          the originals back and stores them sealed too.
HCP_FREETEXT_KEEP=1 keeps the temporary directory.
"""
import json
import os
import tempfile
import unittest

import hcptest
from hcptest import days_ago, run, wait_until

COUNTY = "630102"
PHONE = "13987650421"
ID_NUMBER = "630102199212125678"
EMAIL = "zhuoma.freetext@example.org"
SECRETS = [PHONE, ID_NUMBER, EMAIL]
TEXT = "请回电%s，身份证号%s，邮箱%s。" % (PHONE, ID_NUMBER, EMAIL)
SHORT = "联系%s %s" % (PHONE, EMAIL)  # for the short fields (by, via, window)


class FreeText(unittest.TestCase):
    procs = []
    tmp = None
    gw = None
    node = None
    cid = None     # the complaint that went through every step
    review = None  # the review case opened by a rating of 1
    steps = []     # (type, field, value) typed

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-freetext-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            cls.node = hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=COUNTY,
                                                name="node-a")
            cls.record()

    @classmethod
    def record(cls):
        n = cls.node
        n.evaluate(5, content=TEXT, window=SHORT)
        cls.review = n.evaluate(1, content=TEXT)["case"]
        t = lambda h: days_ago(1, hours=3 - h)  # noqa: E731 — h hours after the start
        cls.cid = cid = n.new_case(content=TEXT, window=SHORT, at=t(0))["id"]
        typed = [
            {"type": "verify_start", "verifier": {"name": "核实人", "phone": "0971-1111111"}},
            {"type": "notify_staff"},
            {"type": "dispute_file", "by": SHORT, "reason": TEXT},
            {"type": "dispute_decide", "outcome": "upheld", "note": TEXT},
            {"type": "verify_conclude", "outcome": "substantiated", "note": TEXT},
            {"type": "rectify_assign", "unit": {"code": "U-9", "name": "某科室"},
             "mode": "deferred"},
            None,  # rectify_extend: its day depends on the calendar
            {"type": "rectify_done", "result": TEXT},
            {"type": "feedback", "via": SHORT, "text": TEXT},
            {"type": "revisit", "by": SHORT, "satisfied": True, "note": TEXT},
            {"type": "close"},
        ]
        c = None
        filer = n.add_user("filer1", "clerk")  # not the account that decides (docs/rules.md)
        for i, body in enumerate(typed):
            at = t(0.2 * (i + 1))
            if body is None:  # rectify_extend, the reason typed
                c = n.extend(cid, c, at, TEXT)[0]
                continue
            body = dict(body, at=at) if body["type"] != "close" else body
            c = n.step(cid, body, token=filer if body["type"] == "dispute_file" else "default")
        assert c["status"] == "closed", c

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, "HCP_FREETEXT_KEEP")

    # ---- helpers ----
    def assert_masked(self, blob, where):
        if isinstance(blob, str):
            blob = blob.encode("utf-8")
        for s in SECRETS:
            at = blob.find(s.encode("utf-8"))
            self.assertEqual(at, -1, "%r found in %s: ...%r..." % (s, where, blob[at - 40:at + 60]))

    def assert_files_clean(self, d):
        n = 0
        for root, _, files in os.walk(d):
            for f in files:
                path = os.path.join(root, f)
                with open(path, "rb") as fh:
                    self.assert_masked(fh.read(), path)
                n += 1
        self.assertGreater(n, 0, d)

    def wait_gateway_closed(self):
        def probe():
            got = [c for c in self.gw.cases(COUNTY) if c["id"] == self.cid]
            return (len(got) == 1 and got[0]["status"] == "closed", got)
        return wait_until(probe, 20.0, "the gateway to have the closed case", interval=0.1)

    # ---- tests ----
    def test_1_node_personal_read_gives_originals(self):
        n = self.node
        r = n.get("/v1/cases/" + self.cid)
        self.assertEqual(r.status, 200, r)
        c = r.json()
        self.assertEqual(c["content"], TEXT)
        self.assertEqual(c["window"], SHORT)
        self.assertEqual(c["rectification"]["result"], TEXT)
        got = {}
        for ev in c["events"]:
            for k in ("content", "note", "reason", "result", "text", "by", "via"):
                if k in ev and ev[k] is not None:
                    got.setdefault((ev["type"], k), ev[k])
        for key, want in ((("case_open", "content"), TEXT), (("dispute_file", "by"), SHORT),
                          (("dispute_file", "reason"), TEXT), (("dispute_decide", "note"), TEXT),
                          (("verify_conclude", "note"), TEXT), (("rectify_extend", "reason"), TEXT),
                          (("rectify_done", "result"), TEXT), (("feedback", "via"), SHORT),
                          (("feedback", "text"), TEXT), (("revisit", "by"), SHORT),
                          (("revisit", "note"), TEXT)):
            self.assertEqual(got.get(key), want, key)
        self.assertEqual(n.get("/v1/cases/" + self.review).json()["content"], TEXT)
        log = n.get("/v1/access-log?account=admin").json()["entries"]
        self.assertIn(self.cid, [e["what"] for e in log], "the personal read is not in the access log")

    def test_2_views_show_masked_text(self):
        n = self.node
        r = n.get("/v1/cases?limit=500")
        self.assertEqual(r.status, 200, r)
        self.assert_masked(r.body, "node GET /v1/cases")
        rows = {c["id"]: c for c in r.json()["cases"]}
        for cid in (self.cid, self.review):
            content = rows[cid]["content"]
            self.assertTrue(content.startswith("请回电139"), content)
            self.assertIn("*", content)
            self.assertIn("，身份证号", content)  # the text around survives
        self.assertIn("*", rows[self.cid]["rectification"]["result"])
        month = rows[self.cid]["received_at"][:7]
        r = n.get("/v1/ledger?month=" + month)
        self.assertEqual(r.status, 200, r)
        self.assert_masked(r.body, "node GET /v1/ledger")
        row = [x for x in r.json()["rows"] if x["case_id"] == self.cid][0]
        self.assertIn("*", row["content"])
        self.assertIn("*", row["rectification_result"])
        self.assertEqual(row["complainant"]["phone"], "13900000000")  # a personal read still
        # the gateway's list and the public feed
        self.wait_gateway_closed()
        r = self.gw.get("/v1/cases?county=" + COUNTY + "&limit=500")
        self.assertEqual(r.status, 200, r)
        self.assert_masked(r.body, "gateway GET /v1/cases")
        got = [c for c in r.json()["cases"] if c["id"] == self.cid][0]
        self.assertEqual(got["content"], rows[self.cid]["content"])
        for path in ("/feed/requests.json?service_request_id=" + self.cid,
                     "/feed/requests.json?page_size=200", "/feed/atom.xml"):
            r = self.gw.get(path, token=None)
            self.assertEqual(r.status, 200, (path, r))
            self.assert_masked(r.body, path)
        e = json.loads(self.gw.get("/feed/requests.json?service_request_id=" + self.cid,
                                   token=None).body)[0]
        self.assertIn("*", e["rectification_result"])
        # the gateway keeps the originals, sealed, for a personal read
        r = self.gw.get("/v1/cases/" + self.cid)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["content"], TEXT)

    def test_3_raw_bytes_verify_and_restore(self):
        n, g = self.node, self.gw
        self.wait_gateway_closed()
        self.assert_files_clean(n.data)
        self.assert_files_clean(g.data)
        out = os.path.join(n.tmp, "freetext-backup.mdb")
        code, _, err = run(["backup", "--data", n.data, "--out", out, "--quiet"])
        self.assertEqual(code, 0, err)
        with open(out, "rb") as fh:
            self.assert_masked(fh.read(), "backup")
        head = n.head()
        self.assertEqual(n.stop(), 0)
        code, outp, err = run(["verify", "--data", n.data])
        self.assertEqual(code, 0, outp + err)
        self.assert_files_clean(n.data)
        self.assert_masked(n.stderr(), "node stderr")
        # a new node for the county fetches its history back from the gateway
        r = hcptest.start_plain_node(self.gw, self.tmp, self.procs, county=COUNTY,
                                     name="node-restored")
        wait_until(lambda: (r.head() == head, r.head()), 20.0, "the restore", interval=0.1)
        wait_until(lambda: (r.get("/v1/cases/" + self.cid).status == 200, "not yet"), 10.0,
                   "the restored case")
        c = r.get("/v1/cases/" + self.cid).json()
        self.assertEqual(c["content"], TEXT)
        self.assertEqual(c["rectification"]["result"], TEXT)
        self.assertEqual([e.get("note") for e in c["events"] if e["type"] == "revisit"], [TEXT])
        self.assertEqual(r.stop(), 0)
        self.assert_files_clean(r.data)
        self.assertEqual(g.stop(), 0)
        self.assert_files_clean(g.data)
        self.assert_masked(g.stderr(), "gateway stderr")
        self.assert_masked(r.stderr(), "restored node stderr")


if __name__ == "__main__":
    hcptest.main("hcp-gateway")
