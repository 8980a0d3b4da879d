"""test_gen.py — tools/hcp-gen against one real hcp-node: it runs for a few
seconds, stops cleanly on SIGTERM, and leaves cases at several stages of
handling (every one it reports is in the node), with back-dated overdue cases.
Usage: python3 test_gen.py PATH/TO/hcp-node PATH/TO/tools/hcp-gen"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import hcptest



class Generator(hcptest.NodeTest):
    node_args = ("--sweep-interval", "1")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tok = os.path.join(cls.node.data, "api.token")
        cls.url = "http://127.0.0.1:%d" % cls.node.port

    def gen(self, *args, timeout=60):
        p = subprocess.run([sys.executable, hcptest.path("hcp-gen")] + list(args), capture_output=True, text=True,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def all_cases(self):
        out, after = [], None
        while True:
            q = "/v1/cases?limit=500" + ("&after=" + after if after else "")
            j = self.node.get(q).json()
            out += j["cases"]
            after = j["next"]
            if after is None:
                return out

    def test_1_run_makes_cases_at_several_stages(self):
        stats = os.path.join(self.node.tmp, "gen.json")
        code, out, err = self.gen("--node", "%s=%s" % (self.url, self.tok), "--seed", "7",
                                  "--rate", "150", "--duration", "6", "--interval", "2",
                                  "--json", stats)
        self.assertEqual(code, 0, out + err)
        self.assertIn("hcp-gen", out)
        self.assertIn("status", out)  # progress lines
        with open(stats) as f:
            j = json.load(f)
        c = j["counters"]
        self.assertGreater(c.get("evaluations", 0), 100, c)
        self.assertGreater(c.get("cases_complaint", 0) + c.get("cases_review", 0), 30, c)
        self.assertEqual(c.get("net_error", 0), 0, c)
        self.assertFalse([k for k in c if k.startswith("http_5")], c)
        cases = self.all_cases()
        by_status = {}
        for x in cases:
            by_status[x["status"]] = by_status.get(x["status"], 0) + 1
        sys.stderr.write("cases %d by status %s\n" % (len(cases), by_status))
        stages = [s for s in ("received", "verifying", "rectifying", "feedback_pending",
                              "awaiting_revisit", "resolved", "closed", "disputed") if by_status.get(s)]
        self.assertGreaterEqual(len(stages), 5, by_status)
        self.assertIn("closed", stages)
        self.assertTrue(any(x["overdue"] for x in cases), "no overdue case")
        self.assertEqual({x["kind"] for x in cases}, {"review", "complaint"})
        self.assertGreater(len({x["channel"] for x in cases}), 6)
        # what it reports is what the node holds (the sweep's overdue marks change no status)
        self.assertEqual(by_status, {k: v for k, v in j["status"].items() if v}, j["status"])
        m = self.node.metrics()
        self.assertEqual(int(m["hcp_node_evaluations_total"]), c["evaluations"])

    def test_2_sigterm_stops_cleanly_and_count(self):
        p = subprocess.Popen([sys.executable, hcptest.path("hcp-gen"), "--node", "%s=%s" % (self.url, self.tok),
                              "--rate", "50", "--quiet"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=20)
        self.assertEqual(p.returncode, 0, out + err)
        self.assertIn("requests", out)  # the final summary, also with --quiet
        code, out, err = self.gen("--node", "%s=%s" % (self.url, self.tok), "--count", "25",
                                  "--rate", "0", "--quiet")
        self.assertEqual(code, 0, out + err)
        self.assertIn("requests 25 ", out)

    def test_3_bad_arguments(self):
        code, _, err = self.gen("--rate", "5")
        self.assertEqual(code, 2, err)
        code, _, err = self.gen("--node", "no-token-file")
        self.assertEqual(code, 2, err)
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("630102 %s\n" % self.url)
        try:
            code, _, err = self.gen("--nodes-file", f.name)
            self.assertEqual(code, 2, err)
        finally:
            os.unlink(f.name)


if __name__ == "__main__":
    hcptest.main("hcp-gen")
