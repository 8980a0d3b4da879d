"""test_tlog.py — the gateway's public transparency log (issue #14,
docs/transparency.md) and hcp-verify.

Usage: python3 test_tlog.py PATH/TO/hcp-node PATH/TO/hcp-gateway PATH/TO/hcp-verify

One gateway (plain tcp://, --insecure) and one county node:
  test_1  cases and steps flow; GET /log/key, /log/checkpoint and the tiles
          answer with their caching headers (a full level-0 tile immutable);
          hcp-verify checkpoint, feed and inclusion --case pass over the URL;
          a wrong key and an unknown case fail (exit 1); no server is exit 2.
  test_2  more entries: consistency with the checkpoint saved before passes.
  test_3  a mirrored directory of the published files verifies; a changed
          hash tile, a changed entry bundle, and an older checkpoint served in
          place of the newer one are each detected (exit 1, and why).
  test_4  a restart continues the same tree: the checkpoint before it is
          consistent with the one after, and new entries are appended.
  test_5  the feed keeps an entry once: as a reference to its leaf when one
          was appended, as the JSON itself when none was (a gateway with
          HCP_BENCH_TLOG_OFF=1, as an entry over 64 KB or a store from
          before the reference). Both forms read the same after a restart:
          the feed, a case's entry, the service list; hcp-verify feed names
          the case the log lacks (exit 1).
HCP_TLOG_KEEP=1 keeps the temporary directory.
"""
import base64
import os
import shutil
import subprocess
import tempfile
import unittest

import hcptest
from hcptest import wait_until

COUNTY = "630102"
SEEN = 15.0


def tile_path(level, n, w):
    """C2SP tlog-tiles path of tile (level, n) of width w (256 = full)."""
    s = "%03d" % n
    s = "0" * ((3 - len(s) % 3) % 3) + s
    parts = [s[i:i + 3] for i in range(0, len(s), 3)]
    p = "/".join(["x" + e for e in parts[:-1]] + [parts[-1]])
    lv = "entries" if level < 0 else str(level)
    return "tile/%s/%s%s" % (lv, p, "" if w == 256 else ".p/%d" % w)


