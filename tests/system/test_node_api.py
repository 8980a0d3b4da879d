"""hcp-node's HTTP API end to end: every route, the case state machine
through every step type, refusals naming their rule, every 4xx class, auth,
listing and paging, the ledger, /v1/sync, /metrics and the deadline sweep.
Usage: python3 test_node_api.py PATH/TO/hcp-node"""
import datetime
import http.client
import re
import time

import hcptest
from hcptest import COUNTY, NodeTest, case_body, days_ago, evaluation

CASE_ID = re.compile(r"^%s-(\d{8})-(\d{4,})$" % COUNTY)


def ymd(at):
    """yyyymmdd of an RFC 3339 time in Asia/Shanghai."""
    return datetime.datetime.fromisoformat(at).astimezone(hcptest.CST).strftime("%Y%m%d")


class Steps(NodeTest):
    """The state machine through the API."""

    def extend(self, cid, case, at):
        """rectify_extend to the first later working day the node accepts."""
        return self.node.extend(cid, case, at, "需要采购设备")

    def test_happy_path_real_name_review(self):
        n = self.node
        t0 = days_ago(1, hours=2)
        e = n.evaluate(1, complainant={"name": "评价人丙", "phone": "13700000001"}, at=t0,
                       content="窗口办理太慢")
        cid = e["case"]
        self.assertRegex(cid, CASE_ID)
        self.assertEqual(CASE_ID.match(cid).group(1), ymd(t0))
        c = n.get("/v1/cases/" + cid).json()
        self.assertEqual((c["status"], c["kind"], c["real_name"], c["rating"]),
                         ("received", "review", True, 1))
        self.assertEqual(c["received_at"], t0)
        self.assertIsNotNone(c["deadlines"]["feedback_due"])
        t = lambda h: days_ago(1, hours=2 - h)  # noqa: E731 — h hours after t0
        c = n.step(cid, {"type": "verify_start", "at": t(0.25),
                         "verifier": {"name": "核实人丁", "phone": "13700000002"}})
        self.assertEqual(c["status"], "verifying")
        self.assertEqual(c["events"][-1]["at"], t(0.25))  # back-dated at kept
        self.assertEqual(c["events"][-1]["type"], "verify_start")
        c = n.step(cid, {"type": "notify_staff", "at": t(0.5)})
        self.assertEqual(c["status"], "verifying")
        self.assertIsNotNone(c["deadlines"]["dispute_due"])
        c = n.step(cid, {"type": "verify_conclude", "outcome": "substantiated", "note": "属实",
                         "at": t(1)})
        self.assertEqual((c["status"], c["outcome"]), ("rectifying", "substantiated"))
        c = n.step(cid, {"type": "rectify_assign", "unit": {"code": "U-9", "name": "某科室"},
                         "mode": "deferred", "at": t(1.5)})
        self.assertEqual(c["status"], "rectifying")
        old_due = c["deadlines"]["feedback_due"]
        c, newday = self.extend(cid, c, t(2))
        self.assertEqual(c["status"], "rectifying")
        self.assertNotEqual(c["deadlines"]["feedback_due"], old_due)
        self.assertTrue(c["deadlines"]["feedback_due"].startswith(newday.isoformat()))
        c = n.step(cid, {"type": "rectify_done", "result": "已整改", "at": t(3)})
        self.assertEqual(c["status"], "feedback_pending")
        c = n.step(cid, {"type": "feedback", "via": "phone", "text": "已电话告知", "at": t(4)})
        self.assertEqual(c["status"], "awaiting_revisit")
        r = n.post("/v1/cases/%s/events" % cid, {"type": "close"})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.json()["error"], "revisit_required")
        self.assertTrue(r.json()["detail"])
        c = n.step(cid, {"type": "revisit", "by": "回访员", "satisfied": True, "note": "满意",
                         "at": t(5)})
        self.assertEqual(c["status"], "resolved")
        c = n.step(cid, {"type": "close"})
        self.assertEqual(c["status"], "closed")
        types = [ev["type"] for ev in c["events"]]
        for want in ("case_open", "verify_start", "notify_staff", "verify_conclude",
                     "rectify_assign", "rectify_extend", "rectify_done", "feedback", "revisit",
                     "close"):
            self.assertIn(want, types)
        seqs = [ev["seq"] for ev in c["events"]]
        self.assertEqual(seqs, sorted(seqs))
        r = n.post("/v1/cases/%s/events" % cid, {"type": "notify_staff"})
        self.assertEqual((r.status, r.json()["error"]), (409, "case_closed"))

    def test_unsubstantiated_complaint(self):
        n = self.node
        cid = n.new_case(complainant=None)["id"]
        n.step(cid, {"type": "verify_start", "verifier": {"name": "甲", "phone": "1"}})
        c = n.step(cid, {"type": "verify_conclude", "outcome": "unsubstantiated"})
        self.assertEqual((c["status"], c["outcome"]), ("feedback_pending", "unsubstantiated"))
        c = n.step(cid, {"type": "feedback", "via": "sms", "text": "不属实"})
        self.assertEqual(c["status"], "resolved")
        self.assertEqual(n.step(cid, {"type": "close"})["status"], "closed")

    def test_dispute_upheld_returns(self):
        n = self.node
        cid = n.new_case()["id"]
        c = n.step(cid, {"type": "notify_staff"})
        self.assertEqual(c["status"], "received")
        c = n.step(cid, {"type": "dispute_file", "by": "S-0042", "reason": "并非本人"},
                   token=self.filer())
        self.assertEqual(c["status"], "disputed")
        self.assertIsNotNone(c["deadlines"]["rereview_due"])
        r = n.post("/v1/cases/%s/events" % cid,
                   {"type": "dispute_file", "by": "S-0042", "reason": "again"})
        self.assertEqual(r.status, 409, r)
        c = n.step(cid, {"type": "dispute_decide", "outcome": "upheld", "note": "维持"})
        self.assertEqual(c["status"], "received")
        self.assertTrue(c["adopted"])
        r = n.post("/v1/cases/%s/events" % cid,
                   {"type": "dispute_file", "by": "S-0042", "reason": "again"})
        self.assertEqual((r.status, r.json()["error"]), (409, "dispute_already_filed"))

    def filer(self):
        """A clerk's token: a dispute is decided by another account than the one
        that filed it, admin included (docs/rules.md)."""
        if not hasattr(type(self), "filer_token"):
            type(self).filer_token = self.node.add_user("filer1", "clerk")
        return type(self).filer_token

    def test_dispute_mistaken_closes(self):
        n = self.node
        t0 = days_ago(0, hours=1)  # not set aside in the second it was filed
        cid = n.new_case(at=t0)["id"]
        n.step(cid, {"type": "verify_start", "verifier": {"name": "甲", "phone": "1"}, "at": t0})
        n.step(cid, {"type": "notify_staff", "at": t0})
        c = n.step(cid, {"type": "dispute_file", "by": "S-0042", "reason": "误评", "at": t0},
                   token=self.filer())
        self.assertEqual(c["status"], "disputed")
        c = n.step(cid, {"type": "dispute_decide", "outcome": "mistaken"})
        self.assertEqual((c["status"], c["outcome"], c["adopted"]), ("closed", "mistaken", False))

    def test_dispute_malicious_on_review(self):
        n = self.node
        t0 = days_ago(0, hours=1)
        cid = n.evaluate(2, at=t0)["case"]
        n.step(cid, {"type": "notify_staff", "at": t0})
        n.step(cid, {"type": "dispute_file", "by": "S-0042", "reason": "恶意", "at": t0},
               token=self.filer())
        c = n.step(cid, {"type": "dispute_decide", "outcome": "malicious"})
        self.assertEqual((c["status"], c["outcome"], c["adopted"]),
                         ("closed", "malicious", False))

    def refused(self, cid, body, rule):
        before = self.node.get("/v1/cases/" + cid).json()["events"]
        r = self.node.post("/v1/cases/%s/events" % cid, body)
        self.assertEqual(r.status, 409, r)
        j = r.json()
        self.assertEqual(j["error"], rule, j)
        self.assertTrue(j.get("detail"), j)
        # the case's own history, not the log's head: the deadline sweep may
        # mark another (backdated) case overdue at any moment
        after = self.node.get("/v1/cases/" + cid).json()["events"]
        self.assertEqual([e for e in after if e["type"] != "overdue"],
                         [e for e in before if e["type"] != "overdue"],
                         "a refused step wrote something")
        return j

    def test_dispute_without_notify(self):
        cid = self.node.new_case()["id"]
        self.refused(cid, {"type": "dispute_file", "by": "S", "reason": "r"}, "staff_not_notified")

    def test_dispute_after_window(self):
        n = self.node
        cid = n.new_case(at=days_ago(20))["id"]
        n.step(cid, {"type": "notify_staff", "at": days_ago(19)})
        j = self.refused(cid, {"type": "dispute_file", "by": "S", "reason": "late"},
                         "dispute_window_closed")
        self.assertRegex(j["detail"], r"\d{4}-\d{2}-\d{2}")
        # a dispute entered from paper, dated inside the window, is accepted
        c = n.step(cid, {"type": "dispute_file", "by": "S", "reason": "on time",
                         "at": days_ago(19, hours=-1)})
        self.assertEqual(c["status"], "disputed")

    def test_time_rules(self):
        n = self.node
        t0 = days_ago(3)
        cid = n.new_case(at=t0)["id"]
        self.assertEqual(CASE_ID.match(cid).group(1), ymd(t0))
        n.step(cid, {"type": "verify_start", "verifier": {"name": "甲", "phone": "1"},
                     "at": days_ago(2)})
        self.refused(cid, {"type": "notify_staff", "at": days_ago(2, hours=1)},
                     "at_before_previous_step")
        self.refused(cid, {"type": "notify_staff", "at": days_ago(-1)}, "at_in_future")
        self.refused(cid, {"type": "close"}, "wrong_status")
        self.refused(cid, {"type": "rectify_done", "result": "x"}, "wrong_status")
        n.step(cid, {"type": "notify_staff"})
        self.refused(cid, {"type": "notify_staff"}, "staff_already_notified")

    def test_immediate_cannot_extend(self):
        n = self.node
        cid = n.new_case()["id"]
        n.step(cid, {"type": "verify_start", "verifier": {"name": "甲", "phone": "1"}})
        n.step(cid, {"type": "verify_conclude", "outcome": "substantiated"})
        n.step(cid, {"type": "rectify_assign", "unit": {"code": "U", "name": "N"},
                     "mode": "immediate"})
        self.refused(cid, {"type": "rectify_extend", "reason": "r", "new_due": "2099-01-05"},
                     "immediate_cannot_extend")

    def test_case_open_refusals(self):
        n = self.node
        r = n.post("/v1/cases", case_body(kind="review", rating=4))
        self.assertEqual((r.status, r.json()["error"]), (409, "review_not_negative"), r)
        # a complaint with a rating: the JSON layer refuses it (422 naming
        # "rating") before the rules would (409 complaint_has_rating)
        r = n.post("/v1/cases", case_body(kind="complaint", rating=1))
        self.assertIn(r.status, (409, 422), r)
        j = r.json()
        self.assertTrue(j["error"] == "complaint_has_rating" or j.get("field") == "rating", j)
        r = n.post("/v1/cases", case_body(kind="review", rating=2))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["kind"], "review")


