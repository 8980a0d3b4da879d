"""test_spotcheck.py — the province's spot checks (issue #15, docs/spotchecks.md).

Usage: python3 test_spotcheck.py PATH/TO/hcp-node PATH/TO/hcp-gateway PATH/TO/hcp-verify

One gateway (plain tcp://, --insecure) and two county nodes:
  test_1  a draw over the cases closed this month: the checkpoint, seed and
          sample are published at /feed/spotchecks.json without personal
          data; the population is every closed case of the month and only
          those; the sizes follow rate and min_per_county; the same beacon
          gives the same sample and another beacon another one.
  test_2  hcp-verify spotcheck recomputes the draw over the URL and over a
          mirrored directory; a case closed after the checkpoint does not
          enter the population (the verification still passes); an altered
          sample, a population that omits a case and a forged checkpoint
          are detected (exit 1).
  test_3  the work end to end: each drawn case reached its county as a
          `spotcheck` directive; a passing finding changes nothing; a failed
          finding re-opens the case at the county (status rectifying, a new
          feedback deadline), the county's new steps replicate back, and the
          results by county count them.
HCP_SPOT_KEEP=1 keeps the temporary directory.
"""
import base64
import copy
import hashlib
import json
import os
import subprocess
import tempfile
import unittest

import hcptest
from hcptest import wait_until

COUNTIES = ("630102", "630103")
SEEN = 20.0
PER_COUNTY = 12  # cases per county, all closed this month
OPEN = 3  # cases per county left open (never in the population)
SPOT_KEYS = ("population", "sample", "checked", "reached", "rectified", "satisfied", "failed")


def close_case(node):
    """A case walked to its close: verify, unsubstantiated, feedback, close."""
    cid = node.new_case()["id"]
    node.step(cid, {"type": "verify_start", "verifier": {"name": "核实人", "phone": "0971-1"}})
    node.step(cid, {"type": "verify_conclude", "outcome": "unsubstantiated"})
    node.step(cid, {"type": "feedback", "via": "phone", "text": "已告知"})
    node.step(cid, {"type": "close"})
    return cid


