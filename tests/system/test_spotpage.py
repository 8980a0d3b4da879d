"""test_spotpage.py — the spot-check page (gateway/www/spotchecks.html and
spotchecks.js, docs/spotchecks.md) in a real headless browser (Debian's
chromium), as tests/system/test_page.py does for the public page.

Usage: python3 test_spotpage.py PATH/TO/hcp-node PATH/TO/hcp-gateway

A real hcp-gateway (--insecure, tcp://) and two county nodes; every case
closed this month; two draws (the second at rate 1); a passing and a failed
finding. Then chromium loads the gateway's /spotchecks.html:
  test_1  every number on the page equals /feed/spotchecks.json: per draw
          and county the population, sample, checked, reached, rectified,
          satisfied and failed, the totals row, the draw's beacon, seed and
          checkpoint size, the link to the JSON; newest draw first; and a
          screenshot at 1366x768 (build/tests/system/spotpage.png, or
          $HCP_PAGE_SHOTS).
  test_2  Chinese glyphs are drawn with a CJK font from the page's own
          stylesheet (not as the missing-glyph box): the page's heading
          characters drawn on a canvas with the heading's computed font are
          each different from the box and from each other.
  test_3  a published static copy (hcp-gateway publish) served by a plain
          web server shows the same numbers.
chromium and the CJK font (fonts-wqy-microhei) are installed if missing
(scripts/deps.sh browser, as root); if they cannot be, exit 77 (skipped).
"""
import functools
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hcptest  # noqa: E402
from test_page import chromium, dom, ensure_browser, num, screenshot  # noqa: E402
from test_spotcheck import close_case  # noqa: E402

COUNTIES = ("630102", "630103")
PER_COUNTY = 6
COLS = ("population", "sample", "checked", "reached", "rectified", "satisfied", "failed")
NOTE = "回访备注：投诉人电话13912345678"
SHOTS = os.environ.get("HCP_PAGE_SHOTS") or os.getcwd()

say = hcptest.sayer("spotpage")

# The page's heading characters drawn with the heading's computed font (so
# style.css's font stack, as the page uses it), each compared with the box
# a font without the character draws (a private-use code point): with a
# CJK font every glyph differs from the box and from the others.
PROBE = """(function () {
  var font = getComputedStyle(document.querySelector("h1")).font;
  function pixels(ch) {
    var c = document.createElement("canvas"); c.width = 48; c.height = 48;
    var x = c.getContext("2d"); x.font = font.replace(/\\d+px/, "32px"); x.fillStyle = "#000";
    x.fillText(ch, 4, 36); return Array.prototype.join.call(x.getImageData(0, 0, 48, 48).data, "");
  }
  var tofu = pixels("\\uE000"), seen = {}, distinct = 0, boxes = 0;
  var chars = document.querySelector("h1").textContent.replace(/\\s/g, "");
  for (var i = 0; i < chars.length; i++) {
    var p = pixels(chars[i]);
    if (p === tofu) boxes++;
    if (!seen[p]) { seen[p] = 1; distinct++; }
  }
  var out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({font: font, chars: chars, boxes: boxes, distinct: distinct,
                                    blank: pixels(chars[0]) === pixels(" ")});
  document.body.appendChild(out);
})();"""


class WwwWithProbe(http.server.SimpleHTTPRequestHandler):
    """A plain web server over a directory (a published copy), which also
    serves spotchecks-probe.html: the page with the glyph probe added."""

    def do_GET(self):
        if self.path.split("?")[0] == "/spotchecks-probe.html":
            with open(os.path.join(self.directory, "spotchecks.html"), encoding="utf-8") as f:
                page = f.read().replace("</body>", "<script>%s</script>\n</body>" % PROBE)
            data = page.encode("utf-8")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        super().do_GET()

    def log_message(self, fmt, *args):
        pass


