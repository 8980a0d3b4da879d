"""test_page.py — the public disclosure page (GET /, gateway/www/index.html)
in a real headless browser (Debian's chromium).

Usage: python3 test_page.py [PATH/TO/hcp-node PATH/TO/hcp-gateway]

Two checks:
  StubFeedPage  always runs: a tiny Python HTTP server serves index.html and
                a fake, paginated /feed/requests.json (250 entries, so the
                page must follow pages); chromium --dump-dom must show the
                latest cases, and per-county figures equal to those this
                test computes from the same entries.
  GatewayPage   a real hcp-gateway (--insecure, tcp://) and two county nodes;
                cases are posted and one walked to closed; the page served
                by the gateway at / must show them and the county figures.
                Skipped ONLY if the gateway answers 404 on /feed/requests.json
                (the feed not built yet); it says so on stderr.

chromium is installed if missing (scripts/deps.sh browser, as root); if it
cannot be, the program exits 77 (ctest: skipped). HCP_PAGE_SCREENSHOT=FILE
also writes a 1280x900 screenshot of the stub page (for a human to look at).
"""
import datetime
import html.parser
import http.server
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hcptest  # noqa: E402
from hcptest import Gateway, wait_until, tail  # noqa: E402

PAGE = os.path.join(hcptest.ROOT, "gateway", "www", "index.html")

say = hcptest.sayer("page")


# ---- chromium ----

def ensure_chromium():
    """The chromium binary; installs the Debian package when missing and root."""
    hcptest.ensure_installed(lambda: shutil.which("chromium"), "chromium", "chromium", "browser",
                             say)
    return shutil.which("chromium")


def chromium(url, *extra, budget=8000, timeout=120):
    """Run headless chromium on url with extra flags; returns stdout (text)."""
    prof = tempfile.mkdtemp(prefix="hcp-page-chromium-")
    cmd = [ensure_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + prof,
           "--virtual-time-budget=%d" % budget] + list(extra) + [url]
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    finally:
        shutil.rmtree(prof, ignore_errors=True)
    out = p.stdout.decode("utf-8", "replace")
    if p.returncode != 0:
        raise AssertionError("chromium exit %d on %s\nstderr:\n%s"
                             % (p.returncode, url, tail(p.stderr.decode("utf-8", "replace"))))
    return out


def dump_dom(url):
    return chromium(url, "--dump-dom")


def screenshot(url, path):
    chromium(url, "--screenshot=" + path, "--window-size=1280,900", "--hide-scrollbars")


# ---- the dumped DOM ----

class PageDom(html.parser.HTMLParser):
    """What the test reads from the dumped page: latest rows (data-id ->
    cell texts), figure rows (data-county -> {data-k: text}), the load
    state and the body's data-loaded."""

    def __init__(self, text):
        super().__init__()
        self.latest = {}
        self.figures = {}
        self.state = ""
        self.loaded = None
        self._tbody = None
        self._row = None
        self._cell = None
        self._in_state = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.loaded = a.get("data-loaded")
        elif tag == "tbody" and a.get("id") in ("latest-body", "figures-body"):
            self._tbody = a["id"]
        elif tag == "tr" and self._tbody == "latest-body":
            self._row = ("latest", a.get("data-id"), [])
        elif tag == "tr" and self._tbody == "figures-body":
            self._row = ("fig", a.get("data-county"), {})
        elif tag == "td" and self._row is not None:
            self._cell = [a.get("data-k"), ""]
        elif a.get("id") == "load-state":
            self._in_state = True

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._tbody = None
        elif tag == "td" and self._row is not None and self._cell is not None:
            kind, _, cells = self._row
            if kind == "latest":
                cells.append(self._cell[1].strip())
            elif self._cell[0]:
                cells[self._cell[0]] = self._cell[1].strip()
            self._cell = None
        elif tag == "tr" and self._row is not None:
            kind, key, cells = self._row
            (self.latest if kind == "latest" else self.figures)[key] = cells
            self._row = None
        elif tag == "span" and self._in_state:
            self._in_state = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data
        if self._in_state:
            self.state += data


# ---- the figures, computed independently of the page ----

def pct(num, den):
    if not den:
        return "—"
    v = math.floor(num * 1000 / den + 0.5) / 10  # JavaScript's Math.round
    return ("%d" % v if v == int(v) else "%.1f" % v) + "%"


