"""test_stats.py — the province's figures (issue #12, docs/stats.md).

Usage: python3 test_stats.py PATH/TO/hcp-node PATH/TO/hcp-gateway

One gateway (plain tcp://) and two county nodes, 630102 城东区 (西宁市) and
630202 乐都区 (海东市), which sweep once a day (their first sweep passes before
any case exists, so no `overdue` mark is written: lateness is decided by the
step dates alone, and by the clock for the cases still open). A population
generated with a fixed seed (random.Random(SEED)) is pushed through the nodes'
API with back-dated `at` values — every path a case can take: left open
(recently, or long enough ago to be overdue now), unsubstantiated, substantiated
with a revisit satisfied / unsatisfied / not made, anonymous, disputed and found
mistaken, malicious, upheld or still open; feedback in time (within 4 calendar
days, always inside 5 working days) or 30 days late (always outside) — plus
fixed cases for the rules' edges:
  - a unit with exactly 20 ratings and 1 adopted negative review (5 %: not
    over) and one with 19 and 1 (over), a mistaken review that does not count;
  - a staff member with exactly 2 adopted substantiated cases (listed), one with
    1 and a dispute still open (listed as pending, not confirmed), one with 2
    and a third found malicious (2);
  - a case received on 12-30 and concluded in January: it belongs to the year
    of receipt.
The test keeps its own model of every case and computes the Art. 11 lists, the
hot spots (with the previous period), the summary and /feed/stats.json itself,
then compares them with the gateway's answers; it also checks that the public
figures hold no personal data, their ETag, and that bad parameters are 400;
last, that figures switched off for a run are counted again from the stored
cases and the log at the next start.
HCP_STATS_KEEP=1 keeps the temporary directory.
"""
import datetime
import json
import os
import random
import tempfile
import time
import unittest

import hcptest
from hcptest import CST, iso, wait_until

SEED = 20261203
A, B = "630102", "630202"
PREF = {A: "630100", B: "630200"}
PREF_NAMES = {"630100": "西宁市", "630200": "海东市"}
DIMS = ["coverage", "materials", "guide", "convenience", "modes", "proficiency", "attitude",
        "rights"]
UNITS = {A: ["UA1", "UA2", "UA3"], B: ["UB1", "UB2"]}
ITEMS = ["SI-01", "SI-02", "SI-03", "SI-04"]
STATUSES = ["received", "verifying", "disputed", "rectifying", "feedback_pending",
            "awaiting_revisit", "resolved", "closed"]
OUTCOMES = ["none", "substantiated", "unsubstantiated", "mistaken", "malicious"]
SECRET_PHONE = "13912345678"  # every complainant's phone: must never be public
SECRET_NAME = "投诉人保密"


def today():
    return datetime.datetime.now(CST).date()


def at(day, hour=9, minute=0):
    return iso(datetime.datetime(day.year, day.month, day.day, hour, minute, 0, tzinfo=CST))


class Model:
    """What the test knows of a case it made, in the gateway's terms."""

    def __init__(self, cid, county, unit, staff, item, dims, kind, day):
        self.id, self.county, self.unit, self.staff = cid, county, unit, staff
        self.item, self.dims, self.kind, self.day = item, dims, kind, day
        self.status, self.outcome, self.adopted = "received", "none", True
        self.missed = False       # a deadline missed, shown by the step dates
        self.overdue_now = False  # open, no feedback, its deadline passed (by the clock)
        self.owed = self.revisited = self.satisfied = False
        self.substantiated = False

    @property
    def pending(self):
        return self.status == "disputed"

    @property
    def closed(self):
        return self.status == "closed"

    def late(self):
        return self.missed or (not self.closed and self.overdue_now)

    def on_time(self):
        return self.closed and not self.missed