class Intake(NodeTest):
    """Evaluations, bad input, auth, routes, lists, ledger, sync, metrics."""

    def test_evaluations(self):
        n = self.node
        for rating in (3, 4, 5):
            j = n.evaluate(rating)
            self.assertIsNone(j["case"])
            self.assertIsInstance(j["evaluation"], int)
        ids = set()
        for rating in (1, 2):
            j = n.evaluate(rating)
            self.assertRegex(j["case"], CASE_ID)
            ids.add(j["case"])
            c = n.get("/v1/cases/" + j["case"]).json()
            self.assertEqual((c["kind"], c["rating"], c["status"]), ("review", rating, "received"))
        self.assertEqual(len(ids), 2)
        a, b = n.evaluate(5)["evaluation"], n.evaluate(5)["evaluation"]
        self.assertEqual(b, a + 1)
        at = days_ago(4)
        j = n.evaluate(1, at=at)
        self.assertEqual(CASE_ID.match(j["case"]).group(1), ymd(at))
        r = n.post("/v1/evaluations", evaluation(5, at=days_ago(-2)))
        self.assertEqual(r.status, 422, r)

    def check_err(self, r, status, field=None, error=None):
        self.assertEqual(r.status, status, r)
        j = r.json()
        self.assertIn("error", j, j)
        self.assertIn("detail", j, j)
        if error is not None:
            self.assertEqual(j["error"], error, j)
        if field is not None:
            self.assertTrue(j.get("field") == field or field in j["detail"], (field, j))
        return j

    def test_bad_input(self):
        n = self.node
        head = n.head()
        cid = n.new_case()["id"]
        head = n.head()
        self.check_err(n.post("/v1/evaluations", raw=b'{"unit": {'), 400)
        self.check_err(n.post("/v1/cases", raw=b"not json at all"), 400)
        self.check_err(n.post("/v1/evaluations", raw=b"[1,2]"), 422)
        bad = ('{"unit":{"code":"U","name":"\xff\xfe"},"service_item":{"code":"S","name":"N"},'
               '"channel":"web","rating":5,"content":"x"}').encode("latin-1")
        self.check_err(n.post("/v1/evaluations", raw=bad), 400)
        self.check_err(n.post("/v1/cases/%s/events" % cid,
                              raw=b'{"type":"feedback","via":"x","text":"\xc3\x28"}'), 400)
        self.check_err(n.post("/v1/evaluations", evaluation(channel="fax")), 422, "channel")
        self.check_err(n.post("/v1/evaluations", evaluation(dimensions=["beauty"])), 422,
                       "dimensions")
        self.check_err(n.post("/v1/cases", case_body(kind="grievance")), 422, "kind")
        self.check_err(n.post("/v1/evaluations", evaluation(rating=6)), 422, "rating")
        self.check_err(n.post("/v1/cases/%s/events" % cid,
                              {"type": "verify_conclude", "outcome": "maybe"}), 422, "outcome")
        self.check_err(n.post("/v1/cases/%s/events" % cid, {"type": "teleport"}), 422, "type")
        self.check_err(n.post("/v1/cases/%s/events" % cid, {"type": "overdue"}), 422, "type")
        for missing in ("content", "channel", "unit", "service_item"):
            b = evaluation()
            del b[missing]
            self.check_err(n.post("/v1/evaluations", b), 422, missing)
        b = evaluation()
        del b["rating"]
        self.check_err(n.post("/v1/evaluations", b), 422, "rating")
        b = case_body()
        del b["kind"]
        self.check_err(n.post("/v1/cases", b), 422, "kind")
        self.check_err(n.post("/v1/cases/%s/events" % cid, {"type": "verify_start"}), 422,
                       "verifier")
        self.check_err(n.post("/v1/cases/%s/events" % cid,
                              {"type": "verify_start", "verifier": {"name": "x"}}), 422, "phone")
        self.check_err(n.post("/v1/cases/%s/events" % cid, {"type": "feedback", "via": "x"}),
                       422, "text")
        self.check_err(n.post("/v1/evaluations", evaluation(colour="red")), 422, "colour")
        self.check_err(n.post("/v1/evaluations", evaluation(complainant={"nmae": "x"})), 422,
                       "nmae")
        self.check_err(n.post("/v1/cases/%s/events" % cid, {"type": "close", "extra": 1}), 422,
                       "extra")
        self.check_err(n.post("/v1/evaluations", evaluation(at="yesterday")), 422, "at")
        # issue #10: nothing before the regulation took effect (2022-05-01T00:00:00+08:00)
        self.check_err(n.post("/v1/evaluations", evaluation(at="1970-01-02T00:00:00Z")), 422,
                       "at")
        self.check_err(n.post("/v1/cases", case_body(at="2022-04-30T23:59:59+08:00")), 422, "at")
        self.check_err(n.post("/v1/cases/%s/events" % cid,
                              {"type": "notify_staff", "at": "2022-04-30T15:59:59Z"}), 422, "at")
        # issue #10: short fields hold no control character nor non-character
        for odd in ("\ufffe", "\uffff", "\u0085", "\u0001", "a\nb", "\ufdd0"):
            self.check_err(n.post("/v1/cases", case_body(
                service_item={"code": "SI-001", "name": "营业执照" + odd})), 422,
                "service_item.name")
        self.assertEqual(n.head(), head, "refused input wrote something")
        old = n.post("/v1/cases", case_body(at="2022-05-01T00:00:00+08:00"))
        self.assertEqual(old.status, 201, old)
        self.assertEqual(old.json()["received_at"], "2022-05-01T00:00:00+08:00")

    def test_oversize(self):
        n = self.node
        head = n.head()
        # headers first: the node refuses on Content-Length before the body
        c = http.client.HTTPConnection("127.0.0.1", n.port, timeout=10)
        try:
            c.putrequest("POST", "/v1/evaluations")
            c.putheader("Authorization", "Bearer " + n.token)
            c.putheader("Content-Type", "application/json")
            c.putheader("Content-Length", str(70 * 1024))
            c.endheaders()
            r = c.getresponse()
            self.check_err(hcptest.Response(r.status, r.read(), {}), 413)
        finally:
            c.close()
        # a whole oversize body sent at once
        body = evaluation(content="长" * 30000)  # 90 000 bytes of UTF-8
        try:
            r = n.post("/v1/evaluations", body)
            self.check_err(r, 413)
        except (ConnectionError, http.client.HTTPException):
            pass  # the node may close before reading all of it; no crash
        self.assertTrue(n.alive())
        self.assertEqual(n.head(), head)
        # just under the limit is fine (content's own bound permitting)
        r = n.post("/v1/evaluations", evaluation(content="短" * 1000))
        self.assertEqual(r.status, 201, r)

    def test_not_found_and_methods(self):
        n = self.node
        cid = n.new_case()["id"]
        day = CASE_ID.match(cid).group(1)
        self.check_err(n.get("/v1/cases/%s-%s-9999" % (COUNTY, day)), 404)
        self.check_err(n.post("/v1/cases/%s-%s-9999/events" % (COUNTY, day),
                              {"type": "notify_staff"}), 404)
        self.check_err(n.get("/v1/cases/630103-%s-0001" % day), 404)
        self.check_err(n.post("/v1/cases/630103-%s-0001/events" % day,
                              {"type": "notify_staff"}), 404)
        self.check_err(n.get("/v1/cases/garbage"), 404)
        self.check_err(n.get("/v1/nope"), 404)
        self.check_err(n.get("/v2/cases"), 404)
        self.check_err(n.get("/v1/cases/%s/whatever" % cid), 404)
        for m, p in (("GET", "/v1/evaluations"), ("DELETE", "/v1/cases"), ("PUT", "/v1/cases"),
                     ("DELETE", "/v1/cases/" + cid), ("GET", "/v1/cases/%s/events" % cid),
                     ("POST", "/v1/ledger?month=2026-01"), ("POST", "/v1/sync"),
                     ("POST", "/metrics")):
            self.check_err(n.request(m, p, raw=b"{}" if m in ("POST", "PUT") else None), 405)

    def test_auth(self):
        n = self.node
        cid = n.new_case()["id"]
        head = n.head()
        routes = [("POST", "/v1/evaluations", evaluation()), ("POST", "/v1/cases", case_body()),
                  ("GET", "/v1/cases", None), ("GET", "/v1/cases/" + cid, None),
                  ("POST", "/v1/cases/%s/events" % cid, {"type": "notify_staff"}),
                  ("GET", "/v1/ledger?month=2026-01", None), ("GET", "/v1/sync", None),
                  ("GET", "/metrics", None), ("GET", "/v1/nope", None)]
        for m, p, b in routes:
            for tok in (None, "wrong-token", n.token + "x", ""):
                r = n.request(m, p, body=b, token=tok)
                self.assertEqual(r.status, 401, (m, p, tok, r))
            r = n.request(m, p, body=b, token=None, headers={"Authorization": "Basic " + n.token})
            self.assertEqual(r.status, 401, (m, p, r))
        self.assertEqual(n.head(), head)
        r = n.get("/healthz", token=None)
        self.assertEqual(r.status, 200, r)
        r = n.get("/healthz", token="wrong")
        self.assertEqual(r.status, 200, r)

    def test_list_and_paging(self):
        n = self.node
        mine = [n.new_case(complainant={"name": "列表人", "phone": "13100000000"})["id"]
                for _ in range(5)]
        old = n.new_case(at=days_ago(12))["id"]
        n.step(mine[0], {"type": "verify_start", "verifier": {"name": "甲", "phone": "1"}})
        everything = n.get("/v1/cases?limit=500").json()
        ids = [c["id"] for c in everything["cases"]]
        self.assertIsNone(everything["next"])
        self.assertEqual(ids, sorted(ids))
        for cid in mine + [old]:
            self.assertIn(cid, ids)
        for c in everything["cases"]:
            self.assertIsNone(c["complainant"])
            self.assertNotIn("phone", c.get("staff") or {})
            self.assertNotIn("events", c) if "events" not in c else None
        # paging with limit and after
        pages, after = [], None
        while True:
            q = "/v1/cases?limit=2" + ("&after=" + after if after else "")
            j = n.get(q).json()
            self.assertLessEqual(len(j["cases"]), 2)
            pages.extend(c["id"] for c in j["cases"])
            after = j["next"]
            if after is None:
                break
            self.assertEqual(after, j["cases"][-1]["id"])
        self.assertEqual(pages, ids)
        # status filter
        v = n.get("/v1/cases?status=verifying&limit=500").json()["cases"]
        self.assertIn(mine[0], [c["id"] for c in v])
        self.assertTrue(all(c["status"] == "verifying" for c in v))
        rec = n.get("/v1/cases?status=received&limit=500").json()["cases"]
        self.assertNotIn(mine[0], [c["id"] for c in rec])
        self.assertIn(mine[1], [c["id"] for c in rec])
        self.assertTrue(all(c["status"] == "received" for c in rec))
        page = n.get("/v1/cases?status=received&limit=1&after=" + mine[1]).json()["cases"]
        self.assertTrue(all(c["id"] > mine[1] for c in page))
        # overdue
        od = n.get("/v1/cases?overdue=true&limit=500").json()["cases"]
        odids = [c["id"] for c in od]
        self.assertIn(old, odids)
        self.assertNotIn(mine[1], odids)
        self.assertTrue(all(c["overdue"] for c in od))
        self.check_err(n.get("/v1/cases?status=sleeping"), 422, "status")
        self.check_err(n.get("/v1/cases?limit=0"), 422, "limit")
        self.check_err(n.get("/v1/cases?limit=abc"), 422, "limit")
        self.check_err(n.get("/v1/cases?overdue=maybe"), 422, "overdue")

    def test_ledger(self):
        n = self.node
        at = days_ago(2)
        cid = n.new_case(at=at, complainant={"name": "台账人", "phone": "13200000000"})["id"]
        month = at[:7]
        j = n.get("/v1/ledger?month=" + month).json()
        self.assertEqual(j["month"], month)
        self.assertEqual(j["county"], COUNTY)
        rows = {r["case_id"]: r for r in j["rows"]}
        self.assertIn(cid, rows)
        row = rows[cid]
        self.assertEqual(row["complainant"]["name"], "台账人")
        self.assertEqual(row["kind"], "complaint")
        self.assertEqual([r["no"] for r in j["rows"]], list(range(1, len(j["rows"]) + 1)))
        self.assertEqual(n.get("/v1/ledger?month=2001-01").json()["rows"], [])
        for q in ("", "?month=2026-13", "?month=26-01", "?month=2026-1", "?month=x"):
            self.check_err(n.get("/v1/ledger" + q), 422, "month")

    def test_sync(self):
        n = self.node
        j = n.get("/v1/sync").json()
        for k in ("gateway", "connected", "log_head", "acked", "lag", "last_error"):
            self.assertIn(k, j)
        self.assertIsNone(j["gateway"])
        self.assertFalse(j["connected"])
        n.evaluate(5)
        j = n.get("/v1/sync").json()
        self.assertEqual(j["log_head"], n.head())
        self.assertGreaterEqual(j["log_head"], 1)

    def test_metrics(self):
        n = self.node
        n.evaluate(5)
        n.new_case()
        r = n.get("/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/plain"), r.headers)
        m = n.metrics()
        for k in ("hcp_node_evaluations_total", "hcp_node_overdue_cases", "hcp_node_log_head",
                  "hcp_node_map_used_bytes"):
            self.assertIn(k, m)
        for st in ("received", "verifying", "disputed", "rectifying", "feedback_pending",
                   "awaiting_revisit", "resolved", "closed"):
            self.assertIn('hcp_node_cases{status="%s"}' % st, m)
        self.assertGreaterEqual(m['hcp_node_cases{status="received"}'], 1)
        self.assertGreaterEqual(m["hcp_node_evaluations_total"], 1)
        self.assertGreater(m["hcp_node_map_used_bytes"], 0)
        ev = m["hcp_node_evaluations_total"]
        n.evaluate(3)
        self.assertEqual(n.metrics()["hcp_node_evaluations_total"], ev + 1)