def expected_figures(entries):
    """{county: {cases, closed, ontime, revisit}} as the page defines them
    (gateway/www/README.md): on time of closed cases with deadline_met
    known; revisited of those owed a revisit (closed, substantiated and
    rectified, or revisited anyway)."""
    acc = {}
    for e in entries:
        c = e.get("county") or e["service_request_id"][:6]
        f = acc.setdefault(c, dict(cases=0, closed=0, timed=0, ontime=0, owed=0, rev=0))
        closed = e.get("status") == "closed"
        f["cases"] += 1
        if closed:
            f["closed"] += 1
            if isinstance(e.get("deadline_met"), bool):
                f["timed"] += 1
                f["ontime"] += e["deadline_met"] is True
        owed = e.get("revisited") is True or (
            closed and e.get("outcome") == "substantiated" and bool(e.get("rectification_result")))
        if owed:
            f["owed"] += 1
            f["rev"] += e.get("revisited") is True
    return {c: {"cases": str(f["cases"]), "closed": str(f["closed"]),
                "ontime": pct(f["ontime"], f["timed"]), "revisit": pct(f["rev"], f["owed"])}
            for c, f in acc.items()}


# ---- the stub feed ----

CST = datetime.timezone(datetime.timedelta(hours=8))


def fake_entries():
    """250 entries over three counties (Xining, Haidong, Golmud); varied
    status, deadline_met, revisits. Newest last, as a feed in id order is."""
    out = []
    base = datetime.datetime(2026, 3, 2, 9, 0, tzinfo=CST)
    counties = ("630102", "630202", "632801")
    for i in range(250):
        c = counties[i % 3]
        t = base + datetime.timedelta(hours=i)
        closed = i % 4 == 0
        substantiated = i % 5 != 1
        out.append({
            "service_request_id": "%s-%s-%04d" % (c, t.strftime("%Y%m%d"), i + 1),
            "status": "closed" if closed else "open",
            "status_notes": "已整改并回访 <b>%d</b>" % i if closed else "核实中",
            "service_code": "SI-%03d" % (i % 7),
            "service_name": ("营业执照办理", "社保卡补办", "不动产登记")[i % 3],
            "agency_responsible": "政务服务中心",
            "requested_datetime": t.isoformat(),
            "updated_datetime": (t + datetime.timedelta(hours=2)).isoformat(),
            "expected_datetime": (t + datetime.timedelta(days=5)).isoformat(),
            "county": c,
            "kind": "complaint" if i % 2 else "review",
            "channel": "web",
            "dimensions": ["attitude"],
            "outcome": "substantiated" if substantiated else "unsubstantiated",
            "rectification_result": "已整改" if closed and substantiated else None,
            "revisited": closed and substantiated and i % 8 == 0,
            "deadline_met": i % 7 != 0,
        })
    return out


class StubFeed(http.server.BaseHTTPRequestHandler):
    """GET / -> index.html; GET /feed/requests.json -> a page of ENTRIES
    ({requests, page, page_size, total}, or a bare array when BARE)."""
    ENTRIES = []
    BARE = False
    BROKEN = False
    seen_queries = []

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path in ("/", "/index.html"):
            with open(PAGE, "rb") as f:
                self.reply(200, "text/html; charset=utf-8", f.read())
        elif u.path == "/feed/requests.json" and self.BROKEN:
            self.reply(500, "application/json", b'{"error":"storage_error"}')
        elif u.path == "/feed/requests.json":
            q = dict(urllib.parse.parse_qsl(u.query))
            StubFeed.seen_queries.append(q)
            page = int(q.get("page", "1"))
            size = min(int(q.get("page_size", "50")), 200)
            rows = [e for e in self.ENTRIES
                    if not q.get("county") or e["county"] == q["county"]
                    or e["county"][:4] + "00" == q["county"]]
            chunk = rows[(page - 1) * size:page * size]
            body = chunk if self.BARE else {"requests": chunk, "page": page, "page_size": size,
                                            "total": len(rows)}
            self.reply(200, "application/json",
                       json.dumps(body, ensure_ascii=False).encode("utf-8"))
        else:
            self.reply(404, "application/json", b'{"error":"not_found"}')

    def reply(self, code, ctype, data):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


