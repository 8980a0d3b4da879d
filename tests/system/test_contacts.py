"""test_contacts.py — Art. 14's register: every call, visit and letter
(docs/reports.md).

Usage: python3 test_contacts.py PATH/TO/hcp-node PATH/TO/hcp-gateway

One gateway (plain tcp://) and two county nodes, 630102 and 630103 (Xining),
and 630202 (Haidong):
  test_1  a clerk registers contacts with and without a case, with a caller's
          name and phone, a summary that holds the phone; refusals (unknown
          channel, empty summary, a case of another county or unknown, a
          future time, an unknown field) write nothing.
  test_2  a later link: the contact becomes a case; linking again is 409; a
          link to an unknown contact 404.
  test_3  the month's register as a clerk: masked summaries, no caller, no
          access-log entry; as a supervisor: the caller and the original
          summary, the read in the access log; counts per channel.
  test_4  the contacts replicate: the gateway stores them (its head reaches
          the node's), aggregates the register per county and channel for
          supervisors without any personal data, filters by county and
          prefecture, refuses an auditor; the cases and the public feed are
          untouched by them.
  test_5  a node whose disk was replaced fetches its history back from the
          gateway: its register (contacts, links, callers) is the same.
"""
import datetime
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

import hcptest
from hcptest import wait_until

A, B, C = "630102", "630103", "630202"
CALLER_PHONE = "13812345678"