def recompute(draw, leaves):
    """The draw recomputed in Python from the leaves (docs/spotchecks.md)."""
    body = draw["checkpoint"].split("\n\n")[0] + "\n"
    root = base64.b64decode(body.split("\n")[2])
    size = int(body.split("\n")[1])
    seed = hashlib.sha256(root + draw["beacon"].encode()).digest()
    seen, pop = set(), {}
    for leaf in leaves[:size]:
        e = json.loads(leaf)
        if e["status"] != "closed" or e["service_request_id"] in seen:
            continue
        seen.add(e["service_request_id"])
        if (e["step_datetime"] or "")[:7] == draw["period"]:
            pop.setdefault(e["county"], []).append(e["service_request_id"])
    sample = {}
    for county, ids in pop.items():
        ids.sort(key=lambda i: (hashlib.sha256(seed + i.encode()).digest(), i))
        n = max(draw["min_per_county"], -(-draw["rate_ppm"] * len(ids) // 1000000))
        sample[county] = ids[:min(n, len(ids))]
    return seed.hex(), {c: len(v) for c, v in pop.items()}, sample


class Spotcheck(hcptest.DumpOnFailure, unittest.TestCase):
    procs = []
    tmp = None
    gw = None
    nodes = {}
    closed = {}
    draw = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-spottest-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            for c in COUNTIES:
                cls.nodes[c] = hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=c)
            for c, n in cls.nodes.items():
                cls.closed[c] = [close_case(n) for _ in range(PER_COUNTY)]
                for _ in range(OPEN):
                    n.new_case()
            cls.period = hcptest.now().strftime("%Y-%m")

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, "HCP_SPOT_KEEP")

    # ---- helpers ----
    def public(self, path):
        return self.gw.get(path, token=None)

    def base(self):
        return "http://127.0.0.1:%d" % self.gw.port

    def key(self):
        return self.public("/log/key").text.strip()

    def wait_all_logged(self):
        """Every closed case is in the gateway's feed and under the checkpoint."""
        want = {cid for ids in self.closed.values() for cid in ids}

        def probe():
            leaves = self.leaves()
            size = int(self.public("/log/checkpoint").text.split("\n")[1])
            got = {json.loads(x)["service_request_id"] for x in leaves[:size]
                   if json.loads(x)["status"] == "closed"}
            return (want <= got, len(got))
        wait_until(probe, SEEN, "every closed case under the checkpoint", interval=0.2)

    def leaves(self):
        """Every entry of the log as served (the entry bundles)."""
        size = int(self.public("/log/checkpoint").text.split("\n")[1])
        out = []
        for n in range((size + 255) // 256):
            w = min(256, size - 256 * n)
            p = "/log/tile/entries/%03d%s" % (n, "" if w == 256 else ".p/%d" % w)
            r = self.public(p)
            self.assertEqual(r.status, 200, (p, r))
            b, off = r.body, 0
            while off < len(b):
                ln = b[off] << 8 | b[off + 1]
                out.append(b[off + 2:off + 2 + ln].decode())
                off += 2 + ln
        return out

    def post_draw(self, rate, minpc, beacon, want=201):
        r = self.gw.post("/v1/spotchecks", {"period": self.period, "rate": rate,
                                            "min_per_county": minpc, "beacon": beacon})
        self.assertEqual(r.status, want, r)
        return r.json()

    def verify(self, draw_src, log_src=None, want=0):
        cmd = [hcptest.path("hcp-verify"), "spotcheck", "--key", self.key(), "--draw", draw_src,
               "--log", log_src or self.base()]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, want, (cmd, p.stdout, p.stderr))
        return p.stdout + p.stderr

    # ---- tests ----
    def test_1_draw(self):
        self.wait_all_logged()
        d = self.post_draw(0.25, 2, "2026-12-01 双色球 03 07 12 19 25 31 + 09")
        type(self).draw = d
        self.assertEqual(d["id"], 1)
        self.assertEqual(d["period"], self.period)
        self.assertEqual(d["population"], {c: PER_COUNTY for c in COUNTIES})
        for c in COUNTIES:  # ceil(25 % of 12) = 3 ≥ 2
            self.assertEqual(len(d["sample"][c]), 3, d)
            self.assertTrue(set(d["sample"][c]) <= set(self.closed[c]))
        seed, pop, sample = recompute(d, self.leaves())
        self.assertEqual(d["seed"], seed)
        self.assertEqual(d["population"], pop)
        self.assertEqual(d["sample"], sample)
        # the same beacon at the same checkpoint: the same sample; a larger
        # rate: a sample containing it; another beacon: another one
        same = self.post_draw(0.25, 2, d["beacon"])
        if same["checkpoint"] == d["checkpoint"]:
            self.assertEqual(same["sample"], d["sample"])
        big = self.post_draw(0.5, 2, d["beacon"])
        if big["checkpoint"] == d["checkpoint"]:
            for c in COUNTIES:
                self.assertEqual(big["sample"][c][:3], d["sample"][c])
        other = self.post_draw(0.25, 2, "another beacon")
        self.assertNotEqual(other["seed"], d["seed"])
        # public: every draw, its checkpoint, beacon, seed and sample
        r = self.public("/feed/spotchecks.json")
        self.assertEqual(r.status, 200, r)
        pub = r.json()["spotchecks"]
        self.assertEqual([x["id"] for x in pub], [4, 3, 2, 1])
        p1 = pub[-1]
        for k in ("period", "checkpoint", "beacon", "seed", "rate", "rate_ppm", "min_per_county",
                  "population", "sample", "tree_size", "findings", "results"):
            self.assertIn(k, p1)
        self.assertEqual(p1["sample"], d["sample"])
        self.assertNotIn("by", p1)
        self.assertNotIn("核实人", r.text)
        # the supervisor's view and list; no token: refused
        r = self.gw.get("/v1/spotchecks/1")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json()["cases"]), 6)
        self.assertEqual(self.gw.get("/v1/spotchecks").json()["spotchecks"][-1]["id"], 1)
        self.assertEqual(self.gw.get("/v1/spotchecks/1", token=None).status, 401)
        self.assertEqual(self.gw.get("/v1/spotchecks/99").status, 404)
        # the page (served like every gateway/www file) and its script
        r = self.public("/spotchecks.html")
        self.assertEqual(r.status, 200, r)
        self.assertIn("省级抽查", r.text)
        self.assertIn("feed/spotchecks.json", r.text)
        self.assertEqual(self.public("/spotchecks.js").status, 200)
        # a spot-check directive by hand is refused: only draws and findings send them
        r = self.gw.post("/v1/directives", {"county": COUNTIES[0], "type": "spotcheck",
                                             "case": d["sample"][COUNTIES[0]][0]})
        self.assertEqual(r.status, 422, r)
        # bad fields
        for bad in ({"period": "2026-13"}, {"rate": 1.5}, {"rate": 0.0000001},
                    {"min_per_county": -1}, {"beacon": ""}):
            body = dict({"period": self.period, "rate": 0.1, "min_per_county": 1,
                         "beacon": "b"}, **bad)
            self.assertEqual(self.gw.post("/v1/spotchecks", body).status, 422, bad)

    def mirror(self, into):
        """The entry bundles the checkpoint covers, as a directory."""
        size = int(self.public("/log/checkpoint").text.split("\n")[1])
        for n in range((size + 255) // 256):
            w = min(256, size - 256 * n)
            rel = "log/tile/entries/%03d%s" % (n, "" if w == 256 else ".p/%d" % w)
            r = self.public("/" + rel)
            self.assertEqual(r.status, 200, (rel, r))
            os.makedirs(os.path.dirname(os.path.join(into, rel)), exist_ok=True)
            with open(os.path.join(into, rel), "wb") as f:
                f.write(r.body)

    def write_draw(self, d, name):
        p = os.path.join(self.tmp, name)
        with open(p, "w", encoding="utf-8") as f:
            json.dump(d, f, ensure_ascii=False)
        return p

    def test_2_verify(self):
        feed = self.base() + "/feed/spotchecks.json"
        out = self.verify(feed)
        self.assertIn("recomputed identically", out)
        # everything at rate 1: the sample is the whole population
        full = self.post_draw(1, 0, "all of them")
        self.assertEqual({c: sorted(v) for c, v in full["sample"].items()},
                         {c: sorted(self.closed[c]) for c in COUNTIES})
        # a case closed after that checkpoint: the log grows past it, the
        # verification still passes and the case is not in the population
        late = close_case(self.nodes[COUNTIES[0]])

        def logged():
            leaves = self.leaves()
            return (any(json.loads(x)["service_request_id"] == late and
                        json.loads(x)["status"] == "closed" for x in leaves), len(leaves))
        wait_until(logged, SEEN, "the late case under a checkpoint", interval=0.2)
        self.assertNotIn(late, full["sample"][COUNTIES[0]])
        pub = [x for x in self.public("/feed/spotchecks.json").json()["spotchecks"]
               if x["id"] == full["id"]][0]
        self.assertIn("recomputed identically", self.verify(feed + "", want=0))
        path = self.write_draw(pub, "full.json")
        self.verify(path)
        # a mirrored directory of the log verifies the same
        d = os.path.join(self.tmp, "mirror")
        self.mirror(d)
        self.verify(path, d)
        # an altered sample: one drawn case swapped for one not drawn
        one = [x for x in self.public("/feed/spotchecks.json").json()["spotchecks"]
               if x["id"] == 1][0]
        bad = copy.deepcopy(one)
        c = COUNTIES[1]
        other = [x for x in self.closed[c] if x not in one["sample"][c]][0]
        bad["sample"][c][1] = other
        out = self.verify(self.write_draw(bad, "altered.json"), want=1)
        self.assertIn("place 2 of the sample", out)
        # a population that omits a case
        bad = copy.deepcopy(one)
        bad["population"][c] -= 1
        out = self.verify(self.write_draw(bad, "omitted.json"), want=1)
        self.assertIn("population of %d" % PER_COUNTY, out)
        # a forged checkpoint: the signature fails
        bad = copy.deepcopy(one)
        lines = bad["checkpoint"].split("\n")
        lines[1] = str(int(lines[1]) - 1)
        bad["checkpoint"] = "\n".join(lines)
        out = self.verify(self.write_draw(bad, "forged.json"), want=1)
        self.assertIn("does not verify", out)
        # another seed published: detected
        bad = copy.deepcopy(one)
        bad["seed"] = "00" * 32
        self.assertIn("the seed", self.verify(self.write_draw(bad, "seed.json"), want=1))
        # usage errors
        self.verify(os.path.join(self.tmp, "nothing.json"), want=2)

    def summary(self, query):
        r = self.gw.get("/v1/stats/summary" + query)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def spot_row(self, summ, county):
        """A county's spot-check counts on its summary row."""
        row = [x for x in summ["counties"] if x["county"] == county][0]
        self.assertEqual(set(row["spotchecks"]), set(SPOT_KEYS))
        return row["spotchecks"]

    def node_case(self, county, cid):
        r = self.nodes[county].get("/v1/cases/%s" % cid)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_3_work(self):
        d = self.draw
        a_county, b_county = COUNTIES
        a, b = d["sample"][a_county][0], d["sample"][b_county][0]
        # each drawn case reached its county as a `spotcheck` directive,
        # a note on the case there, and the acknowledgement came back
        for county in COUNTIES:
            for cid in d["sample"][county]:
                def seen(county=county, cid=cid):
                    evs = self.node_case(county, cid)["events"]
                    got = [e for e in evs if e["type"] == "directive" and
                           e.get("directive_type") == "spotcheck"]
                    return (len(got) >= 1, evs[-1])
                wait_until(seen, SEEN, "the spotcheck directive on %s" % cid, interval=0.2)
            self.assertEqual(self.node_case(county, d["sample"][county][0])["status"], "closed")
        r = self.gw.get("/v1/directives?type=spotcheck&county=%s&limit=500" % a_county).json()
        self.assertTrue(r["directives"])

        def acked():
            ds = self.gw.get("/v1/directives?type=spotcheck&limit=500").json()["directives"]
            mine = [x for x in ds if d["directives"]["first"] <= x["seq"] <= d["directives"]["last"]]
            return (all(x["counts"]["applied"] == 1 for x in mine), mine)
        wait_until(acked, SEEN, "every spotcheck directive applied", interval=0.2)
        # findings: a passing one, a second one refused, a failed one
        r = self.gw.post("/v1/spotchecks/1/results", {"case": a, "reached": True,
                                                      "rectified": True, "satisfied": True,
                                                      "note": "已回访，满意"})
        self.assertEqual(r.status, 201, r)
        r = self.gw.post("/v1/spotchecks/1/results", {"case": a, "reached": True,
                                                      "rectified": True, "satisfied": True})
        self.assertEqual(r.status, 409, r)
        notdrawn = [x for x in self.closed[a_county] if x not in d["sample"][a_county]][0]
        r = self.gw.post("/v1/spotchecks/1/results", {"case": notdrawn, "reached": True,
                                                      "rectified": True, "satisfied": True})
        self.assertEqual(r.status, 404, r)
        r = self.gw.post("/v1/spotchecks/1/results", {"case": b, "reached": "yes",
                                                      "rectified": True, "satisfied": True})
        self.assertEqual(r.status, 422, r)
        # the summary (GET /v1/stats/summary) carries the results by county
        summ = self.summary("?county=" + b_county)
        self.assertEqual(summ["figures"]["closed"], PER_COUNTY)
        self.assertEqual(self.spot_row(self.summary(""), a_county)["checked"], 1)
        self.assertEqual(self.spot_row(summ, b_county)["checked"], 0)
        phone = "13912345678"
        before = self.node_case(b_county, b)
        r = self.gw.post("/v1/spotchecks/1/results", {
            "case": b, "reached": True, "rectified": False, "satisfied": False,
            "note": "回访发现未整改，投诉人电话%s" % phone})
        self.assertEqual(r.status, 201, r)
        self.assertNotIn(phone, r.text)
        # the failed finding re-opens the case at the county, with a new deadline

        def reopened():
            c = self.node_case(b_county, b)
            return (c["status"] == "rectifying", c["status"])
        wait_until(reopened, SEEN, "the case re-opened at the county", interval=0.2)
        c = self.node_case(b_county, b)
        self.assertIn("reopened_at", c)
        # the case was received today, so the new deadline (5 working days
        # from the re-open) falls on the same day as the first; the unit test
        # of the rules checks one counted from a later re-open
        self.assertGreaterEqual(c["deadlines"]["feedback_due"],
                                before["deadlines"]["feedback_due"])
        self.assertEqual(c["reopened_at"][:10], hcptest.now().strftime("%Y-%m-%d"))
        ev = [e for e in c["events"] if e.get("directive_type") == "spotcheck_result"][-1]
        self.assertTrue(ev.get("reopen"))
        self.assertIn("重新打开", ev["note"])
        self.assertNotIn(phone, json.dumps(c, ensure_ascii=False))
        self.assertEqual(self.node_case(a_county, a)["status"], "closed")
        # the re-open replicates: the gateway's case is rectifying too
        wait_until(lambda: (self.gw.get("/v1/cases/%s" % b).json()["status"] == "rectifying",
                            self.gw.get("/v1/cases/%s" % b).json()["status"]),
                   SEEN, "the re-open at the gateway", interval=0.2)
        # the summary: the failed finding counted, the case no longer closed
        summ = self.summary("?county=" + b_county)
        self.assertEqual(summ["figures"]["closed"], PER_COUNTY - 1)
        self.assertEqual(summ["figures"]["by_status"]["rectifying"], 1)
        self.assertEqual(self.spot_row(summ, b_county)["failed"], 1)
        # the county handles it again; its new steps replicate back
        n = self.nodes[b_county]
        n.step(b, {"type": "rectify_assign", "mode": "immediate",
                   "unit": {"code": "U-1", "name": "城中区政务服务中心"}})
        n.step(b, {"type": "rectify_done", "result": "已重新整改"})
        n.step(b, {"type": "feedback", "via": "phone", "text": "已告知整改结果"})
        n.step(b, {"type": "close"})

        def back():
            g = self.gw.get("/v1/cases/%s" % b).json()
            return (g["status"] == "closed" and
                    any(e["type"] == "rectify_done" for e in g["events"]), g["status"])
        wait_until(back, SEEN, "the county's new steps at the gateway", interval=0.2)
        # results by county, for the supervisor and the public
        full = self.gw.get("/v1/spotchecks/1").json()
        rows = {x["county"]: x for x in full["results"]}
        self.assertEqual((rows[a_county]["sample"], rows[a_county]["checked"],
                          rows[a_county]["reached"], rows[a_county]["rectified"],
                          rows[a_county]["satisfied"], rows[a_county]["failed"]),
                         (3, 1, 1, 1, 1, 0))
        self.assertEqual((rows[b_county]["checked"], rows[b_county]["reached"],
                          rows[b_county]["rectified"], rows[b_county]["satisfied"],
                          rows[b_county]["failed"]), (1, 1, 0, 0, 1))
        self.assertEqual({x["case"]: x["status"] for x in full["cases"]}[b], "closed")
        # the figures after the county's new steps: closed again, the
        # finding still counted; by county, by draw and in total
        summ = self.summary("?county=" + b_county)
        self.assertEqual(summ["figures"]["closed"], PER_COUNTY)
        self.assertEqual(summ["figures"]["by_status"]["rectifying"], 0)
        self.assertEqual(summ["counties"][0]["figures"]["closed"], PER_COUNTY)
        got = self.spot_row(summ, b_county)  # summed over the draws of the scope
        self.assertEqual((got["checked"], got["reached"], got["rectified"], got["satisfied"],
                          got["failed"]), (1, 1, 0, 0, 1))
        self.assertEqual(got["sample"], sum(x["counties"][0]["sample"]
                                            for x in summ["spotchecks"]["draws"]))
        d1 = [x for x in summ["spotchecks"]["draws"] if x["id"] == 1][0]
        self.assertEqual(d1["counties"][0]["sample"], 3)
        self.assertEqual([x["county"] for x in d1["counties"]], [b_county])
        self.assertEqual(d1["counties"][0]["failed"], 1)
        summ = self.summary("")
        d1 = [x for x in summ["spotchecks"]["draws"] if x["id"] == 1][0]
        self.assertEqual((d1["total"]["sample"], d1["total"]["checked"], d1["total"]["failed"]),
                         (6, 2, 1))
        self.assertEqual(self.spot_row(summ, a_county)["failed"], 0)
        self.assertEqual(len(summ["spotchecks"]["draws"]), 5)
        self.assertEqual(summ["spotchecks"]["total"]["failed"], 1)
        today = hcptest.now().strftime("%Y-%m-%d")
        self.assertEqual(len(self.summary("?from=%s&to=%s" % (today, today))
                             ["spotchecks"]["draws"]), 5)
        self.assertEqual(self.summary("?from=2025-01-01&to=2025-12-31")["spotchecks"],
                         {"draws": [], "total": {k: 0 for k in SPOT_KEYS}})
        # the public figures carry the same counts by county, nothing personal
        st = self.public("/feed/stats.json")
        self.assertEqual(st.status, 200, st)
        self.assertNotIn(phone, st.text)
        self.assertNotIn(b, st.text)
        p1 = [x for x in st.json()["spotchecks"]["draws"] if x["id"] == 1][0]
        self.assertEqual({x["county"]: (x["checked"], x["failed"]) for x in p1["counties"]},
                         {a_county: (1, 0), b_county: (1, 1)})
        pub = self.public("/feed/spotchecks.json")
        self.assertNotIn(phone, pub.text)
        p1 = [x for x in pub.json()["spotchecks"] if x["id"] == 1][0]
        self.assertEqual({x["case"] for x in p1["findings"]}, {a, b})
        for f in p1["findings"]:
            self.assertNotIn("note", f)
            self.assertNotIn("by", f)
        self.assertEqual({x["county"]: x["failed"] for x in p1["results"]},
                         {a_county: 0, b_county: 1})
        # the recomputation still holds after the findings and the re-open
        self.verify(self.base() + "/feed/spotchecks.json")
        # a published static copy carries the draws too, and verifies
        out = os.path.join(self.tmp, "published")
        p = subprocess.run([hcptest.path("hcp-gateway"), "publish", "--data", self.gw.data,
                            "--out", out], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(out, "feed", "spotchecks.json"), encoding="utf-8") as f:
            st = json.load(f)
        self.assertEqual([x["sample"] for x in st["spotchecks"]],
                         [x["sample"] for x in pub.json()["spotchecks"]])
        self.assertTrue(os.path.exists(os.path.join(out, "spotchecks.html")))
        self.verify(os.path.join(out, "feed", "spotchecks.json"), out)


if __name__ == "__main__":
    hcptest.main("hcp-gateway", "hcp-verify")
