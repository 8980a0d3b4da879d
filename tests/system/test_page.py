"""test_page.py — the public page (gateway/www: index.html, case.html and
their scripts; docs/page.md) in a real headless browser (Debian's chromium).

Usage: python3 test_page.py [PATH/TO/hcp-node PATH/TO/hcp-gateway]

StubSite     always runs: a small Python HTTP server serves every file of
             gateway/www, a feed (/feed/requests.json with its filters) and
             /feed/stats.json built from the same 250 fake entries as the
             contract in docs/stats.md describes. Checks: the page's figures
             equal the JSON's; the charts have one bar per month and per
             prefecture of the JSON and a point per rate; the date filter
             (?from=&to=) shows the JSON of that range and reaches the feed
             as start_date/end_date; search by case number leads to the
             case page, which shows the case and its steps; a bad or unknown
             number says so; one legal basis everywhere; a failing stats
             route is shown as such; Chinese glyphs are drawn with a CJK font
             (not as boxes); screenshots at 1366x768.
GatewayPage  a real hcp-gateway (--insecure, tcp://) and two county nodes:
             every file of gateway/www served byte for byte without a token;
             the Atom entries link to the case page, which shows a closed
             case's steps; and, when the gateway has /feed/stats.json (it
             says on stderr when it does not), the figures and the date
             filter against the real JSON.

chromium and the CJK font (Debian fonts-wqy-microhei) are installed if
missing (scripts/deps.sh browser, as root); if they cannot be, the program
exits 77 (ctest: skipped). Screenshots are written to the current directory
(ctest: build/tests/system/page-*.png) or to $HCP_PAGE_SHOTS.
"""
import datetime
import html.parser
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hcptest  # noqa: E402
from hcptest import Gateway, wait_until, tail  # noqa: E402

WWW = os.path.join(hcptest.ROOT, "gateway", "www")
SHOTS = os.environ.get("HCP_PAGE_SHOTS") or os.getcwd()
LEGAL = "《青海省受理政务服务差评投诉规定》第十三条"
ATOM = "{http://www.w3.org/2005/Atom}"
PREFS = [("6301", "西宁市"), ("6302", "海东市"), ("6322", "海北藏族自治州"),
         ("6323", "黄南藏族自治州"), ("6325", "海南藏族自治州"), ("6326", "果洛藏族自治州"),
         ("6327", "玉树藏族自治州"), ("6328", "海西蒙古族藏族自治州")]
ROW_KEYS = ("cases", "closed", "open", "on_time", "late", "on_time_rate", "revisit_rate",
            "satisfaction_rate")

say = hcptest.sayer("page")


# ---- chromium and the CJK font ----

def have_cjk_font():
    p = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True)
    return p.returncode == 0 and "WenQuanYi Micro Hei" in p.stdout


def ensure_browser():
    """chromium and the CJK font; installs the Debian packages (deps.sh browser) when root."""
    hcptest.ensure_installed(lambda: shutil.which("chromium") and shutil.which("fc-list")
                             and have_cjk_font(), "chromium and a CJK font",
                             "chromium fonts-wqy-microhei", "browser", say)


def chromium(url, *extra, budget=5000, timeout=120):
    """Run headless chromium on url with extra flags; returns stdout (text)."""
    prof = tempfile.mkdtemp(prefix="hcp-page-chromium-")
    cmd = [shutil.which("chromium"), "--headless", "--no-sandbox", "--disable-gpu",
           "--disable-quic", "--lang=zh-CN", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
           "--user-data-dir=" + prof, "--virtual-time-budget=%d" % budget] + list(extra) + [url]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    finally:
        shutil.rmtree(prof, ignore_errors=True)
    if p.returncode != 0:
        raise AssertionError("chromium exit %d on %s\nstderr:\n%s"
                             % (p.returncode, url, tail(p.stderr.decode("utf-8", "replace"))))
    return p.stdout.decode("utf-8", "replace")


def dom(url):
    return Dom(chromium(url, "--dump-dom"))


def screenshot(url, name):
    """A 1366x768 screenshot of url in SHOTS/name; returns its path."""
    path = os.path.join(SHOTS, name)
    chromium(url, "--screenshot=" + path, "--window-size=1366,768", "--hide-scrollbars")
    if not os.path.exists(path) or os.path.getsize(path) < 1000:
        raise AssertionError("no screenshot of %s in %s" % (url, path))
    say("screenshot: %s", path)
    return path


# ---- the dumped DOM ----

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


