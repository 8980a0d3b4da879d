#!/usr/bin/env python3
"""Rules a county cannot game (issue 13, docs/rules.md), against a real hcp-node.

  test_1  a case swept overdue stays deadline_met false after steps dated back
          before the mark; each such step is marked backdated, counted in
          the case (backdated_steps) and in /metrics, and the case shows
          when it was last recorded beside the date its last step claims.
  test_2  the revisit is owed when the complainant gave a phone (named or
          not); a name alone owes none.
  test_3  an unsatisfied revisit returns the case to rectification; only a
          supervisor's written decision closes it anyway.
  test_4  a dispute is a written application (document, explanations kept)
          decided by another account, admin included, never by the staff
          member's own account, and not in the second it was filed.
  test_5  notify_staff dated before receipt is refused.
"""
import datetime
import subprocess
import sys
import time
import unittest

import hcptest
from hcptest import case_body, days_ago, iso


def add_user(data, name, role):
    """hcp-node user add beside the running node; its token (the last line)."""
    p = subprocess.run([hcptest.binary(), "user", "add", "--data", data, "--name", name,
                        "--role", role], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p.stdout.strip().splitlines()[-1]


class RulesHold(hcptest.NodeTest):
    node_args = ("--sweep-interval", "1")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = {name: add_user(cls.node.data, name, role)
                   for name, role in (("clerk1", "clerk"), ("sup1", "supervisor"),
                                      ("sup2", "supervisor"), ("S-0042", "supervisor"))}

    def as_(self, name, cid, body, want):
        r = self.node.request("POST", "/v1/cases/%s/events" % cid, body=body,
                              token=self.tok[name])
        self.assertEqual(r.status, want, (body, r))
        return r.json()

    def refused(self, cid, body, error, name=None):
        r = self.node.request("POST", "/v1/cases/%s/events" % cid, body=body,
                              token=self.tok[name] if name else "default")
        self.assertEqual((r.status, r.json().get("error")), (409, error), (body, r))

    def test_1_overdue_stays_and_backdated(self):
        n = self.node
        cid = n.new_case(at=days_ago(20))["id"]
        end = time.monotonic() + 20
        while True:  # the sweep (every second) marks the missed feedback deadline
            c = n.get("/v1/cases/%s" % cid).json()
            if any(e["type"] == "overdue" for e in c["events"]):
                break
            self.assertLess(time.monotonic(), end, "no overdue mark")
            time.sleep(0.1)
        self.assertFalse(c["deadline_met"])
        n.step(cid, {"type": "verify_start", "verifier": {"name": "甲", "phone": "1"},
                     "at": days_ago(19)})
        n.step(cid, {"type": "verify_conclude", "outcome": "unsubstantiated",
                     "at": days_ago(18)})
        c = n.step(cid, {"type": "feedback", "via": "sms", "text": "不属实", "at": days_ago(16)})
        self.assertEqual(c["status"], "resolved")
        self.assertFalse(c["deadline_met"])  # true before: the dates erased the mark
        self.assertFalse(c["overdue"])       # nothing is owed any more
        steps = [e for e in c["events"] if e["type"] in ("verify_start", "verify_conclude",
                                                          "feedback")]
        self.assertEqual([e.get("backdated") for e in steps], [True, True, True])
        self.assertNotIn("backdated", c["events"][0])  # case_open: a paper case may be late
        self.assertEqual(c["backdated_steps"], 3)
        self.assertGreater(c["last_recorded_at"], c["last_at"])  # same offset: text order
        m = n.metrics()
        self.assertGreaterEqual(m['hcp_node_backdated_steps_total{county="630102"}'], 3)
        # a step entered the same day is not backdated
        cid2 = n.new_case()["id"]
        c = n.step(cid2, {"type": "notify_staff"})
        self.assertEqual(c["backdated_steps"], 0)

    def walk_to_feedback(self, cid):
        n = self.node
        n.step(cid, {"type": "verify_start", "verifier": {"name": "甲", "phone": "1"}})
        n.step(cid, {"type": "verify_conclude", "outcome": "substantiated"})
        n.step(cid, {"type": "rectify_assign", "unit": {"code": "U1", "name": "某局"},
                     "mode": "immediate"})
        n.step(cid, {"type": "rectify_done", "result": "已整改"})
        return n.step(cid, {"type": "feedback", "via": "sms", "text": "已整改"})

    def test_2_revisit_by_phone(self):
        n = self.node
        phone_only = n.new_case(complainant={"phone": "13900000001"})
        self.assertEqual((phone_only["real_name"], phone_only["reachable"]), (False, True))
        c = self.walk_to_feedback(phone_only["id"])
        self.assertEqual(c["status"], "awaiting_revisit")  # resolved before
        self.refused(phone_only["id"], {"type": "close"}, "revisit_required")
        name_only = n.new_case(complainant={"name": "投诉人丙"})
        self.assertEqual((name_only["real_name"], name_only["reachable"]), (False, False))
        self.assertEqual(self.walk_to_feedback(name_only["id"])["status"], "resolved")

    def test_3_unsatisfied_revisit(self):
        n = self.node
        cid = n.new_case()["id"]
        self.walk_to_feedback(cid)
        c = n.step(cid, {"type": "revisit", "by": "回访员", "satisfied": False})
        self.assertEqual(c["status"], "rectifying")  # resolved (and closable) before
        self.refused(cid, {"type": "close"}, "revisit_unsatisfied")
        body = {"type": "close", "decision": "经研究，诉求超出整改范围，决定办结。"}
        r = self.as_("clerk1", cid, body, 403)
        self.assertIn("supervisor", r["detail"])
        c = self.as_("sup1", cid, body, 200)
        self.assertEqual(c["status"], "closed")
        self.assertEqual(c["events"][-1]["decision"], body["decision"])
        self.assertEqual(c["events"][-1]["account"], "sup1")

    def test_4_dispute(self):
        n = self.node
        at = iso(datetime.datetime.now(hcptest.CST) - datetime.timedelta(seconds=30))
        cid = n.new_case(at=at)["id"]  # the staff member is S-0042 (hcptest.evaluation)
        n.step(cid, {"type": "notify_staff", "at": at})
        filed = {"type": "dispute_file", "by": "S-0042", "reason": "并非本人",
                 "document": "复核申请〔2026〕3号", "staff_explanation": "当日系统故障", "at": at}
        n.step(cid, filed)  # the admin token files it
        decide = {"type": "dispute_decide", "outcome": "malicious",
                  "unit_explanation": "中心说明：叫号系统停机"}
        self.refused(cid, decide, "dispute_same_account")  # admin was exempt before
        self.refused(cid, decide, "dispute_decided_by_staff", name="S-0042")
        self.refused(cid, dict(decide, at=at), "dispute_decided_at_filing", name="sup2")
        c = self.as_("sup2", cid, decide, 200)
        self.assertEqual((c["status"], c["adopted"]), ("closed", False))
        ev = {e["type"]: e for e in c["events"]}
        self.assertEqual(ev["dispute_file"]["document"], "复核申请〔2026〕3号")
        self.assertEqual(ev["dispute_file"]["staff_explanation"], "当日系统故障")
        self.assertEqual(ev["dispute_decide"]["unit_explanation"], "中心说明：叫号系统停机")
        self.assertEqual(ev["dispute_decide"]["account"], "sup2")

    def test_5_notify_before_receipt(self):
        n = self.node
        cid = n.new_case(at=days_ago(0, hours=2))["id"]
        self.refused(cid, {"type": "notify_staff", "at": days_ago(0, hours=3)},
                     "at_before_receipt")


if __name__ == "__main__":
    hcptest.main()
