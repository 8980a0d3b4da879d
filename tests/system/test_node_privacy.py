"""Personal data at hcp-node: complainant name/phone/ID number/organization,
staff phone and verifier phone never appear in the raw bytes of the data
directory, of a backup, or in the node's log; the authorised case read
returns them, the case list does not, and personal reads land in the access
log (checked in the raw store: its lines are plain `time TAB who TAB what`).
Usage: python3 test_node_privacy.py PATH/TO/hcp-node"""
import os
import unittest

import hcptest
from hcptest import Node, case_body, days_ago, evaluation, run

# Distinctive personal strings, in the personal fields (free text: test_freetext_privacy.py).
PEOPLE = [
    {"name": "隐私测试人甲乙", "phone": "15987654321", "id_number": "63010219851203771X",
     "organization": "青海隐私测试有限公司"},
    {"name": "Privacy Tester Qwzx", "phone": "+86-971-8765-4329",
     "id_number": "630102197707077731", "organization": "Qwzx Secret Trading Co"},
    {"name": "匿名者丙丁戊", "phone": "13811112229", "id_number": None, "organization": None},
]
STAFF_PHONE = "18600007771"
VERIFIER = {"name": "核实员Vrfz", "phone": "17700008883"}
SECRETS = [STAFF_PHONE, VERIFIER["phone"]] + [
    v for p in PEOPLE for k, v in p.items() if v is not None]


def person(p):
    return {k: v for k, v in p.items() if v is not None}


class Privacy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = Node()
        cls.node.start()
        cls.ids = []
        n = cls.node
        staff = {"id": "S-77", "name": "窗口员工", "phone": STAFF_PHONE}
        try:
            for i, p in enumerate(PEOPLE):
                for rating in (5, 1):  # an evaluation event and a review case
                    j = n.evaluate(rating, complainant=person(p), staff=staff,
                                   content="隐私检查评价内容 %d" % i)
                    if j["case"]:
                        cls.ids.append(j["case"])
                c = n.new_case(complainant=person(p), staff=staff, at=days_ago(1),
                               content="隐私检查投诉内容 %d" % i)
                cls.ids.append(c["id"])
            # steps carrying the verifier's phone
            for cid in cls.ids[:3]:
                n.step(cid, {"type": "verify_start", "verifier": VERIFIER})
            # refused requests carrying personal data
            r = n.post("/v1/cases", case_body(kind="review", rating=5, staff=staff,
                                              complainant=person(PEOPLE[0])))
            assert r.status == 409, r
            r = n.post("/v1/evaluations", evaluation(1, complainant=person(PEOPLE[1]),
                                                     staff=staff, bogus=1))
            assert r.status == 422, r
            r = n.post("/v1/cases/%s/events" % cls.ids[0],
                       {"type": "verify_start", "verifier": VERIFIER})
            assert r.status == 409, r
        except BaseException:
            cls.node.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.node.cleanup()

    def assert_clean(self, blob, where):
        for s in SECRETS:
            self.assertNotIn(s.encode("utf-8"), blob, "%r found in %s" % (s, where))

    def data_files(self, d):
        for root, _, files in os.walk(d):
            for f in files:
                yield os.path.join(root, f)

    def test_1_read_returns_personal_data(self):
        n = self.node
        c = n.get("/v1/cases/" + self.ids[0]).json()
        self.assertEqual(c["complainant"]["name"], PEOPLE[0]["name"])
        self.assertEqual(c["complainant"]["phone"], PEOPLE[0]["phone"])
        self.assertEqual(c["complainant"]["id_number"], PEOPLE[0]["id_number"])
        self.assertEqual(c["complainant"]["organization"], PEOPLE[0]["organization"])
        self.assertEqual(c["staff"]["phone"], STAFF_PHONE)
        self.assertTrue(c["real_name"])
        raw = n.get("/v1/cases/" + self.ids[0]).text
        self.assertIn(VERIFIER["phone"], raw)
        for cid, p in zip(self.ids[2::2], PEOPLE[1:]):
            got = n.get("/v1/cases/" + cid).json()["complainant"]
            self.assertEqual(got["name"], p["name"])
            self.assertEqual(got["phone"], p["phone"])

    def test_2_list_has_no_personal_data(self):
        n = self.node
        for q in ("", "?status=verifying", "?status=received", "?overdue=false&limit=500"):
            r = n.get("/v1/cases" + q)
            self.assertEqual(r.status, 200, r)
            self.assert_clean(r.body, "GET /v1/cases" + q)
        got = [c["id"] for c in n.get("/v1/cases?limit=500").json()["cases"]]
        for cid in self.ids:
            self.assertIn(cid, got)
        for path in ("/metrics", "/v1/sync", "/healthz"):
            self.assert_clean(n.get(path).body, path)

    def test_3_access_log(self):
        n = self.node
        cid = self.ids[1]
        # the access log names the account of the token, never a header's name
        code, out, err = run(["user", "add", "--data", n.data, "--name", "reader-Pv3x",
                              "--role", "supervisor"])
        self.assertEqual(code, 0, err)
        tok = out.strip().splitlines()[-1]
        n.get("/v1/cases/" + cid, token=tok, headers={"X-HCP-User": "forged-Pv3x"})
        n.get("/v1/cases?limit=500", token=tok, headers={"X-HCP-User": "lister-Lq8y"})
        month = n.get("/v1/cases/" + cid).json()["received_at"][:7]
        n.get("/v1/ledger?month=" + month, token=tok, headers={"X-HCP-User": "ledger-Kz4w"})
        with open(os.path.join(n.data, "data.mdb"), "rb") as f:
            raw = f.read()
        self.assertIn(b"\treader-Pv3x\t" + cid.encode(), raw,
                      "the personal read is not in the access log")
        self.assertIn(b"\treader-Pv3x\tledger:" + month.encode(), raw,
                      "the ledger read is not in the access log")
        for forged in (b"forged-Pv3x", b"lister-Lq8y", b"ledger-Kz4w"):
            self.assertNotIn(forged, raw, "a caller-supplied name reached the store")

    def test_4_raw_bytes(self):
        n = self.node
        n.get("/v1/cases/" + self.ids[2])
        # live, then a backup, then after a clean stop
        for f in self.data_files(n.data):
            with open(f, "rb") as fh:
                self.assert_clean(fh.read(), f)
        out = os.path.join(n.tmp, "privacy-backup.mdb")
        code, _, err = run(["backup", "--data", n.data, "--out", out, "--quiet"])
        self.assertEqual(code, 0, err)
        with open(out, "rb") as fh:
            self.assert_clean(fh.read(), "backup")
        self.assertEqual(n.stop(), 0)
        files = list(self.data_files(n.data))
        self.assertIn(os.path.join(n.data, "data.mdb"), files)
        for f in files:
            with open(f, "rb") as fh:
                blob = fh.read()
            self.assert_clean(blob, f)
        # content without a number or address to mask is stored as written: the grep sees it
        with open(os.path.join(n.data, "data.mdb"), "rb") as fh:
            self.assertIn("隐私检查投诉内容 0".encode(), fh.read())
        with open(n.stderr_path, "rb") as fh:
            log = fh.read()
        self.assertIn(b"http.request", log)
        self.assert_clean(log, "stderr")
        self.assert_clean(n.stderr().encode("utf-8"), "stderr (all starts)")


if __name__ == "__main__":
    hcptest.main()