class Stats(hcptest.DumpOnFailure, unittest.TestCase):
    procs = []
    tmp = None
    gw = None
    nodes = {}
    cases = []
    ratings = {}  # (county, unit, year) -> evaluations (3..5) given

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-statstest-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            for c in (A, B):
                cls.nodes[c] = hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=c)
            # the nodes' first sweep (1 s after start, then once a day) must pass
            # before the back-dated cases exist: it would mark them overdue
            for n in cls.nodes.values():
                wait_until(lambda: (n.metrics().get("hcp_node_commits_total", 0) >= 1, "-"),
                           15.0, "the node's first sweep")
            time.sleep(2.0)
            cls.clerk = {c: n.add_user("clerk-" + c, "clerk") for c, n in cls.nodes.items()}
            t0 = time.monotonic()
            cls.populate()
            for c, n in cls.nodes.items():
                head = n.head()
                wait_until(lambda: (cls.gw.counties().get(c, {}).get("applied") == head, head),
                           60.0, "the gateway to apply %s's log" % c)
            print("population: %d cases, %d evaluations in %.1f s" % (
                len(cls.cases), sum(cls.ratings.values()), time.monotonic() - t0))

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, "HCP_STATS_KEEP")

    # ---- making the population ----
    @classmethod
    def open(cls, county, unit, staff, item, dims, kind, day, reachable=True, hour=9):
        n = cls.nodes[county]
        body = {"kind": kind, "unit": {"code": unit, "name": "单位" + unit},
                "window": "W1", "service_item": {"code": item, "name": "事项" + item},
                "channel": "hall", "dimensions": dims, "content": "测试内容",
                "at": at(day, hour)}
        if kind == "review":
            body["rating"] = 1
        body["staff"] = {"id": staff, "name": "员工" + staff, "phone": "0971-5550000"} \
            if staff else None
        body["complainant"] = {"name": SECRET_NAME, "phone": SECRET_PHONE} if reachable else None
        r = n.post("/v1/cases", body)
        assert r.status == 201, r
        m = Model(r.json()["id"], county, unit, staff, item, dims, kind, day)
        m.reachable = reachable
        if kind == "review":
            key = (county, unit, day.year)
            cls.ratings.setdefault(key, 0)
        cls.cases.append(m)
        return m

    @classmethod
    def step(cls, m, body, when, token="default"):
        body = dict(body, at=iso(when))
        cls.nodes[m.county].step(m.id, body, token=token)

    @classmethod
    def walk(cls, m, path, late=False, revisit=None, verdict=None):
        """Take case m along path; when: the receipt day at 09:00, steps an
        hour apart (feedback 30 days later when late)."""
        t = datetime.datetime(m.day.year, m.day.month, m.day.day, 9, 0, tzinfo=CST)
        k = [0]

        def nxt(days=0):
            k[0] += 1
            return t + datetime.timedelta(days=days, hours=k[0])
        old = (today() - m.day).days > 31
        if path == "open":
            m.overdue_now = old
            return
        cls.step(m, {"type": "verify_start", "verifier": {"name": "核实人", "phone": "1"}}, nxt())
        m.status = "verifying"
        if path == "unsub":
            cls.step(m, {"type": "verify_conclude", "outcome": "unsubstantiated"}, nxt())
            m.outcome = "unsubstantiated"
            cls.step(m, {"type": "feedback", "via": "phone", "text": "已告知"},
                     nxt(30 if late else 0))
            cls.step(m, {"type": "close"}, nxt(30 if late else 0))
            m.status, m.missed = "closed", late
            return
        cls.step(m, {"type": "notify_staff"}, nxt())
        cls.step(m, {"type": "verify_conclude", "outcome": "substantiated"}, nxt())
        m.outcome, m.status, m.substantiated = "substantiated", "rectifying", True
        if path == "dispute":
            cls.step(m, {"type": "dispute_file", "by": m.staff or "员工", "reason": "有异议"},
                     nxt(), token=cls.clerk[m.county])
            m.status = "disputed"
            if verdict is None:  # still open: pending
                m.overdue_now = old
                return
            cls.step(m, {"type": "dispute_decide", "outcome": verdict}, nxt())
            if verdict in ("mistaken", "malicious"):
                m.status, m.outcome, m.adopted = "closed", verdict, False
                return
            m.status = "rectifying"
            m.overdue_now = old  # upheld: rectification goes on, no feedback yet
            return
        cls.step(m, {"type": "rectify_assign", "unit": {"code": "R1", "name": "整改单位"},
                     "mode": "immediate"}, nxt())
        cls.step(m, {"type": "rectify_done", "result": "已整改"}, nxt())
        cls.step(m, {"type": "feedback", "via": "phone", "text": "已反馈"}, nxt(30 if late else 0))
        m.missed = late
        if not m.reachable:
            cls.step(m, {"type": "close"}, nxt(30 if late else 0))
            m.status = "closed"
            return
        m.owed, m.status = True, "awaiting_revisit"
        if revisit is None:
            return
        d = 30 if late else 0
        cls.step(m, {"type": "revisit", "by": "回访人", "satisfied": revisit}, nxt(d))
        m.revisited, m.satisfied = True, revisit
        if revisit:
            cls.step(m, {"type": "close"}, nxt(d))
            m.status = "closed"
        else:
            m.status = "rectifying"

    @classmethod
    def evaluate(cls, county, unit, day, n):
        for i in range(n):
            body = hcptest.evaluation(rating=3 + i % 3, unit={"code": unit, "name": "单位" + unit},
                                      at=at(day, 10 + i % 8, i % 60))
            body["staff"] = None
            r = cls.nodes[county].post("/v1/evaluations", body)
            assert r.status == 201, r
            key = (county, unit, day.year)
            cls.ratings[key] = cls.ratings.get(key, 0) + 1

    @classmethod
    def populate(cls):
        rnd = random.Random(SEED)
        cls.Y = today().year - 1  # a year wholly past
        Y = cls.Y
        start = datetime.date(Y, 1, 1)
        last = today() - datetime.timedelta(days=32)
        span = (last - start).days
        paths = [("open", {}), ("unsub", {}), ("unsub", {"late": True}),
                 ("sub", {"revisit": True}), ("sub", {"revisit": False}), ("sub", {}),
                 ("sub", {"revisit": True, "late": True}), ("dispute", {"verdict": "upheld"}),
                 ("dispute", {"verdict": "mistaken"}), ("dispute", {"verdict": "malicious"})]
        for i in range(240):
            county = rnd.choice([A, B])
            unit = rnd.choice(UNITS[county])
            staff = rnd.choice(["S1", "S2", "S3", None])
            item = rnd.choice(ITEMS)
            dims = sorted(rnd.sample(DIMS, rnd.randint(0, 2)))
            kind = rnd.choice(["review", "complaint"])
            day = start + datetime.timedelta(days=rnd.randint(0, span))
            path, kw = rnd.choice(paths)
            reachable = rnd.random() < 0.8
            m = cls.open(county, unit, staff, item, dims, kind, day, reachable)
            cls.walk(m, path, **kw)
        # recent, still open, not yet overdue
        for i in range(4):
            county = rnd.choice([A, B])
            m = cls.open(county, UNITS[county][0], None, rnd.choice(ITEMS), ["guide"], "complaint",
                         today(), hour=0)
            cls.walk(m, "open")
        # random ratings for the units
        for county, units in UNITS.items():
            for u in units:
                cls.evaluate(county, u, start + datetime.timedelta(days=rnd.randint(0, 300)),
                             rnd.randint(3, 12))
        # Art. 11's 5 % boundary: 20 ratings with 1 negative (not over), 19 with 1 (over)
        d = datetime.date(Y, 6, 10)
        cls.evaluate(B, "U5", d, 19)
        m = cls.open(B, "U5", None, "SI-05", ["attitude"], "review", d, False)
        cls.walk(m, "unsub")
        cls.evaluate(B, "U6", d, 17)
        m = cls.open(B, "U6", None, "SI-05", ["attitude"], "review", d, False)
        cls.walk(m, "open")
        m = cls.open(B, "U6", None, "SI-05", ["attitude"], "review", d, False)  # mistaken:
        cls.walk(m, "dispute", verdict="mistaken")  # a rating (the 19th), not a negative
        # staff: exactly 2; 1 + a pending dispute; 2 + a malicious one
        for k in range(2):
            m = cls.open(A, "UT", "TWO", "SI-06", [], "complaint", datetime.date(Y, 3, 2 + k))
            cls.walk(m, "sub", revisit=True)
        m = cls.open(A, "UT", "ONEP", "SI-06", [], "complaint", datetime.date(Y, 3, 9))
        cls.walk(m, "sub", revisit=True)
        m = cls.open(A, "UT", "ONEP", "SI-06", [], "review", datetime.date(Y, 3, 10))
        cls.walk(m, "dispute")  # still open
        for k, v in enumerate([None, None, "malicious"]):
            m = cls.open(A, "UT", "MAL", "SI-06", [], "review", datetime.date(Y, 4, 6 + k))
            cls.walk(m, "dispute", verdict=v or "upheld")
        # a year end: received on 12-30, concluded in January (the year of receipt)
        m = cls.open(B, "UY", "YE", "SI-07", ["rights"], "complaint", datetime.date(Y - 1, 12, 30))
        t = datetime.datetime(Y - 1, 12, 30, 9, 0, tzinfo=CST)
        cls.step(m, {"type": "verify_start", "verifier": {"name": "核实人", "phone": "1"}},
                 t + datetime.timedelta(hours=30))
        cls.step(m, {"type": "verify_conclude", "outcome": "substantiated"},
                 t + datetime.timedelta(days=3, hours=1))
        m.status, m.outcome, m.substantiated = "rectifying", "substantiated", True
        m.overdue_now = True
        cls.ye = m
        m = cls.open(B, "UY", "YE", "SI-07", ["rights"], "complaint", datetime.date(Y - 1, 12, 28))
        cls.walk(m, "sub", revisit=True)
        m = cls.open(B, "UY", "YE", "SI-07", ["rights"], "complaint", datetime.date(Y, 1, 5))
        cls.walk(m, "sub", revisit=True)

    # ---- the independent computation ----
    def in_range(self, m, frm=None, to=None):
        return (frm is None or m.day >= frm) and (to is None or m.day <= to)

    def figures(self, cs):
        """The summary's figures (the "figures" object) of cases cs."""
        late = sum(m.late() for m in cs)
        on_time = sum(m.on_time() for m in cs)
        owed = sum(m.owed for m in cs)
        rev = sum(m.owed and m.revisited for m in cs)
        sat = sum(m.owed and m.revisited and m.satisfied for m in cs)
        closed = sum(m.closed for m in cs)

        def rate(a, b):
            return None if b == 0 else a / b
        return {
            "received": len(cs), "closed": closed, "open": len(cs) - closed,
            "by_status": {s: sum(m.status == s for m in cs) for s in STATUSES},
            "by_outcome": {o: sum(m.outcome == o for m in cs) for o in OUTCOMES},
            "by_kind": {k: sum(m.kind == k for m in cs) for k in ("review", "complaint")},
            "on_time": {"on_time": on_time, "late": late,
                        "late_closed": sum(m.closed and m.missed for m in cs),
                        "late_open": sum(not m.closed and m.late() for m in cs),
                        "rate": rate(on_time, on_time + late)},
            "revisit": {"owed": owed, "revisited": rev, "missing": owed - rev,
                        "rate": rate(rev, owed)},
            "satisfaction": {"revisited": rev, "satisfied": sat, "rate": rate(sat, rev)},
        }

    def feed_row(self, cs):
        f = self.figures(cs)
        return {"cases": f["received"], "closed": f["closed"], "open": f["open"],
                "on_time": f["on_time"]["on_time"], "late": f["on_time"]["late"],
                "on_time_rate": f["on_time"]["rate"], "revisit_owed": f["revisit"]["owed"],
                "revisited": f["revisit"]["revisited"], "revisit_rate": f["revisit"]["rate"],
                "satisfied": f["satisfaction"]["satisfied"],
                "satisfaction_rate": f["satisfaction"]["rate"]}

    def assertClose(self, got, want, path="$"):
        """Equal, floats to 1e-9."""
        if isinstance(want, float) or isinstance(got, float):
            self.assertIsNotNone(got, path)
            self.assertIsNotNone(want, path)
            self.assertAlmostEqual(got, want, 9, path)
        elif isinstance(want, dict):
            for k, v in want.items():
                self.assertIn(k, got, path)
                self.assertClose(got[k], v, path + "." + k)
        else:
            self.assertEqual(got, want, path)

    def get(self, path, status=200, token="default"):
        r = self.gw.get(path, token=token)
        self.assertEqual(r.status, status, (path, r))
        return r.json() if status == 200 else r

    # ---- the tests ----
    def test_1_units(self):
        for year in (self.Y - 1, self.Y, self.Y + 1):
            got = {(u["county"], u["unit"]["code"]): u
                   for u in self.get("/v1/stats/units?year=%d" % year)["units"]}
            want = {}
            for (c, u, y), n in self.ratings.items():
                if y == year:
                    want.setdefault((c, u), {"ratings": 0, "negative": 0, "pending": 0})
                    want[(c, u)]["ratings"] += n
            for m in self.cases:
                if m.kind != "review" or m.day.year != year:
                    continue
                w = want.setdefault((m.county, m.unit), {"ratings": 0, "negative": 0,
                                                         "pending": 0})
                w["ratings"] += 1
                if m.adopted:
                    w["pending" if m.pending else "negative"] += 1
            want = {k: v for k, v in want.items() if v["ratings"] > 0}
            self.assertEqual(set(got), set(want), year)
            for k, w in want.items():
                g = got[k]
                self.assertEqual((g["ratings"], g["negative"], g["pending"]),
                                 (w["ratings"], w["negative"], w["pending"]), (year, k))
                self.assertAlmostEqual(g["share"], w["negative"] / w["ratings"], 9)
                self.assertEqual(g["over_threshold"], w["negative"] * 100 > 5 * w["ratings"], k)
                self.assertEqual(len(g["pending_ids"]), w["pending"])
        units = {(u["county"], u["unit"]["code"]): u
                 for u in self.get("/v1/stats/units?year=%d" % self.Y)["units"]}
        u5, u6 = units[(B, "U5")], units[(B, "U6")]
        self.assertEqual((u5["ratings"], u5["negative"], u5["over_threshold"]), (20, 1, False))
        self.assertEqual((u6["ratings"], u6["negative"], u6["over_threshold"]), (19, 1, True))
        self.assertEqual(u5["unit"]["name"], "单位U5")

    def test_2_staff(self):
        for year in (self.Y - 1, self.Y, self.Y + 1):
            got = {(s["county"], s["unit"]["code"], s["staff_id"]): s
                   for s in self.get("/v1/stats/staff?year=%d&limit=1000" % year)["staff"]}
            want = {}
            for m in self.cases:
                if not (m.staff and m.substantiated and m.adopted and m.day.year == year):
                    continue
                w = want.setdefault((m.county, m.unit, m.staff), {"ids": [], "pending": []})
                w["pending" if m.pending else "ids"].append(m.id)
            want = {k: w for k, w in want.items() if len(w["ids"]) + len(w["pending"]) >= 2}
            self.assertEqual(set(got), set(want), year)
            for k, w in want.items():
                g = got[k]
                self.assertEqual(sorted(g["case_ids"]), sorted(w["ids"]), k)
                self.assertEqual(sorted(g["pending_ids"]), sorted(w["pending"]), k)
                self.assertEqual(g["cases"], len(w["ids"]))
                self.assertEqual(g["listed"], len(w["ids"]) >= 2, k)
                self.assertEqual(g["staff_name"], "员工" + k[2])
        # pages of one row, followed by `next`, give the same list
        full = self.get("/v1/stats/staff?year=%d&limit=1000" % self.Y)
        self.assertIsNone(full["next"])
        paged, after = [], ""
        while True:
            j = self.get("/v1/stats/staff?year=%d&limit=1%s" % (self.Y, after))
            paged += j["staff"]
            if j["next"] is None:
                break
            after = "&after=" + j["next"]
        self.assertEqual(paged, full["staff"])
        self.assertGreater(len(paged), 3)
        got = {s["staff_id"]: s for s in self.get("/v1/stats/staff?year=%d" % self.Y)["staff"]
               if s["unit"]["code"] in ("UT", "UY")}
        self.assertEqual((got["TWO"]["cases"], got["TWO"]["listed"]), (2, True))
        self.assertEqual((got["ONEP"]["cases"], got["ONEP"]["pending"], got["ONEP"]["listed"]),
                         (1, 1, False))
        self.assertEqual((got["MAL"]["cases"], got["MAL"]["listed"]), (2, True))
        # the year end: received 12-28 and 12-30 (concluded in January) count in Y - 1
        ye = {s["staff_id"]: s for s in self.get("/v1/stats/staff?year=%d" % (self.Y - 1))["staff"]}
        self.assertIn(self.ye.id, ye["YE"]["case_ids"])
        self.assertNotIn("YE", got)

    def hot_want(self, by, frm, to):
        def keyed(m):
            if by == "service_item":
                return [m.item]
            if by == "unit":
                return [m.county + m.unit]
            if by == "dimension":
                return m.dims
            if by == "county":
                return [m.county]
            return [PREF[m.county]]
        cur, prev = {}, {}
        n = (to - frm).days + 1
        pfrom, pto = frm - datetime.timedelta(days=n), frm - datetime.timedelta(days=1)
        for m in self.cases:
            if not m.adopted:
                continue
            for k in keyed(m):
                if frm <= m.day <= to:
                    cur[k] = cur.get(k, 0) + 1
                if pfrom <= m.day <= pto:
                    prev[k] = prev.get(k, 0) + 1
        rows = sorted(cur.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(k, c, prev.get(k, 0)) for k, c in rows], pfrom, pto

    def test_3_hotspots(self):
        Y = self.Y
        for frm, to in ((datetime.date(Y, 7, 1), datetime.date(Y, 12, 31)),
                        (datetime.date(Y, 2, 10), datetime.date(Y, 5, 20)),
                        (datetime.date(Y - 1, 12, 30), datetime.date(Y, 1, 5))):
            for by in ("service_item", "unit", "dimension", "county", "prefecture"):
                j = self.get("/v1/stats/hotspots?from=%s&to=%s&by=%s&limit=1000" % (frm, to, by))
                want, pfrom, pto = self.hot_want(by, frm, to)
                got = [(r["key"], r["cases"], r["previous"]) for r in j["rows"]]
                self.assertEqual(got, want, (by, frm, to))
                self.assertEqual(j["previous"], {"from": str(pfrom), "to": str(pto)})
        j = self.get("/v1/stats/hotspots?from=%d-01-01&to=%d-12-31&by=unit&limit=2" % (Y, Y))
        self.assertEqual(len(j["rows"]), 2)
        self.assertTrue(j["rows"][0]["name"].startswith("单位"))

    def check_summary(self, query, cs):
        j = self.get("/v1/stats/summary" + query)
        self.assertIn("findings", j)  # the checks' part is kept
        self.assertClose(j["figures"], self.figures(cs), "summary" + query)
        missing = sorted(m.id for m in cs if m.owed and not m.revisited)
        self.assertEqual(sorted(j["figures"]["revisit"]["missing_ids"]), missing)
        for row in j["counties"]:
            self.assertClose(row["figures"],
                             self.figures([m for m in cs if m.county == row["county"]]),
                             row["county"])
        for row in j["prefectures"]:
            self.assertClose(row["figures"],
                             self.figures([m for m in cs if PREF[m.county] == row["prefecture"]]),
                             row["prefecture"])
        return j

    def test_4_summary(self):
        Y = self.Y
        self.check_summary("", self.cases)
        self.check_summary("?county=" + A, [m for m in self.cases if m.county == A])
        j = self.check_summary("?prefecture=630200", [m for m in self.cases if m.county == B])
        self.assertEqual([p["prefecture"] for p in j["prefectures"]], ["630200"])
        frm, to = datetime.date(Y, 3, 5), datetime.date(Y, 11, 17)
        self.check_summary("?from=%s&to=%s" % (frm, to),
                           [m for m in self.cases if frm <= m.day <= to])
        self.check_summary("?from=%d-12-30&to=%d-01-05" % (Y - 1, Y),
                           [m for m in self.cases
                            if datetime.date(Y - 1, 12, 30) <= m.day <= datetime.date(Y, 1, 5)])
        f = self.figures(self.cases)
        self.assertGreater(f["on_time"]["late_open"], 0)
        self.assertGreater(f["revisit"]["missing"], 0)

    def feed_want(self, cs):
        months = {}
        for m in cs:
            months.setdefault("%04d-%02d" % (m.day.year, m.day.month), []).append(m)
        by_pref = []
        for code in ("630100", "630200", "630300", "632200", "632300", "632500", "632600",
                     "632700", "632800"):
            by_pref.append((code, self.feed_row([m for m in cs if PREF[m.county] == code])))
        return {"total": self.feed_row(cs),
                "by_month": [dict(self.feed_row(v), month=k) for k, v in sorted(months.items())],
                "by_prefecture": by_pref}

    def test_5_feed(self):
        Y = self.Y
        for q, frm, to in (("", None, None),
                           ("?from=%d-03-05&to=%d-11-17" % (Y, Y), datetime.date(Y, 3, 5),
                            datetime.date(Y, 11, 17)),
                           ("?from=%d-12-30" % (Y - 1), datetime.date(Y - 1, 12, 30), None)):
            r = self.gw.get("/feed/stats.json" + q, token=None)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers.get("Cache-Control"), "no-cache")
            etag = r.headers.get("ETag")
            self.assertTrue(etag)
            text = r.body.decode("utf-8")
            for secret in (SECRET_PHONE, SECRET_NAME, "员工", "0971-5550000", "核实人"):
                self.assertNotIn(secret, text)
            j = r.json()
            cs = [m for m in self.cases if self.in_range(m, frm, to)]
            want = self.feed_want(cs)
            self.assertEqual(j["from"], str(frm) if frm else None)
            self.assertEqual(j["to"], str(to) if to else None)
            self.assertTrue(j["generated_datetime"].endswith("+08:00"))
            self.assertClose(j["total"], want["total"], "total" + q)
            self.assertEqual([m["month"] for m in j["by_month"]],
                             [m["month"] for m in want["by_month"]])
            for g, w in zip(j["by_month"], want["by_month"]):
                self.assertClose(g, w, w["month"])
            codes = [p["code"] for p in j["by_prefecture"]]
            self.assertEqual(codes, sorted(codes))
            pref = {p["code"]: p for p in j["by_prefecture"]}
            for code, w in want["by_prefecture"]:
                if code in pref:
                    self.assertClose(pref[code], w, code)
                else:
                    self.assertEqual(w["cases"], 0, code)
            self.assertEqual(pref["630100"]["name"], "西宁市")
            r2 = self.gw.get("/feed/stats.json" + q, token=None, headers={"If-None-Match": etag})
            self.assertEqual(r2.status, 304, r2)

    def test_6_refusals(self):
        for path in ("/feed/stats.json?from=2026-13-01", "/feed/stats.json?to=yesterday",
                     "/feed/stats.json?from=2026-05-02&to=2026-05-01",
                     "/feed/stats.json?from=1999-12-31",
                     "/v1/stats/units", "/v1/stats/units?year=26", "/v1/stats/units?year=abcd",
                     "/v1/stats/staff?year=1999", "/v1/stats/staff?year=2026&year=2025",
                     "/v1/stats/staff?year=2026&after=zz", "/v1/stats/staff?year=2026&limit=1001",
                     "/v1/stats/hotspots?from=2026-01-01", "/v1/stats/hotspots?to=2026-01-01",
                     "/v1/stats/hotspots?from=2026-01-01&to=2026-02-01&by=staff",
                     "/v1/stats/hotspots?from=2026-01-01&to=2026-02-01&limit=0",
                     "/v1/stats/hotspots?from=2026-01-01&to=2026-02-01&limit=x"):
            r = self.gw.get(path, token="default" if path.startswith("/v1") else None)
            self.assertEqual(r.status, 400, (path, r))
            self.assertEqual(r.json()["error"], "invalid_parameter", path)
            self.assertTrue(r.json()["detail"], path)
        for path in ("/v1/stats/units?year=2026", "/v1/stats/staff?year=2026",
                     "/v1/stats/hotspots?from=2026-01-01&to=2026-02-01"):
            self.assertEqual(self.gw.get(path, token=None).status, 401, path)
            self.assertEqual(self.gw.get(path, token="wrong").status, 401, path)

    def test_7_recount(self):
        """The counters switched off for one run (HCP_GW_STATS=off, a
        measurement setting) are counted again from the stored cases and the
        log at the next start with them on: the same answers."""
        before = {p: self.get(p) for p in ("/v1/stats/units?year=%d" % self.Y,
                                           "/v1/stats/staff?year=%d" % self.Y)}
        self.assertEqual(self.gw.stop(), 0)
        self.gw.env["HCP_GW_STATS"] = "off"
        self.gw.restart_same_ports()
        self.assertEqual(self.gw.stop(), 0)
        del self.gw.env["HCP_GW_STATS"]
        self.gw.restart_same_ports()
        self.assertIn("stats.rebuilt", self.gw.stderr())
        for p, j in before.items():
            self.assertEqual(self.get(p), j, p)
        self.check_summary("", self.cases)
        self.test_5_feed()


if __name__ == "__main__":
    hcptest.main("hcp-gateway")