class NothingWritten(NodeTest):
    """Refused requests leave the log head where it was (fresh node: no
    back-dated cases, so the sweep has nothing to write)."""

    def test_refusals_write_nothing(self):
        n = self.node
        cid = n.new_case()["id"]
        n.evaluate(4)
        before = n.metrics()
        for _ in range(3):
            n.post("/v1/evaluations", raw=b"{")
            n.post("/v1/evaluations", evaluation(channel="fax"))
            n.post("/v1/cases", case_body(kind="review", rating=5))
            n.post("/v1/cases/%s/events" % cid, {"type": "close"})
            n.post("/v1/cases/%s/events" % cid, {"type": "dispute_file", "by": "a",
                                                  "reason": "b"})
            n.post("/v1/cases/%s/events" % cid, {"type": "notify_staff", "at": days_ago(5)})
            n.post("/v1/evaluations", evaluation(), token="bad")
            n.get("/v1/cases/%s-20200101-0001" % COUNTY)
        after = n.metrics()
        for k in ("hcp_node_log_head", "hcp_node_evaluations_total",
                  'hcp_node_cases{status="received"}'):
            self.assertEqual(after[k], before[k], k)
        self.assertGreater(after.get("hcp_node_refused_total", 1), 0)
        c = n.get("/v1/cases/" + cid).json()
        self.assertEqual([e["type"] for e in c["events"]], ["case_open"])


