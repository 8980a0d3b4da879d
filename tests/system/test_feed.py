"""test_feed.py — the gateway's public disclosure feed (issue #5, docs/feed.md:
GET /feed/requests.json and GET /feed/atom.xml, no token).

Usage: python3 test_feed.py PATH/TO/hcp-node PATH/TO/hcp-gateway

One gateway (plain tcp://, --insecure) and two county nodes in different
prefectures (630102 城东区 of 630100 西宁市, 630202 乐都区 of 630200 海东市):
  test_1  a case posted at a node shows in the JSON and the Atom feed, with
          the Open311 names, soon after the gateway has it (polled).
  test_2  filters (county, prefecture, status, start_date/end_date,
          updated_after, service_request_id) and paging pick the right
          entries, newest update first; bad values are 400 naming them.
  test_3  conditional GET: 304 for an unchanged ETag or Last-Modified, 200
          with a new ETag once a change was committed.
  test_4  privacy: names, phones, ID numbers and e-mail addresses put in
          every field of a case (content, rectification result, …) appear in
          no public response.
  test_6  Open311 GeoReport v2 (issue #14): description (the content, masked)
          and the members hcp has no value for (null) on every entry; comma
          lists for status, service_request_id and service_code; the service
          list GET /feed/services.json.
  test_7  gzip: with Accept-Encoding: gzip every feed route answers
          Content-Encoding: gzip, bytes that decompress to exactly the plain
          answer, an ETag of its own (304 on it), Vary: Accept-Encoding on
          both; HEAD gives the headers of each without a body; q=0 is plain.
  test_5  issue #10: characters XML 1.0 cannot carry (U+FFFE, U+FFFF, C0 and
          C1 controls, non-characters) in published text leave the Atom feed
          well-formed and are in neither feed; short fields refuse them (422);
          phones, ID numbers and e-mail addresses written the usual ways
          (spaced, dotted, full-width) are masked.
HCP_FEED_KEEP=1 keeps the temporary directory.
"""
import gzip
import re
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import hcptest
from hcptest import case_body, days_ago, wait_until

A, B = "630102", "630202"  # 城东区 (西宁市 630100), 乐都区 (海东市 630200)
ATOM = "{http://www.w3.org/2005/Atom}"
SEEN = 15.0  # seconds for an event to travel node -> gateway -> feed

SECRETS = {
    "name": "投诉人欧阳娜娜",
    "phone": "13912345678",
    "id": "63010219900101123X",
    "org": "西宁欧阳娜娜商贸有限公司",
    "email": "nana.ouyang@example.com",
    "staff": "窗口人员司马青",
    "staff_phone": "0971-6123456",
    "verifier": "核实人诸葛明",
    "verifier_phone": "13887654321",
}
LEAK_TEXT = ("{name}，电话{phone}，身份证{id}，邮箱{email}，单位{org}；经办{staff}"
             "（{staff_phone}），核实{verifier}（{verifier_phone}），另留电话13600001111").format(**SECRETS)
NEEDLES = list(SECRETS.values()) + [
    "13912345678", "12345678", "9716123456", "6123456", "87654321", "190001011",
    "nana.ouyang", "ouyang", "13600001111", "00001111", "欧阳娜娜", "司马青", "诸葛明", "example.com"]


