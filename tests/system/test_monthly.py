"""test_monthly.py — the monthly statistics form (统计表) per prefecture
(docs/reports.md).

Usage: python3 test_monthly.py PATH/TO/hcp-node PATH/TO/hcp-gateway

One gateway (plain tcp://) and three county nodes: 630102 and 630103 of
Xining (630100), and 630202 of Haidong (630200). Cases are received last
month (Asia/Shanghai) at each, handled to different ends (substantiated and
rectified, unsubstantiated, untouched, a dispute found mistaken), and one
this month; the gateway's form for Xining and last month is then fetched:
  test_1  JSON: the seed's title, header lines, the nine columns as printed,
          one row per Xining case of the month (Haidong's and this month's
          absent), contact columns filled from the personal data, 结果运用
          in words as docs/reports.md maps them.
  test_2  CSV: a UTF-8 BOM; read back with the csv module: title, header
          lines, the nine headers, the rows, 填表人 and the phone given.
  test_3  XLSX read by openpyxl (Debian python3-openpyxl): title, header
          lines, nine headers and rows; and by LibreOffice headless converting
          it to CSV when soffice is installed (Debian libreoffice-calc-nogui).
  test_4  a month without cases answers 204; malformed queries 400; an
          auditor's token 403 and none 401.
  test_5  every download is in the gateway's access log under the
          supervisor's account; the public feed carries none of the personal
          data the form showed.
  test_6  the node's own rows: a clerk gets them without personal data
          (nothing logged), a supervisor with it (logged), 204 for an empty
          month, the three formats.
  test_7  Accept-Encoding: gzip gets JSON and CSV gzipped (Content-Encoding,
          Vary), decompressing to exactly the plain answer, the second time
          from the kept deflated rows; XLSX and the 204 month as they were;
          gzip;q=0, br, identity, *;q=0 get the plain answer, * the gzipped
          one; the node's form the same.
  test_8  no personal data in plain at rest: the gateway's and the nodes'
          store files hold none of the complainants' names and phones nor
          the verifiers' phones (the rows keep them sealed).
  test_9  24 downloads at once (JSON, CSV, gzipped JSON, XLSX): each is
          exactly the form (the gateway writes a kept form from its own
          buffer, lent to the HTTP layer until sent); HEAD: the headers and
          Content-Length without a body.
"""
import csv
import datetime
import gzip
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import zipfile

import hcptest
from hcptest import wait_until

TITLE = "青海省政务服务差评投诉核实整改情况统计表"
COLUMNS = ["序号", "差评投诉时间", "差评投诉人及联系方式", "差评投诉内容",
           "被差评投诉单位及工作人员联系方式", "整改处理结果", "核实人及联系方式", "结果运用", "备注"]
XINING, HAIDONG = "630100", "630200"
A, B, C = "630102", "630103", "630202"  # two Xining counties, one Haidong
FILLER_PHONE = "0971-6155517"


def months():
    """(last month's (year, month), this month's) in Asia/Shanghai."""
    now = hcptest.now()
    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last = first - datetime.timedelta(days=1)
    return (last.year, last.month), (now.year, now.month)


def at(ym, day, hour):
    """An RFC 3339 time in month ym (Asia/Shanghai)."""
    return hcptest.iso(datetime.datetime(ym[0], ym[1], day, hour, 0, tzinfo=hcptest.CST))


def mstr(ym):
    return "%04d-%02d" % ym


def load_openpyxl():
    """Debian's python3-openpyxl (scripts/deps.sh), also when this Python is
    not Debian's own (its packages live in /usr/lib/python3/dist-packages)."""
    try:
        import openpyxl
    except ImportError:
        sys.path.append("/usr/lib/python3/dist-packages")
        import openpyxl
    return openpyxl


