"""test_feed_paging.py — paging the public feed at a constant cost (issue #18,
docs/feed.md "Paging"): the keyset cursor of GET /feed/requests.json (a full
page's `Link: <...cursor=...>; rel="next"`) and page=N found through the
gateway's count index.

Usage: python3 test_feed_paging.py PATH/TO/hcp-node PATH/TO/hcp-gateway

One gateway (plain tcp://, --insecure) and two county nodes (630102 城东区 of
630100 西宁市, 630202 乐都区 of 630200 海东市) holding N cases, most of them
created within the same few seconds (many entries share one updated second):
  test_1  walking by cursor returns every entry exactly once, in the feed's
          order (newest update first, then case id descending), for several
          page sizes, with and without filters; the last page has no link.
  test_2  page=N is the Nth slice of the same order for every N (and [] past
          the end), unfiltered (the count index) and filtered (a walk).
  test_3  a bad, edited, cut or page-combined cursor is 400 invalid_parameter
          naming `cursor`.
  test_4  updates during a walk: an entry updated before the walk reached it
          is not in the rest of the walk and is at the front of the feed; an
          entry already walked past is not shown again; every other entry is
          shown exactly once.
  test_5  the counts survive a restart of the gateway: page=N still equals
          the slice.
  test_6  a filtered page=N starts at a mark an earlier walk of the same
          filter left (docs/feed.md "page=N"): for every N and several page
          sizes it is the slice of the filter's cursor walk (which uses no
          marks), and still is after entries changed (marks of the older
          feed never used).
HCP_FEED_KEEP=1 keeps the temporary directory.
"""
import datetime
import re
import tempfile
import time
import unittest
import urllib.parse

import hcptest
from hcptest import wait_until

A, B = "630102", "630202"
N_A, N_B = 90, 45  # cases per node
LINK = re.compile(r'^<([^>]*)>; rel="next"$')


def order_key(e):
    """The feed's order: newest update first, then case id descending."""
    return (e["updated_datetime"], e["service_request_id"])