class SpotPage(hcptest.DumpOnFailure, unittest.TestCase):
    procs = []
    tmp = None
    gw = None
    nodes = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-spotpage-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            closed = []
            for c in COUNTIES:
                n = hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=c)
                cls.nodes[c] = n
                closed += [close_case(n) for _ in range(PER_COUNTY)]
            period = hcptest.now().strftime("%Y-%m")

            def logged():
                """Every closed case under the checkpoint (the log's entry tiles)."""
                size = int(cls.gw.get("/log/checkpoint", token=None).text.split("\n")[1])
                got = set()
                for t in range((size + 255) // 256):
                    w = min(256, size - 256 * t)
                    r = cls.gw.get("/log/tile/entries/%03d%s" % (t, "" if w == 256 else
                                                                 ".p/%d" % w), token=None)
                    b, off = r.body, 0
                    while r.status == 200 and off < len(b):
                        ln = b[off] << 8 | b[off + 1]
                        e = json.loads(b[off + 2:off + 2 + ln])
                        if e["status"] == "closed":
                            got.add(e["service_request_id"])
                        off += 2 + ln
                return (set(closed) <= got, len(got))
            hcptest.wait_until(logged, 30.0, "every closed case under the checkpoint",
                               interval=0.3)
            d = cls.gw.post("/v1/spotchecks", {"period": period, "rate": 0.5,
                                                "min_per_county": 2,
                                                "beacon": "2026-12-01 双色球 03 07 12 19 25 31 + 09"})
            assert d.status == 201, d
            cls.draw = d.json()
            d = cls.gw.post("/v1/spotchecks", {"period": period, "rate": 1, "min_per_county": 0,
                                                "beacon": "全部"})
            assert d.status == 201, d
            a = cls.draw["sample"][COUNTIES[0]]
            for cid, ok in ((a[0], True), (a[1], False)):
                r = cls.gw.post("/v1/spotchecks/%d/results" % cls.draw["id"],
                                {"case": cid, "reached": True, "rectified": ok, "satisfied": ok,
                                 "note": NOTE})
                assert r.status == 201, r

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, "HCP_SPOT_KEEP")

    def check_page(self, base):
        """The page at base/spotchecks.html shows exactly the JSON's numbers."""
        j = json.loads(self.gw.get("/feed/spotchecks.json", token=None).text)["spotchecks"]
        d = dom(base + "/spotchecks.html")
        self.assertEqual(d.body("data-state"), "ready")
        self.assertEqual(d.by_id("state")["text"].strip(), "共 %d 次抽查" % len(j))
        self.assertTrue(d.by_id("none")["attrs"].get("hidden") is not None)
        heads = [e["text"] for e in d.find(tag="h2") if "省级抽查（第" in e["text"]]
        self.assertEqual(heads, ["%s 省级抽查（第%d号）" % (x["period"], x["id"]) for x in j])
        for x in j:
            for r in x["results"]:
                row = d.rows["%d:%s" % (x["id"], r["county"])]
                self.assertEqual(row["county"], "%s（%s）" % (r["county_name"], r["county"]))
                self.assertEqual({k: row[k] for k in COLS}, {k: num(r[k]) for k in COLS},
                                 (x["id"], r["county"]))
            tot = d.rows["%d:total" % x["id"]]
            self.assertEqual({k: tot[k] for k in COLS},
                             {k: num(sum(r[k] for r in x["results"])) for k in COLS})
            facts = d.rows["%d:facts" % x["id"]]
            self.assertEqual(facts["beacon"], x["beacon"])
            self.assertEqual(facts["seed"], x["seed"])
            self.assertEqual(facts["tree_size"], "前 %s 条公开记录" % num(x["tree_size"]))
            self.assertEqual(len(d.find(tag="a", href="feed/spotchecks.json#%d" % x["id"])), 1)
        return j, d

    def test_1_numbers(self):
        base = "http://127.0.0.1:%d" % self.gw.port
        j, d = self.check_page(base)
        mine = [x for x in j if x["id"] == self.draw["id"]][0]
        rows = {r["county"]: r for r in mine["results"]}
        self.assertEqual((rows[COUNTIES[0]]["checked"], rows[COUNTIES[0]]["failed"]), (2, 1))
        self.assertEqual(d.rows["%d:%s" % (mine["id"], COUNTIES[0])]["failed"], "1")
        self.assertEqual(d.rows["%d:%s" % (mine["id"], COUNTIES[1])]["sample"],
                         num(len(mine["sample"][COUNTIES[1]])))
        # nothing personal on the page
        text = chromium(base + "/spotchecks.html", "--dump-dom")
        for secret in ("核实人", "0971-1", NOTE):
            self.assertNotIn(secret, text)
        screenshot(base + "/spotchecks.html", "spotpage.png")

    def static_copy(self):
        out = os.path.join(self.tmp, "published")
        p = subprocess.run([hcptest.path("hcp-gateway"), "publish", "--data", self.gw.data,
                            "--out", out], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        srv = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(WwwWithProbe, directory=out))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        return "http://127.0.0.1:%d" % srv.server_address[1]

    def test_2_cjk_glyphs(self):
        base = self.static_copy()
        r = json.loads(dom(base + "/spotchecks-probe.html").by_id("probe")["text"])
        say("CJK probe: %r", r)
        self.assertEqual(r["chars"], "省级抽查回访")
        self.assertEqual(r["boxes"], 0, "characters drawn as the missing-glyph box")
        self.assertEqual(r["distinct"], len(r["chars"]), "each character should look different")
        self.assertFalse(r["blank"])

    def test_3_static_copy(self):
        self.check_page(self.static_copy())


if __name__ == "__main__":
    hcptest.main("hcp-gateway", before=ensure_browser)