def tiles_of(size):
    """Every tile path (entries and hashes) a tree of size leaves has."""
    out = []
    for level in [-1] + list(range(8)):
        count = size >> (8 * max(level, 0))
        if count == 0:
            break
        for n in range(count // 256 + 1):
            w = 256 if n < count // 256 else count % 256
            if w:
                out.append(tile_path(level, n, w))
    return out


class Tlog(hcptest.DumpOnFailure, unittest.TestCase):
    procs = []
    tmp = None
    gw = None
    node = None
    cases = []

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-tlogtest-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            cls.node = hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=COUNTY)

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, "HCP_TLOG_KEEP")

    # ---- helpers ----
    def public(self, path):
        return self.gw.get(path, token=None)

    def base(self):
        return "http://127.0.0.1:%d" % self.gw.port

    def key(self):
        r = self.public("/log/key")
        self.assertEqual(r.status, 200, r)
        return r.text.strip()

    def verify(self, *args, want=0, source=None):
        cmd = [hcptest.path("hcp-verify"), args[0], "--key", self.key()] + list(args[1:]) + \
            [source or self.base()]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, want, (cmd, p.stdout, p.stderr))
        return p.stdout + p.stderr

    def checkpoint(self):
        r = self.public("/log/checkpoint")
        self.assertEqual(r.status, 200, r)
        return r.body

    def size(self):
        return int(self.checkpoint().decode().split("\n")[1])

    def wait_size(self, at_least):
        return wait_until(lambda: (self.size() >= at_least, self.size()), SEEN,
                          "the checkpoint to cover %d entries" % at_least, interval=0.1)

    def wait_case(self, cid):
        def probe():
            r = self.public("/feed/requests.json?service_request_id=" + cid)
            return (r.status == 200 and len(r.json()) == 1, r)
        wait_until(probe, SEEN, "case %s in the feed" % cid, interval=0.05)

    def mirror(self, into):
        """The published files as a directory: what a static host serves."""
        cp = self.checkpoint()
        size = int(cp.decode().split("\n")[1])
        os.makedirs(os.path.join(into, "log"), exist_ok=True)
        os.makedirs(os.path.join(into, "feed"), exist_ok=True)
        with open(os.path.join(into, "log", "checkpoint"), "wb") as f:
            f.write(cp)
        for t in tiles_of(size):
            r = self.public("/log/" + t)
            self.assertEqual(r.status, 200, (t, r))
            os.makedirs(os.path.dirname(os.path.join(into, "log", t)), exist_ok=True)
            with open(os.path.join(into, "log", t), "wb") as f:
                f.write(r.body)
        r = self.public("/feed/requests.json?page_size=200")
        with open(os.path.join(into, "feed", "requests.json"), "wb") as f:
            f.write(r.body)
        return size

    # ---- tests ----
    def test_1_log_and_verify(self):
        # 300 updates: more than one full level-0 tile (256 leaves)
        for i in range(100):
            self.cases.append(self.node.new_case()["id"])
        for cid in self.cases[:100]:
            self.node.step(cid, {"type": "verify_start",
                                 "verifier": {"name": "核实人", "phone": "1"}})
        last = self.cases[-1]
        for i in range(100):
            self.cases.append(self.node.new_case()["id"])
        self.wait_case(self.cases[-1])
        size = self.wait_size(300)
        cp = self.checkpoint().decode()
        lines = cp.split("\n")
        self.assertEqual(lines[0], "hcp.qinghai/log")
        self.assertEqual(len(base64.b64decode(lines[2])), 32)
        self.assertEqual(lines[3], "")
        self.assertTrue(lines[4].startswith("\u2014 hcp.qinghai/log "), cp)
        key = self.key()
        self.assertTrue(key.startswith("hcp.qinghai/log+"), key)
        # caching headers: a full tile is immutable, a partial one and the checkpoint are not
        r = self.public("/log/tile/0/000")
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), 256 * 32)
        self.assertIn("immutable", r.headers.get("Cache-Control", ""))
        w = size % 256
        r = self.public("/log/tile/0/001.p/%d" % w)
        self.assertEqual((r.status, len(r.body)), (200, 32 * w))
        self.assertNotIn("immutable", r.headers.get("Cache-Control", ""))
        self.assertIn("no-cache", self.gw.get("/log/checkpoint", token=None)
                      .headers.get("Cache-Control", ""))
        self.assertEqual(self.public("/log/tile/0/009").status, 404)
        self.assertEqual(self.public("/log/tile/0/0").status, 404)
        # hcp-verify over the URL
        out = self.verify("checkpoint")
        self.assertIn("OK", out)
        self.verify("feed")
        out = self.verify("inclusion", "--case", last)
        self.assertIn("2 entries of case %s" % last, out)  # opened, then verify_start
        # a wrong key, an unknown case, nobody listening
        p = subprocess.run([hcptest.path("hcp-verify"), "checkpoint", "--key",
                            "hcp.qinghai/log+00000000+AQ" + "A" * 42, self.base()],
                           capture_output=True, text=True)
        self.assertIn(p.returncode, (1, 2), p)
        other = key.split("+")[0] + "+" + key.split("+")[1] + "+" + \
            base64.b64encode(b"\x01" + bytes(32)).decode()
        p = subprocess.run([hcptest.path("hcp-verify"), "checkpoint", "--key", other,
                            self.base()], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2, p)  # id does not match the key: not a key
        self.verify("inclusion", "--case", "630102-19990101-0001", want=1)
        p = subprocess.run([hcptest.path("hcp-verify"), "checkpoint", "--key", key,
                            "http://127.0.0.1:%d" % hcptest.free_port()],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2, p)
        with open(os.path.join(self.tmp, "old.checkpoint"), "wb") as f:
            f.write(self.checkpoint())

    def test_2_consistency(self):
        old = os.path.join(self.tmp, "old.checkpoint")
        with open(old, "rb") as f:
            before = int(f.read().decode().split("\n")[1])
        for i in range(5):
            self.cases.append(self.node.new_case()["id"])
        self.wait_size(before + 5)
        out = self.verify("consistency", old)
        self.assertIn("extend", out)

    def test_3_directory_and_tampering(self):
        d = os.path.join(self.tmp, "published")
        shutil.rmtree(d, ignore_errors=True)
        size = self.mirror(d)
        self.verify("feed", source=d)
        self.verify("inclusion", "--case", self.cases[0], source=d)
        # a changed hash in a full tile
        t = os.path.join(d, "log", "tile", "0", "000")
        with open(t, "rb") as f:
            orig = f.read()
        with open(t, "wb") as f:
            f.write(orig[:40] + bytes([orig[40] ^ 1]) + orig[41:])
        out = self.verify("feed", source=d, want=1)
        self.assertIn("tile/0/000", out)
        self.verify("inclusion", "--case", self.cases[0], source=d, want=1)
        with open(t, "wb") as f:
            f.write(orig)
        # a changed entry ("open" -> "opeN" keeps the length)
        e = os.path.join(d, "log", "tile", "entries", "000")
        with open(e, "rb") as f:
            orig = f.read()
        i = orig.find(b'"open"')
        self.assertGreater(i, 0)
        with open(e, "wb") as f:
            f.write(orig[:i] + b'"opeN"' + orig[i + 6:])
        out = self.verify("feed", source=d, want=1)
        self.assertIn("do not make the tree", out)
        with open(e, "wb") as f:
            f.write(orig)
        self.verify("feed", source=d)
        # an older checkpoint served in place of the newer one
        newer = os.path.join(self.tmp, "newer.checkpoint")
        shutil.copy(os.path.join(d, "log", "checkpoint"), newer)
        shutil.copy(os.path.join(self.tmp, "old.checkpoint"), os.path.join(d, "log", "checkpoint"))
        out = self.verify("consistency", newer, source=d, want=1)
        self.assertIn("older", out)
        with open(os.path.join(self.tmp, "old.checkpoint")) as f:
            self.assertLess(int(f.read().split("\n")[1]), size)

    def test_4_restart_continues(self):
        before = os.path.join(self.tmp, "before-restart.checkpoint")
        with open(before, "wb") as f:
            f.write(self.checkpoint())
        n0 = self.size()
        key = self.key()
        self.gw.stop()
        self.gw.restart_same_ports()
        self.assertEqual(self.key(), key)  # the same signing key
        self.assertEqual(self.size(), n0)
        hcptest.wait_connected(self.node, "the node to reach the gateway again", SEEN)
        cid = self.node.new_case()["id"]
        self.wait_case(cid)
        self.wait_size(n0 + 1)
        self.verify("consistency", before)
        self.verify("inclusion", "--case", cid)
        self.verify("feed")

    def test_5_feed_value_forms(self):
        n0 = self.size()
        self.gw.stop()
        self.gw.env["HCP_BENCH_TLOG_OFF"] = "1"
        self.gw.restart_same_ports()
        hcptest.wait_connected(self.node, "the node to reach the gateway again", SEEN)
        off = self.node.new_case()["id"]
        self.wait_case(off)
        r = self.public("/feed/requests.json?service_request_id=" + off)
        inline = r.json()[0]
        self.assertEqual(self.size(), n0)  # nothing appended: the feed holds the JSON
        self.gw.stop()
        del self.gw.env["HCP_BENCH_TLOG_OFF"]
        self.gw.restart_same_ports()
        hcptest.wait_connected(self.node, "the node to reach the gateway again", SEEN)
        on = self.node.new_case()["id"]
        self.wait_case(on)
        self.wait_size(n0 + 1)
        r = self.public("/feed/requests.json?service_request_id=" + off)
        self.assertEqual(r.json(), [inline])  # the inline form, read after the restart
        page = self.public("/feed/requests.json?page_size=200").json()
        ids = [e["service_request_id"] for e in page]
        self.assertEqual(ids[:2], [on, off], ids[:5])
        self.assertEqual(len(ids), len(set(ids)))
        self.assertEqual(len(page), min(200, len(set(self.cases)) + 3))
        atom = self.public("/feed/atom.xml")
        self.assertEqual(atom.status, 200)
        self.assertIn(("urn:hcp:case:%s:" % off).encode(), atom.body)
        self.assertIn(("urn:hcp:case:%s:" % on).encode(), atom.body)
        svc = self.public("/feed/services.json")
        self.assertEqual(svc.status, 200)
        self.assertTrue(len(svc.json()) >= 1, svc.json())
        self.verify("inclusion", "--case", on)
        out = self.verify("feed", want=1)
        self.assertIn(off, out)


if __name__ == "__main__":
    hcptest.main("hcp-gateway", "hcp-verify")