def office(say=hcptest.sayer("monthly")):
    """LibreOffice for test_3's second reader: installed by `scripts/deps.sh
    office` when missing and this is root; its absence only skips that part."""
    if shutil.which("soffice") is None and os.geteuid() == 0:
        say("soffice missing: bash scripts/deps.sh office")
        p = subprocess.run(["bash", os.path.join(hcptest.ROOT, "scripts", "deps.sh"), "office"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
        if p.returncode != 0:
            say("could not install libreoffice-calc-nogui:\n%s", hcptest.tail(p.stdout + p.stderr))


def cli(binary, *args):
    p = subprocess.run([binary] + list(args), capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p.stdout.strip().splitlines()[-1]


class Monthly(unittest.TestCase):
    procs = []
    tmp = None
    expect = {}  # case id -> (complainant phone or None, 结果运用)

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-monthly-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            cls.started = time.monotonic()
            cls.nodes = {c: hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=c)
                         for c in (A, B, C)}
            gwbin = hcptest.path("hcp-gateway")
            cls.sup = cli(gwbin, "user", "add", "--data", cls.gw.data, "--name", "prefecture-sup",
                          "--role", "supervisor")
            cls.aud = cli(gwbin, "user", "add", "--data", cls.gw.data, "--name", "aud",
                          "--role", "auditor")
            cls.last, cls.this = months()
            cls.populate()

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, None)

    @classmethod
    def new_case(cls, county, when, phone, **over):
        n = cls.nodes[county]
        body = hcptest.case_body(at=when, **over)
        if phone is None:
            body["complainant"] = None
        else:
            body["complainant"] = {"name": "投诉人" + county[-1], "phone": phone}
        r = n.post("/v1/cases", body)
        assert r.status == 201, r
        return r.json()["id"]

    @classmethod
    def populate(cls):
        last = cls.last
        # A: substantiated and rectified -> 纳入年度考核
        cid = cls.new_case(A, at(last, 3, 10), "13911110001",
                           content="窗口态度差，联系电话13911110001")
        n = cls.nodes[A]
        n.step(cid, {"type": "verify_start", "at": at(last, 3, 11),
                     "verifier": {"name": "核实人甲", "phone": "13700000001"}})
        n.step(cid, {"type": "verify_conclude", "outcome": "substantiated", "note": "属实",
                     "at": at(last, 3, 12)})
        n.step(cid, {"type": "rectify_assign", "unit": {"code": "U-1", "name": "某科室"},
                     "mode": "immediate", "at": at(last, 3, 13)})
        n.step(cid, {"type": "rectify_done", "result": "已当面致歉并立行立改", "at": at(last, 3, 14)})
        cls.expect[cid] = ("13911110001", "纳入年度考核", "核实人甲 13700000001")
        # A: unsubstantiated -> 不纳入考核; anonymous
        cid = cls.new_case(A, at(last, 9, 9), None, content="办理慢")
        n.step(cid, {"type": "verify_start", "at": at(last, 9, 10),
                     "verifier": {"name": "核实人乙", "phone": "13700000002"}})
        n.step(cid, {"type": "verify_conclude", "outcome": "unsubstantiated", "note": "不属实",
                     "at": at(last, 9, 11)})
        cls.expect[cid] = (None, "不纳入考核", "核实人乙 13700000002")
        # B: untouched -> 处理中; B: a dispute found mistaken -> 不予采纳
        cid = cls.new_case(B, at(last, 12, 15), "13911110003", content="材料要求重复")
        cls.expect[cid] = ("13911110003", "处理中", "")
        nb = cls.nodes[B]
        cid = cls.new_case(B, at(last, 20, 9), "13911110004", kind="review", rating=1,
                           content="差评")
        nb.step(cid, {"type": "verify_start", "at": at(last, 20, 10),
                      "verifier": {"name": "核实人丙", "phone": "13700000004"}})
        nb.step(cid, {"type": "notify_staff", "at": at(last, 20, 11)})
        clerk = nb.add_user("clerk-b", "clerk")
        nb.step(cid, {"type": "dispute_file", "by": "窗口人员甲", "reason": "群众误评",
                      "document": "申请书-1", "at": at(last, 20, 12)}, token=clerk)
        sup = nb.add_user("sup-b", "supervisor")
        nb.step(cid, {"type": "dispute_decide", "outcome": "mistaken", "note": "误评",
                      "at": at(last, 20, 13)}, token=sup)
        cls.expect[cid] = ("13911110004", "不予采纳", "核实人丙 13700000004")
        # Haidong, same month: not in Xining's form; Xining this month: not either
        cls.other = cls.new_case(C, at(last, 5, 10), "13911110009")
        cls.later = cls.new_case(A, hcptest.iso(hcptest.now() - datetime.timedelta(minutes=5)),
                                 "13911110008")
        # everything at the gateway, the nodes' first sweeps included (they
        # mark these cases overdue: the forms change with them)
        hcptest.after_first_sweep(cls.started)
        for county, n in cls.nodes.items():
            head = n.head()
            wait_until(lambda: (cls.gw.counties()[county]["applied"] >= head, "behind"), 30,
                       "county %s replicated" % county)

    def form(self, fmt="json", month=None, pref=XINING, token=None, phone=FILLER_PHONE):
        q = "/v1/reports/monthly?month=%s&prefecture=%s&format=%s" % (
            month or mstr(self.last), pref, fmt)
        if phone:
            q += "&phone=" + phone
        return self.gw.get(q, token=token or self.sup)

    # ---- tests ----
    def test_1_json(self):
        r = self.form("json")
        self.assertEqual(r.status, 200, r)
        self.assertIn("attachment", r.headers.get("Content-Disposition", ""))
        j = r.json()
        self.assertEqual(j["title"], TITLE)
        self.assertEqual(j["columns"], COLUMNS)
        self.assertEqual(j["填报地区(单位盖章)"], "西宁市")
        self.assertEqual(j["填表人"], "prefecture-sup")
        self.assertEqual(j["填表人联系电话"], FILLER_PHONE)
        today = hcptest.now()
        self.assertEqual(j["填表日期"], "%04d年%02d月%02d日" % (today.year, today.month, today.day))
        ids = [row["case_id"] for row in j["rows"]]
        self.assertEqual(sorted(ids), sorted(self.expect))
        self.assertNotIn(self.other, ids)
        self.assertNotIn(self.later, ids)
        self.assertEqual([row["序号"] for row in j["rows"]], list(range(1, len(ids) + 1)))
        for row in j["rows"]:
            phone, use, verifier = self.expect[row["case_id"]]
            self.assertEqual(set(row), set(COLUMNS) | {"case_id"})
            self.assertEqual(row["结果运用"], use, row)
            self.assertEqual(row["核实人及联系方式"], verifier, row)
            if phone is None:
                self.assertEqual(row["差评投诉人及联系方式"], "匿名")
            else:
                self.assertIn(phone, row["差评投诉人及联系方式"])
            self.assertIn("0971-0000000", row["被差评投诉单位及工作人员联系方式"])  # staff phone
            self.assertTrue(row["差评投诉时间"].startswith(mstr(self.last)), row)
            self.assertIn(row["case_id"], row["备注"])
        first = [row for row in j["rows"] if self.expect[row["case_id"]][1] == "纳入年度考核"][0]
        self.assertEqual(first["整改处理结果"], "已当面致歉并立行立改")
        self.assertIn("13911110001", first["差评投诉内容"])  # the original text: a personal read

    def test_2_csv(self):
        r = self.form("csv")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["Content-Type"].startswith("text/csv"))
        self.assertTrue(r.body.startswith(b"\xef\xbb\xbf"), r.body[:8])
        rows = list(csv.reader(io.StringIO(r.body.decode("utf-8-sig"), newline="")))
        self.assertEqual(rows[0], [TITLE])
        self.assertEqual(rows[1][0], "填报地区(单位盖章)：西宁市")
        self.assertTrue(rows[1][1].startswith("填表日期："), rows[1])
        self.assertEqual(rows[2], COLUMNS)
        body = rows[3:3 + len(self.expect)]
        self.assertEqual([row[0] for row in body], [str(i + 1) for i in range(len(body))])
        self.assertTrue(all(len(row) == 9 for row in body))
        self.assertEqual(sorted(row[7] for row in body),
                         sorted(v[1] for v in self.expect.values()))
        foot = rows[3 + len(self.expect)]
        self.assertEqual(foot, ["填表人：prefecture-sup", "填表人联系电话：" + FILLER_PHONE])
        self.assertTrue(rows[-1][0].startswith("说明："))

    def xlsx_rows(self, data):
        openpyxl = load_openpyxl()
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
        ws = wb.worksheets[0]
        rows = [["" if v is None else str(v) for v in row] for row in ws.iter_rows(values_only=True)]
        wb.close()
        return rows

    def test_3_xlsx(self):
        r = self.form("xlsx")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(zipfile.is_zipfile(io.BytesIO(r.body)))
        rows = self.xlsx_rows(r.body)
        self.assertEqual(rows[0][0], TITLE)
        self.assertEqual(rows[1][0], "填报地区(单位盖章)：西宁市")
        self.assertTrue(rows[1][5].startswith("填表日期："), rows[1])
        self.assertEqual(rows[2], COLUMNS)
        body = rows[3:3 + len(self.expect)]
        self.assertEqual([row[0] for row in body], [str(i + 1) for i in range(len(body))])
        self.assertEqual(sorted(row[8].split("；")[0].split(" ")[1] for row in body),
                         sorted(self.expect))
        self.assertEqual(sorted(row[7] for row in body),
                         sorted(v[1] for v in self.expect.values()))
        self.assertEqual(rows[3 + len(self.expect)][0], "填表人：prefecture-sup")
        soffice = shutil.which("soffice")
        if soffice is None:
            print("LibreOffice (soffice) not installed: its conversion is not checked")
            return
        d = tempfile.mkdtemp(dir=self.tmp)
        src = os.path.join(d, "form.xlsx")
        with open(src, "wb") as f:
            f.write(r.body)
        env = dict(os.environ, HOME=d)  # a private profile
        p = subprocess.run([soffice, "--headless", "--norestore",
                            "-env:UserInstallation=file://" + d + "/profile",
                            "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1",
                            "--outdir", d, src], capture_output=True, text=True, timeout=180,
                           env=env)
        out = os.path.join(d, "form.csv")
        self.assertTrue(os.path.exists(out), (p.returncode, p.stdout, p.stderr))
        with open(out, encoding="utf-8-sig", newline="") as f:
            lo = list(csv.reader(f))
        self.assertEqual(lo[0][0], TITLE)
        self.assertEqual(lo[2], COLUMNS)
        self.assertEqual(sorted(row[7] for row in lo[3:3 + len(self.expect)]),
                         sorted(v[1] for v in self.expect.values()))

    def test_4_empty_and_refusals(self):
        r = self.form("json", month="2001-01")
        self.assertEqual((r.status, r.body), (204, b""))
        r = self.form("xlsx", month="2001-01")
        self.assertEqual(r.status, 204)
        r = self.form("json", pref=HAIDONG, month=mstr(self.this))
        self.assertEqual(r.status, 204)  # Haidong's only case is last month's
        self.assertEqual(self.form("json", pref=HAIDONG).status, 200)
        for bad in ("month=2026-13&prefecture=630100", "month=2026-01&prefecture=630102",
                    "month=2026-01", "month=2026-01&prefecture=630100&format=pdf",
                    "month=2026-01&prefecture=630100&phone=abc",
                    "month=2026-01&month=2026-02&prefecture=630100"):
            r = self.gw.get("/v1/reports/monthly?" + bad, token=self.sup)
            self.assertEqual(r.status, 400, (bad, r))
        self.assertEqual(self.form("json", token=self.aud).status, 403)
        r = self.gw.get("/v1/reports/monthly?month=%s&prefecture=630100" % mstr(self.last),
                        token=None)
        self.assertEqual(r.status, 401)

    def test_5_access_log_and_public(self):
        before = self.gw.get("/v1/access-log?account=prefecture-sup", token=self.aud)
        self.assertEqual(before.status, 200, before)
        n0 = len(before.json()["entries"])
        self.assertEqual(self.form("csv").status, 200)
        entries = self.gw.get("/v1/access-log?account=prefecture-sup",
                              token=self.aud).json()["entries"]
        self.assertEqual(len(entries), n0 + 1)
        self.assertEqual(entries[-1]["what"], "monthly:630100:%s" % mstr(self.last))
        self.assertEqual(entries[-1]["account"], "prefecture-sup")
        # the empty month read nothing personal: not logged
        self.assertEqual(self.form("json", month="2001-01").status, 204)
        entries2 = self.gw.get("/v1/access-log?account=prefecture-sup",
                               token=self.aud).json()["entries"]
        self.assertEqual(len(entries2), n0 + 1)
        feed = self.gw.get("/feed/requests.json?limit=500", token=None)
        self.assertEqual(feed.status, 200, feed)
        for secret in ("13911110001", "13911110003", "13700000001", "投诉人2"):
            self.assertNotIn(secret, feed.text)

    def test_6_node_rows(self):
        n = self.nodes[A]
        clerk = n.add_user("clerk-a", "clerk")
        sup = n.add_user("sup-a", "supervisor")
        aud = n.add_user("aud-a", "auditor")
        q = "/v1/reports/monthly?month=%s&format=" % mstr(self.last)
        r = n.get(q + "json", token=clerk)
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertFalse(j["personal"])
        self.assertEqual(j["填报地区(单位盖章)"], "城东区")
        self.assertEqual(len(j["rows"]), 2)  # A's two cases of last month
        for secret in ("13911110001", "13700000001", "0971-0000000"):
            self.assertNotIn(secret, r.text)
        self.assertEqual(n.get(q + "csv", token=clerk).status, 200)
        log = n.get("/v1/access-log?account=clerk-a", token=aud).json()["entries"]
        self.assertEqual(log, [])
        r = n.get(q + "json", token=sup)
        self.assertTrue(r.json()["personal"])
        self.assertIn("13911110001", r.text)
        rows = self.xlsx_rows(n.get(q + "xlsx", token=sup).body)
        self.assertEqual(rows[2], COLUMNS)
        log = n.get("/v1/access-log?account=sup-a", token=aud).json()["entries"]
        self.assertEqual([e["what"] for e in log], ["monthly:%s" % mstr(self.last)] * 2)
        r = n.get("/v1/reports/monthly?month=2001-01", token=sup)
        self.assertEqual(r.status, 204)
        self.assertEqual(n.get(q + "json", token=aud).status, 403)


    def test_7_gzip(self):
        q = "/v1/reports/monthly?month=%s&prefecture=%s&format=" % (mstr(self.last), XINING)

        def get(fmt, ae, month=None, node=None, token=None):
            h = {"Accept-Encoding": ae} if ae is not None else {}
            path = q + fmt if month is None else q.replace(mstr(self.last), month) + fmt
            if node is not None:
                path = "/v1/reports/monthly?month=%s&format=%s" % (mstr(self.last), fmt)
            return (node or self.gw).get(path, token=token or self.sup, headers=h)

        for fmt in ("json", "csv"):
            plain = get(fmt, None)
            self.assertEqual(plain.status, 200, plain)
            self.assertNotIn("Content-Encoding", plain.headers)
            self.assertEqual(plain.headers.get("Vary"), "Accept-Encoding")
            for ae in ("gzip", "gzip", "gzip, deflate, br, zstd", "*", "x-gzip;q=0.5"):
                z = get(fmt, ae)
                self.assertEqual(z.status, 200, z)
                self.assertEqual(z.headers.get("Content-Encoding"), "gzip", (fmt, ae))
                self.assertEqual(z.headers.get("Vary"), "Accept-Encoding")
                self.assertEqual(z.headers["Content-Type"], plain.headers["Content-Type"])
                self.assertEqual(z.headers["Content-Disposition"],
                                 plain.headers["Content-Disposition"])
                self.assertEqual(int(z.headers["Content-Length"]), len(z.body))
                self.assertEqual(gzip.decompress(z.body), plain.body, (fmt, ae))
            for ae in ("gzip;q=0", "br", "identity", "*;q=0", "gzip;q=0, *", "deflate"):
                r = get(fmt, ae)
                self.assertEqual(r.status, 200, r)
                self.assertNotIn("Content-Encoding", r.headers, (fmt, ae))
                self.assertEqual(r.body, plain.body, (fmt, ae))
        x = get("xlsx", "gzip")
        self.assertEqual(x.status, 200, x)
        self.assertNotIn("Content-Encoding", x.headers)
        self.assertTrue(x.body.startswith(b"PK"))
        r = get("json", "gzip", month="2001-01")
        self.assertEqual((r.status, r.body), (204, b""))
        self.assertNotIn("Content-Encoding", r.headers)
        # the node's form, built from its cases, gzipped the same way
        n = self.nodes[A]
        sup = n.add_user("sup-gz", "supervisor")
        plain = get("csv", None, node=n, token=sup)
        z = get("csv", "gzip", node=n, token=sup)
        self.assertEqual((plain.status, z.status), (200, 200))
        self.assertEqual(z.headers.get("Content-Encoding"), "gzip")
        self.assertEqual(gzip.decompress(z.body), plain.body)

    def test_9_lent_bytes_concurrent_and_head(self):
        # the gateway writes a kept form straight from its buffer and takes
        # the buffer back only when the bytes are out: downloads at once,
        # plain and gzipped, each exactly the form; HEAD the same headers
        # without a body
        base = "/v1/reports/monthly?month=%s&prefecture=%s&format=" % (mstr(self.last), XINING)
        want = {}
        for fmt, ae in (("json", None), ("csv", None), ("json", "gzip"), ("xlsx", None)):
            h = {"Accept-Encoding": ae} if ae else {}
            r = self.gw.get(base + fmt, token=self.sup, headers=h)
            self.assertEqual(r.status, 200, r)
            want[(fmt, ae)] = r
        got, errors = [], []

        def one(key):
            fmt, ae = key
            h = {"Accept-Encoding": ae} if ae else {}
            try:
                got.append((key, self.gw.get(base + fmt, token=self.sup, headers=h)))
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))

        threads = [threading.Thread(target=one, args=(k,)) for k in list(want) * 6]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(len(got), len(threads))
        # a case may change meanwhile (a node's sweep marks one overdue, and
        # its remark says so): each answer is the form before or after, whole
        after = {}
        for key in want:
            h = {"Accept-Encoding": key[1]} if key[1] else {}
            after[key] = self.gw.get(base + key[0], token=self.sup, headers=h)
        for key, r in got:
            self.assertEqual(r.status, 200, (key, r))
            if key[0] == "xlsx":  # a workbook written per download: its zip stamps differ
                self.assertTrue(r.body.startswith(b"PK"))
                continue
            plain = (lambda b: gzip.decompress(b)) if key[1] else (lambda b: b)
            self.assertIn(plain(r.body), (plain(want[key].body), plain(after[key].body)), key)
        before = len(self.gw.get(base + "json", token=self.sup).body)
        head = self.gw.request("HEAD", base + "json", token=self.sup)
        self.assertEqual(head.status, 200, head)
        self.assertEqual(head.body, b"")
        self.assertIn(int(head.headers["Content-Length"]),
                      (before, len(self.gw.get(base + "json", token=self.sup).body)))

    def test_8_no_personal_data_at_rest(self):
        secrets = [s.encode() for s in ("13911110001", "13911110003", "13911110004",
                                        "13700000001", "13700000002", "13700000004",
                                        "投诉人2", "投诉人3")]
        self.assertEqual(self.form("json").status, 200)  # the rows were read: they exist
        stores = [self.gw.data] + [n.data for n in self.nodes.values()]
        for d in stores:
            with open(os.path.join(d, "data.mdb"), "rb") as f:
                blob = f.read()
            self.assertGreater(len(blob), 0)
            for secret in secrets:
                self.assertNotIn(secret, blob, (d, secret.decode()))


if __name__ == "__main__":
    hcptest.main("hcp-gateway", before=office)
