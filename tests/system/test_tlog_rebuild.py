"""test_tlog_rebuild.py — a lost gateway rebuilt from the counties, and its
transparency log (issue #14, docs/transparency.md "A gateway rebuilt from
the counties").

Usage: python3 test_tlog_rebuild.py PATH/TO/hcp-node PATH/TO/hcp-gateway PATH/TO/hcp-verify

Gateway A (plain tcp://) and three county nodes. The counties write one
after another (all of 630102's cases and steps reach the log before 630103
writes, ...); A's leaves (every entry bundle) and checkpoint are recorded.
  test_1  sequential rebuild: everything stopped, A's data directory deleted
          (its keys kept: DIR.keys/), a fresh gateway B on the same ports with
          the same keys; the nodes are started one at a time, each only
          after the one before is fully replicated. B's leaves equal A's,
          in the same order, and B signs the very same checkpoint (Ed25519 is
          deterministic); hcp-verify consistency of A's checkpoint against B
          passes.
  test_2  concurrent rebuild: B's data deleted while the three nodes keep
          running; a fresh gateway C; all three resend at once. What is
          guaranteed: the same multiset of leaves, and each county's leaves
          in the county's own order. The interleaving of counties is arrival
          order: when it differs from A's, C's root differs and hcp-verify
          consistency of A's checkpoint against C fails (exit 1) — what a
          citizen holding A's checkpoint sees; when it happens to match, the
          checkpoint is A's. Either outcome is checked and reported.
HCP_TLOG_REBUILD_KEEP=1 keeps the temporary directory.
"""
import collections
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import hcptest
from hcptest import wait_until

COUNTIES = ("630102", "630103", "630104")  # 城东区, 城中区, 城西区
SEEN = 30.0
CASES = 12  # per county; the first half also get a verify_start step
say = hcptest.sayer("tlog_rebuild")