class Feed(hcptest.DumpOnFailure, unittest.TestCase):
    procs = []
    tmp = None
    gw = None
    nodes = {}
    ids = {}  # name -> case id

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-feedtest-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            for c in (A, B):
                cls.nodes[c] = hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=c)

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, "HCP_FEED_KEEP")

    # ---- helpers ----
    def public(self, path, **kw):
        """A GET without any token."""
        return self.gw.get(path, token=None, **kw)

    def feed(self, query=""):
        r = self.public("/feed/requests.json" + query)
        self.assertEqual(r.status, 200, (query, r))
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"))
        return r.json()

    def ids_of(self, query=""):
        return [e["service_request_id"] for e in self.feed(query)]

    def wait_feed(self, cid, pred=lambda e: True, what="entry"):
        """The entry of cid once the JSON feed has it and pred holds."""
        def probe():
            got = [e for e in self.feed("?service_request_id=" + cid)]
            return (len(got) == 1 and pred(got[0]), got[0] if len(got) == 1 else got)
        return wait_until(probe, SEEN, "%s of %s in the feed" % (what, cid), interval=0.05)

    def atom(self):
        r = self.public("/feed/atom.xml")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/atom+xml"))
        return r, ET.fromstring(r.body)

    # ---- tests ----
    def test_1_realtime(self):
        n = self.nodes[A]
        cid = n.new_case()["id"]
        self.ids["first"] = cid
        e = self.wait_feed(cid)
        for k in ("service_request_id", "status", "status_notes", "service_code", "service_name",
                  "agency_responsible", "requested_datetime", "updated_datetime",
                  "step_datetime", "recorded_datetime",
                  "expected_datetime", "county", "kind", "channel", "dimensions", "outcome",
                  "rectification_result", "revisited", "deadline_met"):
            self.assertIn(k, e)
        self.assertEqual((e["status"], e["county"], e["kind"], e["service_code"]),
                         ("open", A, "complaint", "SI-001"))
        self.assertEqual(e["agency_responsible"], "城东区政务服务中心")
        self.assertIsNotNone(e["expected_datetime"])
        self.assertEqual(e["dimensions"], ["attitude"])
        self.assertIs(e["deadline_met"], True)
        # a step committed at the gateway shows in both feeds within a second of it
        n.step(cid, {"type": "verify_start", "verifier": {"name": "核实人", "phone": "1"}})
        self.wait_feed(cid, lambda e: e["status_notes"] == "已受理，正在核实", "verifying")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.0:
            r, root = self.atom()
            if any(cid in (x.findtext(ATOM + "id") or "") and "正在核实" in
                   (x.findtext(ATOM + "title") or "") for x in root.iter(ATOM + "entry")):
                break
            time.sleep(0.05)
        else:
            self.fail("Atom lags the JSON feed by more than a second")
        self.assertEqual(root.findtext(ATOM + "title"), "青海省政务服务差评投诉处理结果公开")
        self.assertTrue(root.findtext(ATOM + "id"))
        self.assertTrue(root.findtext(ATOM + "updated"))
        self.assertTrue(any(l.get("rel") == "self" for l in root.findall(ATOM + "link")))
        for x in root.iter(ATOM + "entry"):
            self.assertTrue(x.findtext(ATOM + "id").startswith("urn:hcp:case:"))
            self.assertTrue(x.findtext(ATOM + "updated"))
            self.assertEqual(x.find(ATOM + "content").get("type"), "text")
            self.assertIn("/feed/requests.json?", x.find(ATOM + "link").get("href"))

    def test_2_filters_and_paging(self):
        a, b = self.nodes[A], self.nodes[B]
        old = b.new_case(at=days_ago(3))["id"]  # received three days ago
        closed = a.new_case(complainant=None)["id"]
        a.step(closed, {"type": "verify_start", "verifier": {"name": "甲", "phone": "1"}})
        a.step(closed, {"type": "verify_conclude", "outcome": "unsubstantiated"})
        a.step(closed, {"type": "feedback", "via": "sms", "text": "不属实"})
        a.step(closed, {"type": "close"})
        self.wait_feed(old)
        e = self.wait_feed(closed, lambda e: e["status"] == "closed", "closed")
        self.assertEqual(e["status_notes"], "经核实不属实，已反馈核实结果")
        everything = self.feed("?page_size=200")
        ids = [x["service_request_id"] for x in everything]
        ups = [x["updated_datetime"] for x in everything]
        self.assertEqual(ups, sorted(ups, reverse=True), "newest update first")
        for cid in (old, closed, self.ids["first"]):
            self.assertIn(cid, ids)
        self.assertEqual(len(ids), len(set(ids)), "one entry per case")
        # county, prefecture
        self.assertTrue(all(x.startswith(A) for x in self.ids_of("?county=" + A)))
        self.assertEqual(self.ids_of("?county=" + B), [old])
        self.assertEqual(self.ids_of("?county=630200"), [old])
        self.assertNotIn(old, self.ids_of("?county=630100"))
        self.assertIn(closed, self.ids_of("?county=630100"))
        self.assertEqual(self.ids_of("?county=632221"), [])
        # status
        self.assertIn(closed, self.ids_of("?status=closed"))
        self.assertTrue(all(x["status"] == "closed" for x in self.feed("?status=closed")))
        self.assertNotIn(closed, self.ids_of("?status=open"))
        # dates on requested_datetime
        today = hcptest.now().date().isoformat()
        self.assertNotIn(old, self.ids_of("?start_date=" + today))
        self.assertIn(closed, self.ids_of("?start_date=" + today))
        self.assertEqual(self.ids_of("?end_date=" + days_ago(2).replace("+", "%2B")), [old])
        self.assertEqual(self.ids_of("?county=%s&start_date=%s&end_date=%s" % (
            B, days_ago(4)[:10], days_ago(2)[:10])), [old])
        # updated_after: strictly later than the given instant
        cut = e["updated_datetime"]
        after = self.ids_of("?updated_after=" + cut.replace("+", "%2B"))
        self.assertNotIn(closed, after)
        self.assertTrue(all(x["updated_datetime"] > cut for x in
                            self.feed("?updated_after=" + cut.replace("+", "%2B"))))
        # paging
        pages = [self.ids_of("?page_size=1&page=%d" % p) for p in range(1, len(ids) + 2)]
        self.assertEqual([p[0] for p in pages[:-1]], ids)
        self.assertEqual(pages[-1], [])
        self.assertEqual(self.ids_of("?page_size=2&page=2"), ids[2:4])
        self.assertEqual(len(self.feed()), min(50, len(ids)))
        # bad values: 400 naming the parameter
        for q, param in (("county=63", "county"), ("county=abcdef", "county"),
                         ("status=pending", "status"), ("start_date=2026-13-01", "start_date"),
                         ("end_date=yesterday", "end_date"),
                         ("start_date=2026-02-01&end_date=2026-01-01", "end_date"),
                         ("updated_after=2026-01-01", "updated_after"), ("page=0", "page"),
                         ("page=x", "page"), ("page_size=201", "page_size"),
                         ("page_size=0", "page_size"), ("service_request_id=x", "service_request_id"),
                         # malformed, not merely wrong: never ignored (issue #10, item 8)
                         ("county=%00630102", "county"), ("county=" + "6" * 200, "county"),
                         ("status=open&status=closed", "status"), ("page=%zz", "page"),
                         ("updated_after=%ff%fe", "updated_after")):
            r = self.public("/feed/requests.json?" + q)
            self.assertEqual(r.status, 400, (q, r))
            self.assertIn(param, r.json()["detail"], q)
        r = self.public("/feed/atom.xml?county=1")
        self.assertEqual(r.status, 400, r)
        self.assertEqual(self.public("/feed/atom.xml?county=%00630102").status, 400)
        # the admin list too
        for q in ("county=%00630102", "status=" + "x" * 200, "overdue=maybe", "limit=5x"):
            r = self.gw.get("/v1/cases?" + q)
            self.assertIn(r.status, (400, 422), (q, r))
        # no token needed, and nothing but GET
        self.assertEqual(self.gw.request("POST", "/feed/requests.json", token=None).status, 405)

    def test_3_conditional_get(self):
        for path in ("/feed/requests.json", "/feed/atom.xml"):
            r = self.public(path)
            etag, lm = r.headers.get("ETag"), r.headers.get("Last-Modified")
            self.assertTrue(etag and lm, r.headers)
            r2 = self.public(path, headers={"If-None-Match": etag})
            self.assertEqual(r2.status, 304, r2)
            self.assertEqual(r2.body, b"")
            self.assertEqual(r2.headers.get("ETag"), etag)
            self.assertEqual(self.public(path, headers={"If-None-Match": '"other"'}).status, 200)
            time.sleep(1.1)  # Last-Modified has whole seconds
            self.assertEqual(self.public(path, headers={"If-Modified-Since": lm}).status, 304)
            self.assertEqual(self.public(path, headers={
                "If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"}).status, 200)
        r = self.public("/feed/requests.json")
        etag = r.headers["ETag"]
        only_a = self.public("/feed/requests.json?county=" + A)
        cid = self.nodes[B].new_case()["id"]
        self.wait_feed(cid)
        r2 = self.public("/feed/requests.json", headers={"If-None-Match": etag})
        self.assertEqual(r2.status, 200, r2)
        self.assertNotEqual(r2.headers["ETag"], etag)
        self.assertEqual(r2.json()[0]["service_request_id"], cid)
        # a page the change left as it was, rendered again for the new
        # version of the feed: the same bytes, the same ETag (a digest of
        # its parts, the entries by their log hashes: docs/feed.md "ETag")
        again = self.public("/feed/requests.json?county=" + A)
        self.assertEqual(again.body, only_a.body)
        self.assertEqual(again.headers["ETag"], only_a.headers["ETag"])
        r3 = self.public("/feed/requests.json?county=" + A,
                         headers={"If-None-Match": only_a.headers["ETag"]})
        self.assertEqual(r3.status, 304, r3)

    def test_4_privacy(self):
        n = self.nodes[A]
        s = SECRETS
        cid = n.new_case(
            complainant={"name": s["name"], "phone": s["phone"], "id_number": s["id"],
                         "organization": s["org"]},
            staff={"id": "S-0042", "name": s["staff"], "phone": s["staff_phone"]},
            content=LEAK_TEXT, window="W07 " + s["staff"],
            service_item={"code": "SI-002", "name": "营业执照（联系%s %s）" % (s["phone"], s["email"])},
            unit={"code": "U-1", "name": "城东区政务服务中心（%s）" % s["staff_phone"]})["id"]
        n.step(cid, {"type": "verify_start",
                     "verifier": {"name": s["verifier"], "phone": s["verifier_phone"]}})
        n.step(cid, {"type": "notify_staff"})
        n.step(cid, {"type": "verify_conclude", "outcome": "substantiated", "note": LEAK_TEXT})
        n.step(cid, {"type": "rectify_assign", "mode": "deferred",
                     "unit": {"code": "U-9", "name": "城东区市场监管局%s" % s["name"]}})
        n.step(cid, {"type": "rectify_done", "result": "已整改完毕。" + LEAK_TEXT})
        n.step(cid, {"type": "feedback", "via": "phone", "text": LEAK_TEXT})
        n.step(cid, {"type": "revisit", "by": s["verifier"], "satisfied": True, "note": LEAK_TEXT})
        e = self.wait_feed(cid, lambda e: e["revisited"], "the revisit")
        self.assertTrue(e["rectification_result"].startswith("已整改完毕。"), e)
        # the case's own personal data is masked whole, other numbers keep 3 + 2 digits
        self.assertIn("电话***********，", e["rectification_result"])
        self.assertIn("另留电话136******11", e["rectification_result"])
        self.assertIn("，身份证", e["rectification_result"])       # text around survives
        self.assertEqual(e["status_notes"], "已反馈整改结果，已回访")
        self.assertEqual(e["agency_responsible"], "城东区市场监管局*******")  # rectifying unit
        # the content is published as Open311's description, masked the same way
        self.assertTrue(e["description"].startswith("*******，电话***********，"), e)
        self.assertIn("另留电话136******11", e["description"])
        bodies = [self.public(p).body for p in (
            "/feed/requests.json?page_size=200", "/feed/requests.json?service_request_id=" + cid,
            "/feed/requests.json?county=" + A, "/feed/requests.json?status=open",
            "/feed/atom.xml", "/feed/atom.xml?county=630100")]
        for body in bodies:
            text = body.decode("utf-8")
            for needle in NEEDLES:
                self.assertNotIn(needle, text)
            self.assertNotIn("complainant", text)
            self.assertNotIn("staff", text)

    def test_5_unpublishable_and_written_numbers(self):
        n = self.nodes[A]
        odd = "\ufffe\uffff\u0085\u0001\u000b\ufdd0\U0001fffe\u009f"
        # free text keeps them at the node; the feed drops them
        written = ("电话+86 139 1234 5678，+86-139-1234-5678，139.1234.5678，139/1234/5678，"
                   "１３９1234５６７８，身份证6301 0219 8503 1742 3X，邮箱name＠example.org，"
                   "座机0971-1234567")
        cid = n.new_case(content="内容" + odd)["id"]
        n.step(cid, {"type": "verify_start", "verifier": {"name": "核实人", "phone": "1"}})
        n.step(cid, {"type": "verify_conclude", "outcome": "substantiated"})
        n.step(cid, {"type": "rectify_assign", "mode": "deferred",
                     "unit": {"code": "U-9", "name": "城东区市场监管局"}})
        n.step(cid, {"type": "rectify_done",
                     "result": "已整改" + odd + "完毕。" + written + "，2026-11-27办结"})
        e = self.wait_feed(cid, lambda e: e["rectification_result"], "the rectification")
        r, root = self.atom()  # ET.fromstring: raises on a document that is not well-formed
        self.assertTrue(e["rectification_result"].startswith("已整改完毕。电话+86 1"), e)
        self.assertTrue(e["rectification_result"].endswith("，2026-11-27办结"), e)
        entries = [x for x in root.iter(ATOM + "entry")
                   if cid in (x.findtext(ATOM + "id") or "")]
        self.assertTrue(entries, "the case is in the Atom feed")
        self.assertIn("已整改完毕。", entries[0].findtext(ATOM + "content"))
        texts = [x.findtext(ATOM + "content") or "" for x in root.iter(ATOM + "entry")]
        for x in self.feed("?page_size=200"):
            texts += [x[k] or "" for k in ("service_code", "service_name", "agency_responsible",
                                           "rectification_result", "description")]
        for body in (r.body, self.public("/feed/requests.json?page_size=200").body,
                     self.public("/feed/requests.json?service_request_id=" + cid).body):
            text = body.decode("utf-8")
            for ch in odd:
                self.assertNotIn(ch, text)
            for needle in ("1234", "5678", "8503", "1742", "example", "name＠"):
                self.assertNotIn(needle, text)
        # the invariant (core/redact.h): no 7 digits once separators are removed,
        # dates and case ids aside
        for text in texts:
            flat = re.sub(r"\d{6}-\d{8}-\d{4,9}|\d{4}-\d{1,2}-\d{1,2}", "#", text)
            flat = re.sub(r"[ \-./()\u3000\uff08\uff09\uff0d\uff0e\uff0f]", "", flat)
            self.assertIsNone(re.search(r"[0-9\uff10-\uff19]{7}", flat), text)
        # short fields refuse them at intake, naming the field
        for field, body in (("service_item.name", {"service_item": {"code": "SI-1",
                                                                    "name": "事项" + odd}}),
                            ("unit.name", {"unit": {"code": "U-1", "name": "单位\uffff"}})):
            r = n.post("/v1/cases", case_body(**body))
            self.assertEqual(r.status, 422, r)
            self.assertIn(field, r.json()["detail"])

    def test_6_open311(self):
        a, b = self.nodes[A], self.nodes[B]
        x = a.new_case(service_item={"code": "SI-777", "name": "社保卡补办"},
                       content="社保卡补办窗口排队两小时，电话13911112222")["id"]
        y = b.new_case(service_item={"code": "SI-778", "name": "公积金提取"})["id"]
        z = b.new_case(service_item={"code": "SI-778", "name": "公积金提取（新）"})["id"]
        e = self.wait_feed(z)
        self.wait_feed(x)
        e = self.wait_feed(x)
        self.assertEqual(e["description"], "社保卡补办窗口排队两小时，电话139******22")
        for k in ("service_notice", "address", "address_id", "zipcode", "lat", "long",
                  "media_url"):
            self.assertIn(k, e)
            self.assertIsNone(e[k], k)
        # comma lists (GeoReport v2)
        got = self.ids_of("?service_request_id=%s,%s,%s&page_size=200" % (x, y, x))
        self.assertEqual(sorted(got), sorted([x, y]))
        self.assertEqual(got, [i for i in self.ids_of("?page_size=200") if i in (x, y)])
        self.assertEqual(self.ids_of("?service_request_id=%s,%s&page_size=1&page=2" % (x, y)),
                         got[1:2])
        self.assertEqual(self.ids_of("?service_request_id=%s,%s&county=%s" % (x, y, A)), [x])
        self.assertEqual(sorted(self.ids_of("?service_code=SI-777,SI-778&page_size=200")),
                         sorted([x, y, z]))
        self.assertEqual(self.ids_of("?service_code=SI-778&county=%s" % A), [])
        both = self.ids_of("?status=open,closed&page_size=200")
        self.assertEqual(both, self.ids_of("?page_size=200"))
        for q, param in (("status=open,", "status"), ("service_request_id=%s,x" % x,
                                                      "service_request_id"),
                         ("service_code=,SI-1", "service_code")):
            r = self.public("/feed/requests.json?" + q)
            self.assertEqual(r.status, 400, (q, r))
            self.assertTrue(r.json()["detail"].startswith(param + ":"), r.json())
        atom = self.public("/feed/atom.xml?service_code=SI-777")
        self.assertEqual(atom.status, 200)
        self.assertEqual(len(ET.fromstring(atom.body).findall(ATOM + "entry")), 1)
        # the service list: one per code, named by its newest entry, by code
        r = self.public("/feed/services.json")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("application/json"))
        self.assertEqual(r.headers.get("Access-Control-Allow-Origin"), "*")
        svc = r.json()
        codes = [s["service_code"] for s in svc]
        self.assertEqual(codes, sorted(set(codes)))
        by = {s["service_code"]: s for s in svc}
        self.assertEqual(by["SI-778"], {"service_code": "SI-778", "service_name": "公积金提取（新）",
                                        "description": None, "metadata": False,
                                        "type": "realtime", "keywords": None, "group": None})
        self.assertEqual(by["SI-777"]["service_name"], "社保卡补办")
        self.assertEqual(self.public("/feed/services.json",
                                     headers={"If-None-Match": r.headers["ETag"]}).status, 304)
        c = a.new_case(service_item={"code": "SI-779", "name": "新事项"})["id"]
        self.wait_feed(c)
        self.assertIn("SI-779", [s["service_code"] for s in self.public("/feed/services.json")
                                 .json()])

    def test_7_gzip(self):
        cid = self.nodes[A].new_case()["id"]
        self.wait_feed(cid)
        gz = {"Accept-Encoding": "gzip"}
        for path in ("/feed/requests.json?page_size=2", "/feed/requests.json?page_size=1&page=2",
                     "/feed/atom.xml", "/feed/services.json"):
            for attempt in range(2):  # the second: the kept page's gzip form
                plain = self.public(path)
                z = self.public(path, headers=gz)
                self.assertEqual((plain.status, z.status), (200, 200), (path, plain, z))
                self.assertIsNone(plain.headers.get("Content-Encoding"), path)
                self.assertEqual(z.headers.get("Content-Encoding"), "gzip", path)
                for r in (plain, z):
                    self.assertEqual(r.headers.get("Vary"), "Accept-Encoding", path)
                self.assertEqual(gzip.decompress(z.body), plain.body, path)
                self.assertEqual(plain.headers.get("Link"), z.headers.get("Link"), path)
                self.assertEqual(plain.headers.get("Content-Type"), z.headers.get("Content-Type"))
                self.assertNotEqual(plain.headers["ETag"], z.headers["ETag"], path)
                self.assertEqual(z.headers["ETag"], plain.headers["ETag"][:-1] + '-gz"', path)
            # each representation is validated by its own ETag
            r = self.public(path, headers=dict(gz, **{"If-None-Match": z.headers["ETag"]}))
            self.assertEqual(r.status, 304, (path, r))
            self.assertEqual((r.body, r.headers.get("ETag")), (b"", z.headers["ETag"]))
            r = self.public(path, headers={"If-None-Match": z.headers["ETag"]})
            self.assertEqual(r.status, 200, (path, r))
            self.assertEqual(r.body, plain.body)
            # HEAD: the headers of the answer GET would give, no body
            for h, want in (({}, plain), (gz, z)):
                r = self.gw.request("HEAD", path, token=None, headers=h)
                self.assertEqual((r.status, r.body), (200, b""), (path, h))
                self.assertEqual(r.headers.get("Content-Length"), str(len(want.body)), (path, h))
                self.assertEqual(r.headers.get("Content-Encoding"),
                                 want.headers.get("Content-Encoding"), (path, h))
                self.assertEqual(r.headers["ETag"], want.headers["ETag"], (path, h))
        # refused or not offered: plain
        for ae in ("gzip;q=0", "identity", "br", "*;q=0"):
            r = self.public("/feed/requests.json", headers={"Accept-Encoding": ae})
            self.assertIsNone(r.headers.get("Content-Encoding"), ae)
            self.assertIn(cid, [e["service_request_id"] for e in r.json()], ae)
        self.assertEqual(self.public("/feed/requests.json", headers={
            "Accept-Encoding": "br, gzip;q=0.5"}).headers.get("Content-Encoding"), "gzip")


if __name__ == "__main__":
    hcptest.main("hcp-gateway")