class StubFeedPage(unittest.TestCase):
    """The page's logic against a fake feed (no gateway needed)."""

    @classmethod
    def setUpClass(cls):
        StubFeed.ENTRIES = fake_entries()
        cls.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StubFeed)
        cls.thread = threading.Thread(target=cls.srv.serve_forever, daemon=True)
        cls.thread.start()
        cls.url = "http://127.0.0.1:%d/" % cls.srv.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        cls.srv.server_close()

    def setUp(self):
        StubFeed.BARE = False
        StubFeed.seen_queries = []

    def check(self, dom):
        entries = StubFeed.ENTRIES
        self.assertEqual(dom.loaded, str(len(entries)), ("load state", dom.state))
        self.assertIn("已载入 250 件", dom.state)
        # the latest 50, newest update first; HTML in notes stays text
        newest = sorted(entries, key=lambda e: e["updated_datetime"], reverse=True)[:50]
        self.assertEqual(list(dom.latest), [e["service_request_id"] for e in newest])
        first = dom.latest[newest[0]["service_request_id"]]
        e0 = newest[0]
        self.assertEqual(first[1], {"630102": "城东区", "630202": "乐都区",
                                    "632801": "格尔木市"}[e0["county"]], first)
        self.assertEqual(first[2], e0["service_name"])
        self.assertIn(first[4], ("办理中", "已办结"))
        self.assertEqual(first[6], e0["requested_datetime"][:16].replace("T", " "))
        notes = [r[5] for r in dom.latest.values() if "<b>" in r[5]]
        self.assertTrue(notes, "closed rows' notes with markup should show as text")
        # per county, and zero rows for the other 41 counties
        want = expected_figures(entries)
        for c, f in want.items():
            self.assertEqual(dom.figures.get(c), f, c)
        self.assertEqual(dom.figures["632802"], {"cases": "0", "closed": "0", "ontime": "—",
                                                 "revisit": "—"})
        self.assertEqual(len([c for c in dom.figures if not c.endswith("00")]), 44)
        self.assertEqual(dom.figures["630000"]["cases"], "250")  # province total
        self.assertEqual(dom.figures["630100"]["cases"], want["630102"]["cases"])  # subtotal
        pages = sorted(int(q["page"]) for q in StubFeed.seen_queries)
        self.assertEqual(pages[:2], [1, 2], StubFeed.seen_queries)

    def test_1_envelope(self):
        dom = PageDom(dump_dom(self.url))
        self.check(dom)
        say("stub feed ({requests:[…]}): %d latest rows, 城东区 %r", len(dom.latest),
            dom.figures["630102"])
        shot = os.environ.get("HCP_PAGE_SCREENSHOT")
        if shot:
            screenshot(self.url, shot)
            say("screenshot written to %s", shot)

    def test_2_bare_array(self):
        StubFeed.BARE = True
        dom = PageDom(dump_dom(self.url))
        self.check(dom)
        say("stub feed (bare array): %d latest rows", len(dom.latest))

    def test_3_empty_feed(self):
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StubFeed)
        port = srv.server_address[1]
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        StubFeed.ENTRIES, saved = [], StubFeed.ENTRIES
        try:
            dom = PageDom(dump_dom("http://127.0.0.1:%d/index.html" % port))
        finally:
            StubFeed.ENTRIES = saved
            srv.shutdown()
            srv.server_close()
        self.assertEqual(dom.loaded, "0", dom.state)
        self.assertEqual(dom.latest, {})
        self.assertEqual(dom.figures["630102"]["cases"], "0")

    def test_4_feed_error(self):
        StubFeed.BROKEN = True
        try:
            dom = PageDom(dump_dom(self.url))
        finally:
            StubFeed.BROKEN = False
        self.assertEqual(dom.loaded, "error", dom.state)
        self.assertIn("载入失败", dom.state)
        self.assertIn("HTTP 500", dom.state)


# ---- the real gateway ----