class TlogRebuild(hcptest.DumpOnFailure, unittest.TestCase):
    procs = []
    tmp = None
    gw = None
    nodes = {}
    leaves_a = None
    checkpoint_a = None

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-tlogrebuild-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            for c in COUNTIES:
                cls.nodes[c] = hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=c)
            total = 0
            t = cls.helper()
            for c in COUNTIES:  # one county after the other: A's order is known
                node = cls.nodes[c]
                ids = [node.new_case()["id"] for _ in range(CASES)]
                for cid in ids[:CASES // 2]:
                    node.step(cid, {"type": "verify_start",
                                    "verifier": {"name": "核实人", "phone": "1"}})
                total += CASES + CASES // 2
                t.wait_size(total)
            cls.leaves_a = t.leaves()
            cls.checkpoint_a = t.checkpoint()
            with open(os.path.join(cls.tmp, "a.checkpoint"), "wb") as f:
                f.write(cls.checkpoint_a)
            say("gateway A: %d leaves, checkpoint %s", len(cls.leaves_a),
                cls.checkpoint_a.decode().split("\n")[2])

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, "HCP_TLOG_REBUILD_KEEP")

    @classmethod
    def helper(cls):
        """An instance for setUpClass: the helpers below read only class state."""
        return cls("test_1_sequential_rebuild_same_log")

    # ---- helpers ----
    def public(self, path):
        return self.gw.get(path, token=None)

    def checkpoint(self):
        r = self.public("/log/checkpoint")
        assert r.status == 200, r
        return r.body

    def size(self):
        return int(self.checkpoint().decode().split("\n")[1])

    def wait_size(self, n):
        return wait_until(lambda: (self.size() >= n, self.size()), SEEN,
                          "the checkpoint to cover %d entries" % n, interval=0.1)

    def leaves(self):
        """Every entry of the tree the current checkpoint signs, in order."""
        n = self.size()
        out = []
        for k in range((n + 255) // 256):
            w = min(256, n - 256 * k)
            r = self.public("/log/tile/entries/%03d%s" % (k, "" if w == 256 else ".p/%d" % w))
            assert r.status == 200, r
            b = r.body
            for _ in range(w):
                ln = int.from_bytes(b[:2], "big")
                out.append(b[2:2 + ln])
                b = b[2 + ln:]
            assert b == b"", "bytes after the bundle's entries"
        return out

    def verify(self, *args, want=0):
        key = self.public("/log/key").text.strip()
        cmd = [hcptest.path("hcp-verify"), args[0], "--key", key] + list(args[1:]) + \
            ["http://127.0.0.1:%d" % self.gw.port]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, want, (cmd, p.stdout, p.stderr))
        return p.stdout + p.stderr

    def replicated(self, county):
        """The gateway applied everything the county's node holds."""
        head = self.nodes[county].head()
        row = self.gw.counties().get(county, {})
        return (row.get("applied", 0) == head and head > 0, (row.get("applied"), head))

    def lose_gateway(self):
        """Stop the gateway, delete its data (its keys stay), start a fresh
        one on the same ports; it must be empty."""
        code = self.gw.stop()
        self.assertEqual(code, 0, "gateway exit at SIGTERM")
        keys = self.gw.data + ".keys"
        self.assertTrue(os.path.exists(os.path.join(keys, "log.key")))
        shutil.rmtree(self.gw.data)
        self.gw.restart_same_ports(30.0)
        # Empty when it opened, as its own start-up lines say: asked over
        # HTTP afterwards, the nodes (which keep running) may already have
        # resent, and a county's events may be applied before the question.
        err = self.gw.stderr()
        opened = err[err.rindex("id=store.open "):]
        self.assertIn(" counties=0 ", opened.splitlines()[0], "the fresh gateway knows counties")
        self.assertRegex(opened, r"id=tlog\.start size=0 ", "the fresh gateway's log is not empty")

    @staticmethod
    def by_county(leaves):
        out = collections.defaultdict(list)
        for e in leaves:
            out[json.loads(e)["county"]].append(e)
        return dict(out)

    # ---- tests ----
    def test_1_sequential_rebuild_same_log(self):
        for c in COUNTIES:
            self.assertEqual(self.nodes[c].stop(), 0)
        self.lose_gateway()
        total = 0
        for c in COUNTIES:  # one at a time: the arrival order is A's
            self.nodes[c].start()
            wait_until(lambda: self.replicated(c), SEEN, "county %s replicated" % c)
            total += CASES + CASES // 2
            self.wait_size(total)
        self.assertEqual(self.size(), len(self.leaves_a))
        self.assertEqual(self.leaves(), self.leaves_a, "the rebuilt leaves differ from A's")
        self.assertEqual(self.checkpoint(), self.checkpoint_a,
                         "the same leaves and key must give A's checkpoint")
        self.verify("consistency", os.path.join(self.tmp, "a.checkpoint"))
        say("sequential rebuild: the same %d leaves, the same checkpoint", len(self.leaves_a))

    def test_2_concurrent_rebuild(self):
        self.lose_gateway()  # the three nodes keep running and resend at once
        self.wait_size(len(self.leaves_a))
        for c in COUNTIES:
            wait_until(lambda: self.replicated(c), SEEN, "county %s replicated" % c)
        got = self.leaves()
        self.assertEqual(len(got), len(self.leaves_a))
        self.assertEqual(collections.Counter(got), collections.Counter(self.leaves_a),
                         "the rebuilt log holds other leaves than A's")
        self.assertEqual(self.by_county(got), self.by_county(self.leaves_a),
                         "a county's leaves are out of the county's order")
        if got == self.leaves_a:
            self.assertEqual(self.checkpoint(), self.checkpoint_a)
            say("concurrent rebuild: the arrival order happened to be A's: same checkpoint")
        else:
            moved = sum(1 for a, b in zip(got, self.leaves_a) if a != b)
            out = self.verify("consistency", os.path.join(self.tmp, "a.checkpoint"), want=1)
            say("concurrent rebuild: same leaves, %d of %d at other positions (counties "
                "interleaved by arrival); hcp-verify consistency with A's checkpoint: %s",
                moved, len(got), out.strip().splitlines()[-1])


if __name__ == "__main__":
    hcptest.main("hcp-gateway", "hcp-verify")