def cli(binary, *args):
    p = subprocess.run([binary] + list(args), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p.stdout.strip().splitlines()[-1]


def month_of(dt):
    return "%04d-%02d" % (dt.year, dt.month)


class Contacts(unittest.TestCase):
    procs = []
    tmp = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-contacts-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            cls.nodes = {c: hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=c)
                         for c in (A, B, C)}
            n = cls.nodes[A]
            cls.clerk = n.add_user("clerk1", "clerk")
            cls.sup = n.add_user("sup1", "supervisor")
            cls.aud = n.add_user("aud1", "auditor")
            gwbin = hcptest.path("hcp-gateway")
            cls.gsup = cli(gwbin, "user", "add", "--data", cls.gw.data, "--name", "gsup",
                           "--role", "supervisor")
            cls.gaud = cli(gwbin, "user", "add", "--data", cls.gw.data, "--name", "gaud",
                           "--role", "auditor")
            cls.month = month_of(hcptest.now())
            cls.ids = {}

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, None)

    def contact(self, body, want=201, node=A, token=None):
        n = self.nodes[node]
        r = n.post("/v1/contacts", body, token=token or self.clerk)
        self.assertEqual(r.status, want, (body, r))
        return r.json()

    # ---- tests ----
    def test_1_register(self):
        n = self.nodes[A]
        case = n.new_case()["id"]
        Contacts.case = case
        head = n.head()
        c1 = self.contact({"channel": "phone", "name": "王芳", "phone": CALLER_PHONE,
                           "summary": "王芳来电询问营业执照进度，回电" + CALLER_PHONE})
        self.assertEqual((c1["county"], c1["case"]), (A, None))
        c2 = self.contact({"channel": "visit", "summary": "来访反映窗口态度", "case": case,
                           "at": hcptest.iso(hcptest.now() - datetime.timedelta(hours=1))})
        self.assertEqual(c2["case"], case)
        c3 = self.contact({"channel": "letter", "summary": "来信建议延长办公时间"})
        c4 = self.contact({"channel": "12345", "summary": "热线转办"})
        self.ids.update(phone=c1["contact"], visit=c2["contact"], letter=c3["contact"],
                        hotline=c4["contact"])
        self.assertEqual(n.head(), head + 4)  # each one event of the log
        future = hcptest.iso(hcptest.now() + datetime.timedelta(hours=2))
        bad = [({"channel": "fax", "summary": "x"}, 422),
               ({"channel": "phone", "summary": ""}, 422),
               ({"channel": "phone"}, 422),
               ({"channel": "phone", "summary": "x", "case": "630103-20260101-0001"}, 422),
               ({"channel": "phone", "summary": "x", "case": "630102-20010101-0001"}, 422),
               ({"channel": "phone", "summary": "x", "at": future}, 422),
               ({"channel": "phone", "summary": "x", "extra": 1}, 422)]
        for body, want in bad:
            self.contact(body, want=want)
        self.assertEqual(n.post("/v1/contacts", raw=b"{nope", token=self.clerk).status, 400)
        self.assertEqual(n.post("/v1/contacts", {"channel": "phone", "summary": "x"},
                                token=self.aud).status, 403)
        self.assertEqual(n.head(), head + 4)  # refusals write nothing

    def test_2_link(self):
        n = self.nodes[A]
        r = n.post("/v1/contacts/%d/link" % self.ids["letter"], {"case": self.case},
                   token=self.clerk)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["contact"], r.json()["case"]), (self.ids["letter"], self.case))
        r = n.post("/v1/contacts/%d/link" % self.ids["letter"], {"case": self.case},
                   token=self.clerk)
        self.assertEqual((r.status, r.json()["error"]), (409, "already_linked"))
        r = n.post("/v1/contacts/%d/link" % self.ids["visit"], {"case": self.case},
                   token=self.clerk)
        self.assertEqual(r.status, 409)  # registered with its case already
        r = n.post("/v1/contacts/1/link", {"case": self.case}, token=self.clerk)
        self.assertEqual(r.status, 404)  # seq 1 is the case_open, not a contact
        r = n.post("/v1/contacts/999999/link", {"case": self.case}, token=self.clerk)
        self.assertEqual(r.status, 404)

    def test_3_month(self):
        n = self.nodes[A]
        r = n.get("/v1/contacts?month=" + self.month, token=self.clerk)
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertFalse(j["personal"])
        self.assertEqual(j["total"], 4)
        self.assertEqual(j["linked"], 2)
        self.assertEqual((j["by_channel"]["phone"], j["by_channel"]["visit"],
                          j["by_channel"]["letter"], j["by_channel"]["12345"]), (1, 1, 1, 1))
        for secret in (CALLER_PHONE, "王芳", "caller"):
            self.assertNotIn(secret, r.text)
        byid = {e["contact"]: e for e in j["contacts"]}
        self.assertEqual(byid[self.ids["letter"]]["case"], self.case)
        self.assertEqual(byid[self.ids["phone"]]["account"], "clerk1")
        self.assertEqual(n.get("/v1/access-log?account=clerk1", token=self.aud).json()["entries"],
                         [])
        r = n.get("/v1/contacts?month=" + self.month, token=self.sup)
        j = r.json()
        self.assertTrue(j["personal"])
        e = {e["contact"]: e for e in j["contacts"]}[self.ids["phone"]]
        self.assertEqual(e["caller"], {"name": "王芳", "phone": CALLER_PHONE})
        self.assertIn(CALLER_PHONE, e["summary"])
        log = n.get("/v1/access-log?account=sup1", token=self.aud).json()["entries"]
        self.assertEqual([x["what"] for x in log], ["contacts:" + self.month])
        r = n.get("/v1/contacts?month=2001-01", token=self.clerk)
        self.assertEqual(r.json()["total"], 0)
        for bad in ("", "?month=2026-1", "?month=abcd-ef", "?month=2026-13"):
            self.assertEqual(n.get("/v1/contacts" + bad, token=self.clerk).status, 400, bad)

    def test_4_replicated(self):
        # one contact at B and one at Haidong too
        self.contact({"channel": "web", "summary": "网信留言"}, node=B,
                     token=self.nodes[B].token)
        self.contact({"channel": "phone", "summary": "来电"}, node=C, token=self.nodes[C].token)
        for county, n in self.nodes.items():
            head = n.head()
            wait_until(lambda: (self.gw.counties()[county]["applied"] >= head, "behind"), 30,
                       "county %s replicated" % county)
        r = self.gw.get("/v1/contacts?month=" + self.month, token=self.gsup)
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertEqual(j["total"], 6)
        self.assertEqual(j["linked"], 2)
        per = {c["county"]: c for c in j["counties"]}
        self.assertEqual(per[A]["total"], 4)
        self.assertEqual(per[A]["by_channel"], {"phone": 1, "visit": 1, "letter": 1, "12345": 1})
        self.assertEqual(per[A]["name"], "城东区")
        self.assertEqual(per[B]["by_channel"], {"web": 1})
        for secret in (CALLER_PHONE, "王芳"):
            self.assertNotIn(secret, r.text)
        masked = [e for e in j["contacts"] if e["contact"] == self.ids["phone"]][0]["summary"]
        self.assertNotIn(CALLER_PHONE, masked)
        r = self.gw.get("/v1/contacts?month=%s&county=%s" % (self.month, B), token=self.gsup)
        self.assertEqual([c["county"] for c in r.json()["counties"]], [B])
        r = self.gw.get("/v1/contacts?month=%s&prefecture=630100" % self.month, token=self.gsup)
        self.assertEqual(sorted(c["county"] for c in r.json()["counties"]), [A, B])
        self.assertEqual(r.json()["total"], 5)
        self.assertEqual(self.gw.get("/v1/contacts?month=" + self.month, token=self.gaud).status,
                         403)
        self.assertEqual(self.gw.get("/v1/contacts?month=2026-13", token=self.gsup).status, 400)
        self.assertEqual(self.gw.get("/v1/contacts?month=%s&county=999999" % self.month,
                                     token=self.gsup).status, 400)
        # contacts change no case: only the case of test_1 is at the gateway for A,
        # nothing was flagged, and the public feed lists cases only
        self.assertEqual([c["id"] for c in self.gw.cases(A)], [self.case])
        self.assertEqual(self.gw.counties()[A]["rule_flags"], 0)
        feed = self.gw.get("/feed/requests.json?limit=500", token=None)
        self.assertEqual(feed.status, 200, feed)
        self.assertNotIn("来访反映窗口态度", feed.text)
        self.assertNotIn("contact", feed.text)

    def test_5_restored(self):
        n = self.nodes[A]
        before = n.get("/v1/contacts?month=" + self.month).json()  # admin: every role
        self.assertTrue(before["personal"])
        head = n.head()
        self.assertEqual(n.stop(signal.SIGTERM), 0, hcptest.tail(n.stderr()))
        d = os.path.join(self.tmp, "node-a-new-disk")
        os.mkdir(d, 0o700)
        shutil.copy(os.path.join(n.data, "api.token"), os.path.join(d, "api.token"))
        os.chmod(os.path.join(d, "api.token"), 0o600)
        os.mkdir(d + ".keys", 0o700)  # the seal key is kept apart from the data
        shutil.copy(n.data + ".keys/seal.key", d + ".keys/seal.key")
        os.chmod(d + ".keys/seal.key", 0o600)
        r = hcptest.Node(county=A, data=d, args=["--sweep-interval", "86400", "--gateway",
                                                 self.gw.url, "--insecure"])
        self.procs.append(r)
        r.start()
        wait_until(lambda: (r.get("/v1/sync").json()["log_head"] >= head, "fetching"), 30,
                   "the new disk to fetch its history back")
        after = r.get("/v1/contacts?month=" + self.month).json()
        self.assertEqual(after["contacts"], before["contacts"])
        self.assertEqual((after["total"], after["linked"]), (before["total"], before["linked"]))
        self.assertEqual(r.stop(signal.SIGTERM), 0, hcptest.tail(r.stderr()))


if __name__ == "__main__":
    hcptest.main("hcp-gateway")