class FeedPaging(hcptest.DumpOnFailure, unittest.TestCase):
    procs = []
    tmp = None
    gw = None
    nodes = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-feedpaging-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            for c in (A, B):
                cls.nodes[c] = hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=c)
            for c, n in ((A, N_A), (B, N_B)):
                for i in range(n):
                    cls.nodes[c].new_case()
            # a few closed ones, so that status= selects something
            n = cls.nodes[A]
            for _ in range(3):
                cid = n.new_case()["id"]
                for s in ({"type": "verify_start", "verifier": {"name": "核实人", "phone": "1"}},
                          {"type": "verify_conclude", "outcome": "unsubstantiated"},
                          {"type": "feedback", "via": "sms", "text": "不属实"}, {"type": "close"}):
                    n.step(cid, s)
            total = N_A + N_B + 3
            probe = cls("test_1_cursor_walk")
            wait_until(lambda: (len(probe.all_entries()) == total, "not yet"), 60,
                       "all %d cases in the feed" % total, interval=0.2)

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, "HCP_FEED_KEEP")

    # ---- helpers ----
    def get(self, path):
        return self.gw.get(path, token=None)

    def all_entries(self, query=""):
        """Every entry by page= of 200 (the test's reference)."""
        out, page = [], 1
        while True:
            sep = "&" if query else ""
            r = self.get("/feed/requests.json?%s%spage_size=200&page=%d" % (query, sep, page))
            assert r.status == 200, r
            got = r.json()
            out += got
            if len(got) < 200:
                return out
            page += 1

    def walk(self, query, size, between=None):
        """Follow the Link rel=next from the first page; the pages' entries."""
        path = "/feed/requests.json?%s%spage_size=%d" % (query, "&" if query else "", size)
        pages = []
        while path is not None:
            r = self.get(path)
            self.assertEqual(r.status, 200, (path, r))
            got = r.json()
            pages.append(got)
            link = r.headers.get("Link")
            if len(got) < size:
                self.assertIsNone(link, (path, "a short page links on"))
                break
            self.assertIsNotNone(link, (path, "a full page has no Link"))
            m = LINK.match(link)
            self.assertIsNotNone(m, link)
            path = m.group(1)
            self.assertTrue(path.startswith("/feed/requests.json?"), path)
            qs = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
            self.assertNotIn("page", qs)
            self.assertEqual(len(qs["cursor"]), 1)
            for k, v in urllib.parse.parse_qs(query).items():  # the filters carried on
                self.assertEqual(qs.get(k), v, (k, path))
            if between is not None:
                between(len(pages))
            self.assertLess(len(pages), 1000, "a walk that does not end")
        return [e for p in pages for e in p]

    def ids(self, entries):
        return [e["service_request_id"] for e in entries]

    def assert_order(self, entries):
        keys = [order_key(e) for e in entries]
        self.assertEqual(keys, sorted(keys, reverse=True), "not newest update first")
        self.assertEqual(len(set(self.ids(entries))), len(entries), "an entry twice")

    # ---- tests ----
    def test_1_cursor_walk(self):
        full = self.all_entries()
        self.assert_order(full)
        self.assertEqual(len(full), N_A + N_B + 3)
        for size in (1, 7, 50, 200):
            self.assertEqual(self.ids(self.walk("", size)), self.ids(full), size)
        filters = ["county=%s" % A, "county=630200", "status=closed", "status=open&county=%s" % A,
                   "service_code=SI-001"]
        if full[-1]["updated_datetime"] < full[0]["updated_datetime"]:  # not all in one second
            filters.append("updated_after=" + urllib.parse.quote(full[-1]["updated_datetime"]))
        for q in filters:
            want = self.all_entries(q)
            self.assertTrue(want, q)
            for size in (4, 50):
                got = self.walk(q, size)
                self.assertEqual(self.ids(got), self.ids(want), (q, size))
        # the filters select what they say
        self.assertEqual(self.ids(self.all_entries("county=%s" % A)),
                         [i for i in self.ids(full) if i.startswith(A)])
        self.assertEqual(len(self.all_entries("status=closed")), 3)
        # a list of ids, walked
        some = self.ids(full)[::9]
        q = "service_request_id=" + ",".join(some[:20])
        self.assertEqual(self.ids(self.walk(q, 3)), some[:20])

    def test_2_page_n(self):
        full = self.all_entries()
        for size in (1, 7, 50):
            last = (len(full) + size - 1) // size
            for page in list(range(1, last + 2)):
                r = self.get("/feed/requests.json?page_size=%d&page=%d" % (size, page))
                self.assertEqual(r.status, 200, r)
                self.assertEqual(self.ids(r.json()),
                                 self.ids(full[(page - 1) * size:page * size]), (size, page))
        # any page number a province's feed can reach: at 10,000,000 cases and
        # page_size=50 the last page is 200,000 (once refused: at most 100,000)
        for page in (100001, 200000, 99999999, 100000000):
            r = self.get("/feed/requests.json?page_size=50&page=%d" % page)
            self.assertEqual((r.status, r.json()), (200, []), page)
        for bad in ("100000001", "0", "-1", "1234567890"):
            r = self.get("/feed/requests.json?page=" + bad)
            self.assertEqual(r.status, 400, (bad, r))
            self.assertIn("100000000", r.json()["detail"], r)
        # a page= page links on by cursor to the entries after it
        r = self.get("/feed/requests.json?page_size=7&page=3")
        path = LINK.match(r.headers["Link"]).group(1)
        self.assertEqual(self.ids(self.get(path).json()), self.ids(full[21:28]))
        # updated_after with page=: the index finds the page, the bound ends it
        after = full[40]["updated_datetime"]
        want = [e for e in full if e["updated_datetime"] > after]
        for page in range(1, len(want) // 5 + 3):
            r = self.get("/feed/requests.json?page_size=5&page=%d&updated_after=%s"
                         % (page, urllib.parse.quote(after)))
            self.assertEqual(self.ids(r.json()), self.ids(want[(page - 1) * 5:page * 5]), page)
        # filtered page= (a walk of the entries)
        fa = [e for e in full if e["county"] == A]
        for page in range(1, len(fa) // 6 + 3):
            r = self.get("/feed/requests.json?county=%s&page_size=6&page=%d" % (A, page))
            self.assertEqual(self.ids(r.json()), self.ids(fa[(page - 1) * 6:page * 6]), page)

    def test_3_bad_cursor(self):
        r = self.get("/feed/requests.json?page_size=5")
        cur = urllib.parse.parse_qs(urllib.parse.urlsplit(
            LINK.match(r.headers["Link"]).group(1)).query)["cursor"][0]
        flip = cur[:10] + ("0" if cur[10] != "0" else "1") + cur[11:]
        for bad in ("", "x", "abc", cur[:-2], cur + "00", flip, cur.upper(), "0" * len(cur),
                    cur[:20] + "zz" + cur[22:]):
            r = self.get("/feed/requests.json?cursor=" + urllib.parse.quote(bad))
            self.assertEqual(r.status, 400, (bad, r))
            j = r.json()
            self.assertEqual(j["error"], "invalid_parameter", j)
            self.assertTrue(j["detail"].startswith("cursor:"), j)
        r = self.get("/feed/requests.json?page=2&cursor=" + cur)
        self.assertEqual(r.status, 400, r)
        self.assertTrue(r.json()["detail"].startswith("cursor:"), r)
        # the good one works, and with a different page_size too
        self.assertEqual(self.get("/feed/requests.json?page_size=3&cursor=" + cur).status, 200)

    def test_4_updates_during_walk(self):
        full = self.all_entries()
        size = 10
        seen_before = full[5]["service_request_id"]  # on page 1
        ahead = full[60]["service_request_id"]  # on page 7
        moved = {}

        def between(npages):
            if npages != 2:
                return
            # the updates in a later second than every entry (the order is by
            # seconds, then case id): then they are the newest
            newest = datetime.datetime.fromisoformat(full[0]["updated_datetime"])
            while datetime.datetime.now(newest.tzinfo) < newest + datetime.timedelta(seconds=1):
                time.sleep(0.05)
            for cid in (seen_before, ahead):
                self.nodes[cid[:6]].step(
                    cid, {"type": "verify_start", "verifier": {"name": "核实人", "phone": "1"}})
            # both at the front once the gateway has them
            def front():
                got = self.get("/feed/requests.json?page_size=2").json()
                return set(self.ids(got)) == {seen_before, ahead}, (seen_before, ahead, got)
            wait_until(front, 30, "the updated entries at the front", interval=0.1)
            moved["done"] = True

        got = self.walk("", size, between)
        self.assertTrue(moved.get("done"))
        self.assert_order(got[20:])  # the pages after the change: in order among themselves
        ids = self.ids(got)
        self.assertEqual(len(ids), len(set(ids)), "an entry shown twice")
        self.assertIn(seen_before, ids)  # shown before it changed, not again
        self.assertNotIn(ahead, ids)  # moved to the front before the walk reached it
        self.assertEqual(set(ids) | {ahead}, set(self.ids(full)), "an unchanged entry skipped")
        front = self.ids(self.get("/feed/requests.json?page_size=2").json())
        self.assertEqual(set(front), {seen_before, ahead})

    def test_5_restart(self):
        full = self.all_entries()
        self.gw.stop()
        self.gw.restart_same_ports()
        for page in (1, 2, 5, 9, 14, 15):
            r = self.get("/feed/requests.json?page_size=10&page=%d" % page)
            self.assertEqual(self.ids(r.json()), self.ids(full[(page - 1) * 10:page * 10]), page)
        self.assertNotIn("feed.rank_failed", self.gw.stderr())
        self.assertNotIn("feed.counts_rebuilt", self.gw.stderr())

    def test_6_filtered_page_n_marks(self):
        def check(query):
            ref = self.walk(query, 4)  # by cursor: no marks
            self.assertGreater(len(ref), 10, query)
            for size in (1, 4, 7, 50):
                for page in range(1, (len(ref) + size - 1) // size + 2):
                    r = self.get("/feed/requests.json?%s&page_size=%d&page=%d"
                                 % (query, size, page))
                    self.assertEqual(r.status, 200, r)
                    self.assertEqual(self.ids(r.json()),
                                     self.ids(ref[(page - 1) * size:page * size]),
                                     (query, size, page))
            return ref

        queries = ("county=630100&status=open", "county=%s" % B)
        refs = {q: check(q) for q in queries}
        # entries deep in both filters' order move to the front
        full = self.all_entries()
        newest = datetime.datetime.fromisoformat(full[0]["updated_datetime"])
        while datetime.datetime.now(newest.tzinfo) < newest + datetime.timedelta(seconds=1):
            time.sleep(0.05)
        moved = [refs[q][-2]["service_request_id"] for q in queries]
        for cid in moved:
            self.nodes[cid[:6]].step(
                cid, {"type": "verify_start", "verifier": {"name": "核实人", "phone": "1"}})

        def front():
            got = self.get("/feed/requests.json?page_size=2").json()
            return set(self.ids(got)) == set(moved), (moved, got)
        wait_until(front, 30, "the updated entries at the front", interval=0.1)
        for q, cid in zip(queries, moved):
            ref = check(q)
            self.assertEqual(ref[0]["service_request_id"], cid, q)
        self.assertNotIn("feed.mark_missing", self.gw.stderr())


if __name__ == "__main__":
    hcptest.main("hcp-gateway")
