"""test_case_numbers.py — a refused request takes no case number (issue #10).

Usage: python3 test_case_numbers.py PATH/TO/hcp-node

Case ids are COUNTY-YYYYMMDD-NNNN, numbered per day of the case's `at`.
Only a case that is written takes a number: requests the rules refuse
(409) or that are malformed (422) leave the day's numbering as it was, so
the first case written after two refusals on a fresh day is -0001. Numbers
are still never handed out twice (the restore path, which raises the
counters past every fetched case, is covered by test_repl's test_4).
"""
import datetime

import hcptest
from hcptest import CST, case_body, evaluation, iso


def day_at(days_back, hour):
    """An RFC 3339 time `days_back` days ago at `hour`:00 (+08:00)."""
    d = datetime.datetime.now(CST) - datetime.timedelta(days=days_back)
    return iso(d.replace(hour=hour, minute=0, second=0, microsecond=0))


def number(cid):
    return int(cid.rsplit("-", 1)[1])


class CaseNumbers(hcptest.NodeTest):
    def refuse(self, at):
        r = self.node.post("/v1/cases", case_body(kind="review", rating=4, at=at))
        self.assertEqual((r.status, r.json()["error"]), (409, "review_not_negative"), r)

    def test_refusals_take_no_number(self):
        n = self.node
        at = day_at(3, 10)
        day = at[:10].replace("-", "")
        head = n.head()
        self.refuse(at)
        self.refuse(at)
        cid = n.new_case(at=at)["id"]
        self.assertEqual(cid, "%s-%s-0001" % (n.county, day))
        self.refuse(at)
        # a review opened by a bad evaluation takes the next one
        e = n.evaluate(1, at=day_at(3, 11), complainant=None)
        self.assertEqual(e["case"], "%s-%s-0002" % (n.county, day))
        self.refuse(day_at(3, 12))
        cid = n.new_case(at=day_at(3, 12))["id"]
        self.assertEqual(number(cid), 3)
        self.assertEqual(n.head(), head + 3)  # refusals wrote nothing

    def test_refusals_take_no_evaluation_number(self):
        n = self.node
        first = n.evaluate(5)["evaluation"]
        # malformed and future-dated evaluations are refused before a number
        r = n.post("/v1/evaluations", evaluation(5, at="2999-01-01T00:00:00+08:00"))
        self.assertEqual(r.status, 422, r)
        self.assertEqual(n.evaluate(4)["evaluation"], first + 1)


if __name__ == "__main__":
    hcptest.main()