class GatewayPage(unittest.TestCase):
    """The page as hcp-gateway serves it, over cases replicated from nodes."""

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
        except BaseException:
            cls.dump()
            cls.cleanup()
            raise

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

    def feed_all(self):
        """Every feed entry (following pages); None when the route is 404."""
        out = []
        for page in range(1, 100):
            r = self.gw.get("/feed/requests.json?page=%d&page_size=200" % page, token=None)
            if r.status == 404:
                return None
            self.assertEqual(r.status, 200, r)
            j = r.json()
            rows = j if isinstance(j, list) else j["requests"]
            out.extend(rows)
            if len(rows) < 200:
                return out
        return out

    def populate(self, node):
        """Two complaints and a real-name one-star review walked to closed."""
        c = node.county
        ids = [node.new_case(content="%s 投诉：材料反复提交，电话13912345678" % c)["id"],
               node.new_case(complainant=None, content="%s 投诉：等候时间过长" % c)["id"]]
        j = node.evaluate(1, complainant={"name": "评价人", "phone": "13700000001"},
                          content="%s 差评：窗口态度差" % c)
        closed = j["case"]
        ids.append(closed)
        v = {"verifier": {"name": "核实人", "phone": "13700000002"}}
        for step in (dict(type="verify_start", **v), {"type": "notify_staff"},
                     {"type": "verify_conclude", "outcome": "substantiated", "note": "属实"},
                     {"type": "rectify_assign", "unit": {"code": "U-9", "name": "某科室"},
                      "mode": "immediate"},
                     {"type": "rectify_done", "result": "已当场整改"},
                     {"type": "feedback", "via": "phone", "text": "已电话告知"},
                     {"type": "revisit", "by": "回访员", "satisfied": True, "note": "满意"},
                     {"type": "close"}):
            node.step(closed, step)
        self.assertEqual(node.get("/v1/cases/" + closed).json()["status"], "closed")
        return ids, closed

    def test_page_over_replicated_cases(self):
        r = self.gw.get("/", token=None)
        self.assertEqual(r.status, 200, r)
        ctype = {k.lower(): v for k, v in r.headers.items()}.get("content-type", "")
        self.assertEqual(ctype.replace(" ", "").lower(), "text/html;charset=utf-8", r.headers)
        with open(PAGE, "rb") as f:
            self.assertEqual(r.body, f.read(), "GET / is not gateway/www/index.html")
        self.assertEqual(self.gw.get("/index.html", token=None).status, 200)
        self.assertEqual(self.gw.post("/", {}, token=None).status, 405)
        probe = self.gw.get("/feed/requests.json", token=None)
        # the HTTP layer checks the token before routing, so a route that does
        # not exist answers 401 to anyone without it: ask again with the admin
        # token, and skip only on that 404 (a feed that exists but wants a
        # token is a failure: the feed is public)
        if probe.status == 401 and self.gw.get("/feed/requests.json").status == 404:
            probe = self.gw.get("/feed/requests.json")
        if probe.status == 404:
            say("SKIPPED the real-gateway page check: hcp-gateway answers 404 on "
                "/feed/requests.json (the feed is not built yet); GET / was checked")
            self.skipTest("hcp-gateway has no /feed/requests.json yet (404)")
        self.assertEqual(probe.status, 200, probe)

        made, closed = {}, {}
        for c, n in self.nodes.items():
            made[c], closed[c] = self.populate(n)
        all_ids = [i for c in made for i in made[c]]

        def fed():
            entries = self.feed_all() or []
            by = {e["service_request_id"]: e for e in entries}
            ok = all(i in by for i in all_ids) and all(
                by[closed[c]].get("status") == "closed" for c in closed)
            return ok, entries
        entries = wait_until(fed, 30.0, "the feed to list every case, two closed", interval=0.2)
        say("feed lists %d entries", len(entries))

        url = "http://127.0.0.1:%d/" % self.gw.port
        dom = PageDom(dump_dom(url))
        self.assertEqual(dom.loaded, str(len(entries)), dom.state)
        for i in all_ids:
            self.assertIn(i, dom.latest, "case %s not on the page" % i)
        self.assertEqual(dom.latest[closed["630102"]][4], "已办结")
        self.assertEqual(dom.latest[closed["630102"]][1], "城东区")
        self.assertEqual(dom.latest[closed["632801"]][1], "格尔木市")
        for row in dom.latest.values():
            self.assertNotIn("13912345678", " ".join(row), "a phone number on the page")
        want = expected_figures(entries)
        for c in self.COUNTIES:
            self.assertEqual(dom.figures.get(c), want[c], c)
            self.assertEqual(dom.figures[c]["cases"], "3", dom.figures[c])
            self.assertEqual(dom.figures[c]["closed"], "1", dom.figures[c])
            self.assertEqual(dom.figures[c]["revisit"], "100%", dom.figures[c])
            say("county %s on the page: %r", c, dom.figures[c])
        self.assertEqual(dom.figures["630000"]["cases"], str(len(entries)))


if __name__ == "__main__":
    hcptest.main("hcp-gateway", optional=("hcp-node", "hcp-gateway"), before=ensure_chromium)