class Sweep(NodeTest):
    """--sweep-interval 1: a back-dated case gets its overdue mark."""
    node_args = ("--sweep-interval", "1")

    def test_sweep_marks_overdue(self):
        n = self.node
        cid = n.new_case(at=days_ago(12))["id"]
        fresh = n.new_case()["id"]
        c = n.get("/v1/cases/" + cid).json()
        self.assertTrue(c["overdue"])
        end = time.monotonic() + 8
        marks = []
        while time.monotonic() < end:
            c = n.get("/v1/cases/" + cid).json()
            marks = [e for e in c["events"] if e["type"] == "overdue"]
            if marks:
                break
            time.sleep(0.2)
        self.assertEqual(len(marks), 1, c["events"])
        self.assertEqual(marks[0].get("deadline"), "feedback")
        self.assertEqual(c["status"], "received")  # the mark changes no status
        time.sleep(1.5)  # further sweeps do not mark it again
        c = n.get("/v1/cases/" + cid).json()
        self.assertEqual(len([e for e in c["events"] if e["type"] == "overdue"]), 1)
        f = n.get("/v1/cases/" + fresh).json()
        self.assertEqual([e["type"] for e in f["events"]], ["case_open"])
        self.assertGreaterEqual(n.metrics()["hcp_node_overdue_cases"], 1)
        # a paper record dated before the sweep's mark is still accepted
        c = n.step(cid, {"type": "verify_start", "verifier": {"name": "甲", "phone": "1"},
                         "at": days_ago(11)})
        self.assertEqual(c["status"], "verifying")


if __name__ == "__main__":
    hcptest.main()
