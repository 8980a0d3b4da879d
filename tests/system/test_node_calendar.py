"""Provisional deadlines at hcp-node (docs/calendar.md): a
node whose calendar does not know the current year counts deadlines on
weekdays and marks them provisional; restarted with a calendar that knows
the year, it recounts them at start-up and they are firm.
Usage: python3 test_node_calendar.py PATH/TO/hcp-node"""
import os
import unittest

import hcptest
from hcptest import Node

CALENDAR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data",
                        "calendar.tsv")


class Calendar(unittest.TestCase):
    def test_provisional_then_firm(self):
        n = Node()
        try:
            year = __import__("time").strftime("%Y")
            old = os.path.join(n.tmp, "old-calendar.tsv")
            with open(CALENDAR, encoding="utf-8") as src, open(old, "w", encoding="utf-8") as dst:
                for line in src:  # drop the current year's notice: the year is unknown
                    if not line.rstrip("\n").endswith("\t" + year):
                        dst.write(line)
            n.args = ["--calendar", old]
            n.start()
            c = n.new_case()
            self.assertTrue(c["deadlines"]["provisional"], c["deadlines"])
            self.assertEqual(n.stop(), 0)
            n.args = []  # the compiled-in calendar knows the current year
            n.start()
            got = n.get("/v1/cases/" + c["id"]).json()
            if year in open(CALENDAR, encoding="utf-8").read():
                self.assertFalse(got["deadlines"]["provisional"], got["deadlines"])
            self.assertIn("calendar.recount", n.stderr())
        finally:
            n.kill()
            n.cleanup()


if __name__ == "__main__":
    hcptest.main()