class Dom(html.parser.HTMLParser):
    """Every element of the dumped page as {tag, attrs, text} in document
    order, and rows: for each data-row, {data-k: text} of the cells inside."""

    def __init__(self, text):
        super().__init__()
        self.elements = []
        self.rows = {}
        self._open = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        e = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(e)
        if tag not in VOID:
            self._open.append(e)

    def handle_startendtag(self, tag, attrs):
        self.elements.append({"tag": tag, "attrs": dict(attrs), "text": ""})

    def handle_endtag(self, tag):
        while self._open:
            e = self._open.pop()
            self._closed(e)
            if e["tag"] == tag:
                break

    def _closed(self, e):
        k = e["attrs"].get("data-k")
        if k is None:
            return
        row = None
        for o in reversed(self._open):
            if "data-row" in o["attrs"]:
                row = o["attrs"]["data-row"]
                break
        if row is not None:
            self.rows.setdefault(row, {})[k] = e["text"].strip()

    def handle_data(self, data):
        for e in self._open:
            e["text"] += data

    def find(self, **attrs):
        """Elements whose attributes include attrs (tag= for the tag name)."""
        tag = attrs.pop("tag", None)
        return [e for e in self.elements if (tag is None or e["tag"] == tag)
                and all(e["attrs"].get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def by_id(self, i):
        f = [e for e in self.elements if e["attrs"].get("id") == i]
        return f[0] if f else None

    def body(self, attr):
        b = [e for e in self.elements if e["tag"] == "body"]
        return b[0]["attrs"].get(attr) if b else None


# ---- what the page must show, from the JSON ----

def num(n):
    return "—" if not isinstance(n, int) else "{:,}".format(n)


def pct(rate):
    """As the page writes a rate: JavaScript's Math.round(rate*1000)/10 + "%"."""
    if rate is None:
        return "—"
    v = int(rate * 1000 + 0.5) / 10
    return ("%d" % v if v == int(v) else "%.1f" % v) + "%"


def cells(row):
    return {k: (pct(row[k]) if k.endswith("_rate") else num(row[k])) for k in ROW_KEYS}


class PageCase(unittest.TestCase):
    """Checks shared by the stub and the real gateway."""

    def check_figures(self, d, j):
        """The dumped index page d shows stats JSON j: cards, tables, charts."""
        self.assertEqual(d.body("data-stats"), "ok", d.by_id("state"))
        total = {k: v for k, v in cells(j["total"]).items()}
        card = d.rows.get("total", {})
        for k in ("cases", "closed", "open", "on_time", "late", "on_time_rate", "revisit_rate",
                  "satisfaction_rate", "revisit_owed", "revisited", "satisfied"):
            want = pct(j["total"][k]) if k.endswith("_rate") else num(j["total"][k])
            self.assertEqual(card.get(k), want, "card %s" % k)
        self.assertEqual(d.rows.get("total-table"), total)
        months = [m["month"] for m in j["by_month"]]
        self.assertEqual([r[6:] for r in d.rows if r.startswith("month:")], months)
        for m in j["by_month"]:
            self.assertEqual(d.rows["month:" + m["month"]], cells(m), m["month"])
        codes = [p["code"] for p in j["by_prefecture"]]
        self.assertEqual([r[5:] for r in d.rows if r.startswith("pref:")], codes)
        for p in j["by_prefecture"]:
            self.assertEqual(d.rows["pref:" + p["code"]], cells(p), p["code"])
        # the charts: inline SVG, one bar per month / prefecture, a point per rate
        for svg_id, items, key in (("svg-month", j["by_month"], "month"),
                                   ("svg-pref", j["by_prefecture"], "code")):
            svg = d.by_id(svg_id)
            self.assertIsNotNone(svg, svg_id)
            self.assertEqual(svg["tag"], "svg")
            i = d.elements.index(svg)
            inner = []
            for e in d.elements[i + 1:]:
                if e["tag"] == "svg" or e["attrs"].get("id") in ("svg-month", "svg-pref"):
                    break
                inner.append(e)
            bars = [e for e in inner if e["tag"] == "rect" and e["attrs"].get("class") == "bar"]
            self.assertEqual([(b["attrs"]["data-key"], int(b["attrs"]["data-cases"])) for b in bars],
                             [(it[key], it["cases"]) for it in items], svg_id)
            pts = [e for e in inner if e["tag"] == "circle"]
            self.assertEqual([(p["attrs"]["data-key"], float(p["attrs"]["data-rate"])) for p in pts],
                             [(it[key], it["on_time_rate"]) for it in items
                              if it["on_time_rate"] is not None], svg_id)
            heights = [float(b["attrs"]["height"]) for b in bars]
            if items and max(it["cases"] for it in items):
                top = max(range(len(items)), key=lambda n: items[n]["cases"])
                self.assertEqual(max(heights), heights[top], "the tallest bar is the most cases")
        return len(j["by_month"]), len(j["by_prefecture"])

    def check_basis(self, d):
        """The legal basis: named once, the same way, everywhere on a page."""
        basis = [e["text"].strip() for e in d.find(tag="span", **{"class": "basis"})]
        self.assertTrue(basis)
        self.assertEqual(set(basis), {LEGAL})
        text = "".join(e["text"] for e in d.elements if e["tag"] == "html")
        self.assertEqual(set(re.findall(r"《[^》]*》", text)), {"《青海省受理政务服务差评投诉规定》"})


# ---- the stub site ----

CST = datetime.timezone(datetime.timedelta(hours=8))
COUNTIES = ("630102", "630202", "632801", "632221")


def fake_entries():
    """250 entries over four counties and five months (2026-01..05), varied
    status, outcome, deadline_met and revisits; newest update first."""
    out = []
    base = datetime.datetime(2026, 1, 3, 9, 0, tzinfo=CST)
    for i in range(250):
        c = COUNTIES[i % 4]
        t = base + datetime.timedelta(hours=14 * i + (i % 5) * 3)
        closed = i % 3 == 0
        sub = i % 5 != 1
        out.append({
            "service_request_id": "%s-%s-%04d" % (c, t.strftime("%Y%m%d"), i + 1),
            "status": "closed" if closed else "open",
            "status_notes": ("已反馈整改结果，已回访" if closed and sub else "经核实不属实，已反馈核实结果")
            if closed else "已受理，正在核实",
            "service_code": "SI-%03d" % (i % 7),
            "service_name": ("营业执照办理", "社保卡补办", "不动产登记")[i % 3],
            "agency_responsible": "政务服务中心",
            "requested_datetime": t.isoformat(),
            "updated_datetime": (t + datetime.timedelta(hours=30)).isoformat(),
            "step_datetime": (t + datetime.timedelta(hours=30)).isoformat(),
            "recorded_datetime": (t + datetime.timedelta(hours=30)).isoformat(),
            "expected_datetime": (t + datetime.timedelta(days=7)).isoformat(),
            "county": c,
            "county_name": {"630102": "城东区", "630202": "乐都区", "632801": "格尔木市",
                            "632221": "门源回族自治县"}[c],
            "kind": "complaint" if i % 2 else "review",
            "channel": "web",
            "dimensions": ["attitude"],
            "outcome": ("substantiated" if sub else "unsubstantiated") if closed else None,
            "rectification_result": "已整改" if closed and sub else None,
            "revisited": closed and sub and i % 4 != 0,
            "deadline_met": i % 7 != 0,
            "deadline_provisional": False,
            "deadline_note": None,
        })
    out.sort(key=lambda e: (e["updated_datetime"], e["service_request_id"]), reverse=True)
    return out


def stub_row(es):
    """The contract's ROW over entries es (on time: closed with deadline_met;
    late: deadline_met false, closed or open; a revisit is owed by a closed
    substantiated case; satisfied: revisited with an even number)."""
    closed = [e for e in es if e["status"] == "closed"]
    on_time = sum(1 for e in closed if e["deadline_met"])
    late = sum(1 for e in es if not e["deadline_met"])
    owed = [e for e in closed if e["outcome"] == "substantiated"]
    rev = [e for e in owed if e["revisited"]]
    sat = sum(1 for e in rev if int(e["service_request_id"][-4:]) % 2 == 0)

    def rate(a, b):
        return a / b if b else None
    return {"cases": len(es), "closed": len(closed), "open": len(es) - len(closed),
            "on_time": on_time, "late": late, "on_time_rate": rate(on_time, on_time + late),
            "revisit_owed": len(owed), "revisited": len(rev), "revisit_rate": rate(len(rev), len(owed)),
            "satisfied": sat, "satisfaction_rate": rate(sat, len(rev))}


def stub_stats(entries, frm, to):
    es = [e for e in entries if (not frm or e["requested_datetime"][:10] >= frm)
          and (not to or e["requested_datetime"][:10] <= to)]
    months = sorted({e["requested_datetime"][:7] for e in es})
    return {"generated_datetime": "2026-06-01T08:00:00+08:00", "from": frm or None,
            "to": to or None, "total": stub_row(es),
            "by_month": [dict(month=m, **stub_row([e for e in es if e["requested_datetime"][:7] == m]))
                         for m in months],
            "by_prefecture": [dict(code=c, name=n, **stub_row([e for e in es if e["county"][:4] == c]))
                              for c, n in PREFS]}


class Stub(http.server.BaseHTTPRequestHandler):
    """Serves gateway/www, the feed and stats.json; STATIC: like a plain web
    server over a published copy (the feed's query ignored: its first page;
    feed/case/ID.json per case, docs/transparency.md "Publishing")."""
    ENTRIES = []
    STATS_BROKEN = False
    STATIC = False
    seen = []

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        name = "index.html" if u.path == "/" else u.path[1:]
        if "/" not in name and os.path.isfile(os.path.join(WWW, name)):
            with open(os.path.join(WWW, name), "rb") as f:
                ctype = {"html": "text/html; charset=utf-8", "js": "text/javascript",
                         "css": "text/css"}.get(name.rsplit(".", 1)[-1], "application/octet-stream")
                self.reply(200, ctype, f.read())
        elif u.path == "/cjk-probe.html":
            self.reply(200, "text/html; charset=utf-8", CJK_PROBE.encode("utf-8"))
        elif u.path == "/feed/stats.json":
            Stub.seen.append(("stats", q))
            if self.STATS_BROKEN:
                return self.reply(500, "application/json", b'{"error":"storage_error"}')
            for k in ("from", "to"):
                if k in q and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", q[k]):
                    return self.reply(400, "application/json", b'{"error":"invalid_parameter"}')
            self.json(stub_stats(self.ENTRIES, q.get("from"), q.get("to")))
        elif u.path == "/feed/requests.json" and self.STATIC:
            Stub.seen.append(("static-feed", q))
            self.json(self.ENTRIES[:50])
        elif u.path.startswith("/feed/case/") and self.STATIC:
            Stub.seen.append(("static-case", u.path))
            cid = urllib.parse.unquote(u.path[len("/feed/case/"):-len(".json")])
            rows = [e for e in self.ENTRIES if e["service_request_id"] == cid]
            if rows:
                self.json(rows)
            else:
                self.reply(404, "text/html", b"<h1>404</h1>")
        elif u.path == "/feed/requests.json":
            Stub.seen.append(("feed", q))
            rows = [e for e in self.ENTRIES
                    if (not q.get("service_request_id") or e["service_request_id"] == q["service_request_id"])
                    and (not q.get("start_date") or e["requested_datetime"][:10] >= q["start_date"])
                    and (not q.get("end_date") or e["requested_datetime"][:10] <= q["end_date"])]
            page, size = int(q.get("page", "1")), min(int(q.get("page_size", "50")), 200)
            self.json(rows[(page - 1) * size:page * size])
        else:
            self.reply(404, "application/json", b'{"error":"not_found"}')

    def json(self, o):
        self.reply(200, "application/json", json.dumps(o, ensure_ascii=False).encode("utf-8"))

    def reply(self, code, ctype, data):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


# The CJK check: the same Chinese text is drawn on a canvas with the font the
# page's stylesheet gives its heading, and each glyph compared with the
# "tofu" a font without the character draws (a private-use code point, which
# no font has): with a CJK font every glyph differs from it and from each
# other; without one they are all the same box. The page's own font stack is
# used (style.css), so this checks what the page shows.
CJK_PROBE = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<link rel="stylesheet" href="style.css"></head><body><header><h1 id="h">差评投诉</h1></header>
<pre id="out">pending</pre><script>
"use strict";
var font = getComputedStyle(document.getElementById("h")).font;
function pixels(ch) {
  var c = document.createElement("canvas"); c.width = 48; c.height = 48;
  var x = c.getContext("2d"); x.font = font.replace(/\\d+px/, "32px"); x.fillStyle = "#000";
  x.fillText(ch, 4, 36); return Array.prototype.join.call(x.getImageData(0, 0, 48, 48).data, "");
}
var tofu = pixels("\\uE000"), seen = {}, distinct = 0, boxes = 0, chars = "差评投诉";
for (var i = 0; i < chars.length; i++) {
  var p = pixels(chars[i]);
  if (p === tofu) boxes++;
  if (!seen[p]) { seen[p] = 1; distinct++; }
}
document.getElementById("out").textContent = JSON.stringify(
  {font: font, boxes: boxes, distinct: distinct, blank: pixels("差") === pixels(" ")});
</script></body></html>"""


class StubSite(PageCase):
    """The pages' logic against a stub feed and stats JSON (no gateway needed)."""

    @classmethod
    def setUpClass(cls):
        Stub.ENTRIES = fake_entries()
        cls.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
        threading.Thread(target=cls.srv.serve_forever, daemon=True).start()
        cls.url = "http://127.0.0.1:%d/" % cls.srv.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        cls.srv.server_close()

    def setUp(self):
        Stub.seen = []
        Stub.STATS_BROKEN = False
        Stub.STATIC = False

    def tearDown(self):
        Stub.STATIC = False

    def test_1_figures_and_charts(self):
        d = dom(self.url)
        self.assertEqual(d.body("data-state"), "ready", d.by_id("state"))
        n = self.check_figures(d, stub_stats(Stub.ENTRIES, None, None))
        self.assertEqual(n, (5, 8))
        self.check_basis(d)
        latest = d.find(tag="tr")
        ids = [e["attrs"]["data-id"] for e in latest if "data-id" in e["attrs"]]
        self.assertEqual(ids, [e["service_request_id"] for e in Stub.ENTRIES[:20]])
        links = {e["attrs"].get("id"): e["attrs"]["href"] for e in d.find(tag="a") if "href" in e["attrs"]}
        self.assertEqual(links["l-stats"], "feed/stats.json")
        self.assertEqual(links["l-json"], "feed/requests.json")
        self.assertEqual(links["l-atom"], "feed/atom.xml")
        # every asset is local: no http(s) URL in src/href
        for e in d.elements:
            for a in ("src", "href"):
                self.assertFalse(str(e["attrs"].get(a, "")).startswith(("http:", "https:", "//")), e)
        say("stub: %d months, %d prefectures; total %r", n[0], n[1], d.rows["total"])
        screenshot(self.url, "page-index.png")

    def test_2_date_filter(self):
        frm, to = "2026-02-10", "2026-03-31"
        d = dom(self.url + "?from=%s&to=%s" % (frm, to))
        self.assertEqual(d.body("data-state"), "ready", d.by_id("state"))
        want = stub_stats(Stub.ENTRIES, frm, to)
        self.assertNotEqual(want["total"], stub_stats(Stub.ENTRIES, None, None)["total"])
        self.check_figures(d, want)
        self.assertEqual(d.by_id("f-from")["attrs"].get("value", frm) or frm, frm)
        self.assertIn(("stats", {"from": frm, "to": to}), Stub.seen)
        feed = [q for kind, q in Stub.seen if kind == "feed"]
        self.assertTrue(feed and feed[0].get("start_date") == frm and feed[0].get("end_date") == to,
                        feed)
        ids = [e["attrs"]["data-id"] for e in d.find(tag="tr") if "data-id" in e["attrs"]]
        self.assertTrue(ids and all(frm <= "%s-%s-%s" % (i[7:11], i[11:13], i[13:15]) <= to
                                    for i in ids), ids)
        say("date filter %s..%s: %r", frm, to, d.rows["total"])
        screenshot(self.url + "?from=%s&to=%s" % (frm, to), "page-index-filtered.png")
        # a range with nothing in it: zeros, no bars, "—" rates
        d = dom(self.url + "?from=2027-01-01&to=2027-01-31")
        self.check_figures(d, stub_stats(Stub.ENTRIES, "2027-01-01", "2027-01-31"))
        # a reversed range is refused in the page, not sent
        Stub.seen = []
        d = dom(self.url + "?from=2026-03-01&to=2026-02-01")
        self.assertIn("起始日期不能晚于截止日期", d.by_id("filter-msg")["text"])
        self.assertIn(("stats", {}), Stub.seen)

    def test_3_search_and_case_page(self):
        d = dom(self.url)
        form = d.by_id("search")
        self.assertEqual((form["attrs"].get("action"), form["attrs"].get("method")), ("case.html", "get"))
        inp = d.by_id("q-id")
        self.assertEqual(inp["attrs"].get("name"), "id")
        label = [e for e in d.find(tag="label") if e["attrs"].get("for") == "q-id"]
        self.assertTrue(label and "按编号查询" in label[0]["text"])
        # submitting the form is a GET of case.html?id=…: what a browser does
        closed = next(e for e in Stub.ENTRIES if e["status"] == "closed" and e["revisited"])
        url = self.url + "case.html?id=" + urllib.parse.quote(" %s " % closed["service_request_id"])
        c = dom(url)
        self.assertEqual(c.body("data-state"), "ready", c.by_id("state"))
        self.assertEqual(c.by_id("case-id")["text"], closed["service_request_id"])
        facts = c.rows.get("facts") or {e["attrs"]["data-k"]: e["text"] for e in c.find(tag="dd")}
        self.assertEqual(facts["status_notes"], closed["status_notes"])
        self.assertEqual(facts["region"], "西宁市 城东区" if closed["county"] == "630102" else facts["region"])
        steps = [(e["attrs"]["data-step"], e["attrs"]["data-state"]) for e in c.find(tag="li")
                 if "data-step" in e["attrs"]]
        self.assertEqual(steps, [("accept", "done"), ("verify", "done"), ("rectify", "done"),
                                 ("feedback", "done"), ("revisit", "done"), ("close", "done")])
        self.check_basis(c)
        self.assertIn(("feed", {"service_request_id": closed["service_request_id"]}), Stub.seen)
        screenshot(url, "page-case.png")
        opened = next(e for e in Stub.ENTRIES if e["status"] == "open")
        c = dom(self.url + "case.html?id=" + opened["service_request_id"])
        steps = {e["attrs"]["data-step"]: e["attrs"]["data-state"] for e in c.find(tag="li")
                 if "data-step" in e["attrs"]}
        self.assertEqual(steps, {"accept": "done", "verify": "current", "rectify": "todo",
                                 "feedback": "todo", "revisit": "todo", "close": "todo"})
        c = dom(self.url + "case.html?id=630102-20260101-9999")
        self.assertEqual(c.body("data-state"), "notfound")
        self.assertIn("未找到编号为 630102-20260101-9999", c.by_id("missing-text")["text"])
        c = dom(self.url + "case.html?id=%3Cb%3Ex")
        self.assertEqual(c.body("data-state"), "invalid")
        self.assertIn("<b>x", c.by_id("missing-text")["text"])  # shown as text
        say("case page: %s steps %r", closed["service_request_id"], steps)

    def test_3b_case_page_on_a_static_copy(self):
        """A plain web server ignores ?service_request_id=: the page finds the
        case in feed/case/ID.json of the published copy."""
        Stub.STATIC = True
        old = Stub.ENTRIES[120]
        c = dom(self.url + "case.html?id=" + old["service_request_id"])
        self.assertEqual(c.body("data-state"), "ready", c.by_id("state"))
        self.assertEqual(c.by_id("case-id")["text"], old["service_request_id"])
        self.assertIn(("static-case", "/feed/case/%s.json" % old["service_request_id"]), Stub.seen)
        recent = Stub.ENTRIES[3]
        Stub.seen = []
        c = dom(self.url + "case.html?id=" + recent["service_request_id"])
        self.assertEqual(c.body("data-state"), "ready")
        self.assertFalse([k for k, _ in Stub.seen if k == "static-case"], Stub.seen)
        c = dom(self.url + "case.html?id=630102-20260101-9999")
        self.assertEqual(c.body("data-state"), "notfound")

    def test_4_stats_error(self):
        Stub.STATS_BROKEN = True
        d = dom(self.url)
        self.assertEqual(d.body("data-state"), "error")
        self.assertIn("统计数据载入失败（HTTP 500）", d.by_id("state")["text"])
        self.assertEqual(d.rows["total"]["cases"], "—")

    def test_5_cjk_glyphs(self):
        """Chinese text is drawn with a CJK font from the page's font stack, not as boxes."""
        r = json.loads(dom(self.url + "cjk-probe.html").by_id("out")["text"])
        say("CJK probe: %r", r)
        self.assertEqual(r["boxes"], 0, "characters drawn as the missing-glyph box")
        self.assertEqual(r["distinct"], 4, "the four characters should look different")
        self.assertFalse(r["blank"])
        # the control: with only a Latin font (fontconfig limited to DejaVu)
        # the same probe must see boxes, or it proves nothing
        dejavu = "/usr/share/fonts/truetype/dejavu"
        if not os.path.isdir(dejavu):
            say("no %s: the tofu control is not run", dejavu)
            return
        tmp = tempfile.mkdtemp(prefix="hcp-page-fc-")
        conf = os.path.join(tmp, "fonts.conf")
        with open(conf, "w") as f:
            f.write('<?xml version="1.0"?><fontconfig><dir>%s</dir><cachedir>%s</cachedir>'
                    '</fontconfig>' % (dejavu, tmp))
        saved = os.environ.get("FONTCONFIG_FILE")
        os.environ["FONTCONFIG_FILE"] = conf
        try:
            r = json.loads(dom(self.url + "cjk-probe.html").by_id("out")["text"])
            screenshot(self.url, "page-index-without-cjk-font.png")
        finally:
            if saved is None:
                del os.environ["FONTCONFIG_FILE"]
            else:
                os.environ["FONTCONFIG_FILE"] = saved
            shutil.rmtree(tmp, ignore_errors=True)
        say("CJK probe without a CJK font (control): %r", r)
        self.assertEqual((r["boxes"], r["distinct"]), (4, 1), "the probe cannot tell boxes")

    def test_6_one_legal_basis_in_the_files(self):
        for name in sorted(os.listdir(WWW)):
            with open(os.path.join(WWW, name), encoding="utf-8") as f:
                titles = set(re.findall(r"《[^》]*》", f.read()))
            self.assertLessEqual(titles, {"《青海省受理政务服务差评投诉规定》"}, name)


# ---- the real gateway ----

class GatewayPage(PageCase):
    """The pages as hcp-gateway serves them, over cases replicated from nodes."""

    COUNTIES = ("630102", "632801")

    @classmethod
    def setUpClass(cls):
        if not (hcptest.BINARY and hcptest.path("hcp-gateway")):
            raise unittest.SkipTest("no hcp-node/hcp-gateway given on the command line")
        cls.tmp = tempfile.mkdtemp(prefix="hcp-page-")
        cls.procs = []
        try:
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            cls.nodes = {c: hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=c,
                                                     deadline=20.0)
                         for c in cls.COUNTIES}
            cls.made, cls.closed = cls.populate()
        except BaseException:
            cls.dump()
            cls.cleanup()
            raise
        cls.url = "http://127.0.0.1:%d/" % cls.gw.port

    @classmethod
    def dump(cls):
        for p in getattr(cls, "procs", []):
            say("--- %s stderr ---\n%s", "gateway" if isinstance(p, Gateway) else p.county,
                tail(p.stderr(), 2000))

    @classmethod
    def cleanup(cls):
        for p in reversed(getattr(cls, "procs", [])):
            p.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls.cleanup()

    @classmethod
    def populate(cls):
        """Per county two open complaints, one received 40 days ago and left
        open (overdue now: late although open), and a one-star review walked
        to closed (substantiated, rectified, revisited); waits for the feed."""
        made, closed = {}, {}
        cls.overdue = {}
        for c, node in cls.nodes.items():
            ids = [node.new_case(content="%s 投诉：材料反复提交，电话13912345678" % c)["id"],
                   node.new_case(complainant=None, content="%s 投诉：等候时间过长" % c)["id"]]
            cls.overdue[c] = node.new_case(complainant=None, at=hcptest.days_ago(40),
                                           content="%s 投诉：四十天前受理，至今未办结" % c)["id"]
            ids.append(cls.overdue[c])
            j = node.evaluate(1, complainant={"name": "评价人", "phone": "13700000001"},
                              content="%s 差评：窗口态度差" % c)
            cid = j["case"]
            v = {"verifier": {"name": "核实人", "phone": "13700000002"}}
            for step in (dict(type="verify_start", **v), {"type": "notify_staff"},
                         {"type": "verify_conclude", "outcome": "substantiated", "note": "属实"},
                         {"type": "rectify_assign", "unit": {"code": "U-9", "name": "某科室"},
                          "mode": "immediate"},
                         {"type": "rectify_done", "result": "已当场整改"},
                         {"type": "feedback", "via": "phone", "text": "已电话告知"},
                         {"type": "revisit", "by": "回访员", "satisfied": True, "note": "满意"},
                         {"type": "close"}):
                node.step(cid, step)
            made[c], closed[c] = ids + [cid], cid
        want = [i for c in made for i in made[c]]

        def fed():
            r = cls.gw.get("/feed/requests.json?page_size=200", token=None)
            by = {e["service_request_id"]: e for e in (r.json() if r.status == 200 else [])}
            return (all(i in by for i in want)
                    and all(by[closed[c]]["status"] == "closed" for c in closed)), r.status
        wait_until(fed, 30.0, "the feed to list every case, two closed", interval=0.2)
        return made, closed

    def test_1_files_served(self):
        names = sorted(os.listdir(WWW))
        self.assertIn("case.html", names)
        for name in names:
            r = self.gw.get("/" + name, token=None)
            self.assertEqual(r.status, 200, (name, r))
            with open(os.path.join(WWW, name), "rb") as f:
                self.assertEqual(r.body, f.read(), name)
            h = {k.lower(): v for k, v in r.headers.items()}
            ext = name.rsplit(".", 1)[-1]
            self.assertTrue(h["content-type"].startswith(
                {"html": "text/html", "js": "text/javascript", "css": "text/css"}[ext]), (name, h))
            self.assertIn("default-src 'self'", h.get("content-security-policy", ""))
        r = self.gw.get("/", token=None)
        self.assertEqual(r.status, 200)
        with open(os.path.join(WWW, "index.html"), "rb") as f:
            self.assertEqual(r.body, f.read())
        self.assertEqual(self.gw.get("/case.html?id=630102-20260101-0001", token=None).status, 200)
        self.assertEqual(self.gw.post("/app.js", {}, token=None).status, 405)
        self.assertIn(self.gw.get("/nope.js", token=None).status, (401, 404))
        say("gateway serves %d page files: %s", len(names), " ".join(names))

    def test_2_atom_links_to_case_page(self):
        r = self.gw.get("/feed/atom.xml", token=None)
        self.assertEqual(r.status, 200, r)
        root = ET.fromstring(r.body)
        self.assertIn(LEGAL, root.findtext(ATOM + "subtitle"))
        atom_url = self.url + "feed/atom.xml"
        n = 0
        for x in root.iter(ATOM + "entry"):
            cid = x.findtext(ATOM + "id").split(":")[3]
            html_links = [l.get("href") for l in x.findall(ATOM + "link")
                          if l.get("rel") == "alternate" and l.get("type") == "text/html"]
            self.assertEqual(len(html_links), 1, cid)
            target = urllib.parse.urljoin(atom_url, html_links[0])
            self.assertEqual(target, self.url + "case.html?id=" + cid)
            n += 1
        self.assertGreaterEqual(n, 8)
        c = dom(self.url + "case.html?id=" + self.overdue["632801"])
        facts = {e["attrs"]["data-k"]: e["text"] for e in c.find(tag="dd")}
        self.assertEqual(facts["deadline_met"], "否（已超过办理期限）", facts)
        self.assertEqual(facts["region"], "海西蒙古族藏族自治州 格尔木市", facts)
        cid = self.closed["630102"]
        c = dom(self.url + "case.html?id=" + cid)
        self.assertEqual(c.body("data-state"), "ready", c.by_id("state"))
        steps = [(e["attrs"]["data-step"], e["attrs"]["data-state"]) for e in c.find(tag="li")
                 if "data-step" in e["attrs"]]
        self.assertEqual(steps, [("accept", "done"), ("verify", "done"), ("rectify", "done"),
                                 ("feedback", "done"), ("revisit", "done"), ("close", "done")])
        detail = " ".join(e["text"] for e in c.find(tag="li"))
        self.assertIn("已当场整改", detail)
        self.assertNotIn("13912345678", " ".join(e["text"] for e in c.elements))
        self.check_basis(c)
        say("Atom: %d entries link to the case page; %s shows %d steps done", n, cid, len(steps))
        screenshot(self.url + "case.html?id=" + cid, "page-gateway-case.png")

    def test_3_figures_against_the_real_json(self):
        r = self.gw.get("/feed/stats.json", token=None)
        if r.status in (401, 404) and self.gw.get("/feed/stats.json").status == 404:
            say("SKIPPED the figures against the real /feed/stats.json: hcp-gateway answers "
                "404 (the route is not built in this tree); they were checked on the stub")
            self.skipTest("hcp-gateway has no /feed/stats.json yet (404)")
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertEqual(j["total"]["cases"], 8, j["total"])
        # the two open cases received 40 days ago are late, and the rate shows it
        self.assertGreaterEqual(j["total"]["late"], 2, j["total"])
        self.assertLess(j["total"]["on_time_rate"], 1, j["total"])
        self.assertEqual(len(j["by_month"]), 2, j["by_month"])
        d = dom(self.url)
        self.assertEqual(d.body("data-state"), "ready", d.by_id("state"))
        self.check_figures(d, self.gw.get("/feed/stats.json", token=None).json())
        self.check_basis(d)
        ids = {e["attrs"]["data-id"] for e in d.find(tag="tr") if "data-id" in e["attrs"]}
        self.assertEqual(ids, {i for c in self.made for i in self.made[c]})
        today = hcptest.now().strftime("%Y-%m-%d")
        old = (hcptest.now() - datetime.timedelta(days=40)).strftime("%Y-%m-%d")
        for frm, to in ((today, today), (old, old), ("2020-01-01", "2020-12-31")):
            q = "?from=%s&to=%s" % (frm, to)
            want = self.gw.get("/feed/stats.json" + q, token=None)
            self.assertEqual(want.status, 200, want)
            d = dom(self.url + q)
            self.check_figures(d, want.json())
            say("real stats.json %s..%s: page shows %r", frm, to, d.rows["total"])
        screenshot(self.url, "page-gateway-index.png")


if __name__ == "__main__":
    hcptest.main("hcp-gateway", optional=("hcp-node", "hcp-gateway"), before=ensure_browser)
