"""test_full_disk.py — a full disk at the gateway and at the node (issue #10).

Usage: python3 test_full_disk.py PATH/TO/hcp-node PATH/TO/hcp-gateway

Each daemon's --data lies on a small tmpfs (3 MB) mounted for the test, then
the filesystem is grown (remount size=64m) while the daemon keeps running:

  test_gateway_disk_full  one gateway (tcp://, --insecure) on the small
        tmpfs, one node on the ordinary disk. Cases of ~16 KB are posted
        through the node until the gateway logs store.disk_full. The gateway
        must stay up and healthy, must not grow its LMDB map (the disk, not
        the map, is what is full), and must never acknowledge what it could
        not commit (the node's `acked` never passes the gateway's
        `applied`). After the remount it catches up by itself: `applied`
        equals the node's head, every case is listed, the chain verifies.
  test_node_disk_full  one node (offline) on the small tmpfs. POSTs answer
        201 until the disk fills, then 503 storage_full (never 500, never a
        crash); every 201 stays readable; case numbers have no holes (a
        refused write takes none). After the remount the same process takes
        writes again, and `hcp-node verify` passes.

Needs root (mount); skipped with a message otherwise or when tmpfs cannot be
mounted. Unmounts in every case. HCP_DISK_KEEP=1 keeps the temporary
directory (unmounted).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import hcptest
from hcptest import Gateway, Node, case_body, tail, wait_until

COUNTY = "630102"
SMALL = "3m"
BIG = "64m"
PHRASE = "窗口工作人员态度恶劣，推诿扯皮，多次往返仍未办结。"  # 75 bytes of UTF-8
CONTENT = PHRASE * 218  # 16,350 bytes
SMALL_CONTENT = PHRASE * 13  # ~1 KB: fills the last pages exactly, so writes fail with ENOSPC
MAX_POSTS = 600
T0 = time.monotonic()


say = hcptest.sayer("disk", T0)


def mount_small(path):
    """Mount a SMALL tmpfs on path; an error string when that is impossible."""
    if os.geteuid() != 0:
        return "needs root to mount a tmpfs"
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + SMALL + ",mode=0700", "tmpfs",
                        path], capture_output=True, text=True)
    if p.returncode != 0:
        return "cannot mount tmpfs on %s: %s" % (path, p.stderr.strip())
    return None


def grow(path):
    p = subprocess.run(["mount", "-o", "remount,size=" + BIG, path], capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise AssertionError("remount %s size=%s: %s" % (path, BIG, p.stderr))


def unmount(path):
    for _ in range(50):
        if not os.path.ismount(path):
            return
        if subprocess.run(["umount", path], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    subprocess.run(["umount", "-l", path], capture_output=True)


def max_mapsize(text):
    """The largest mapsize a store.grow line reports (0: it never grew)."""
    sizes = [int(m) for m in re.findall(r"store\.grow .*?mapsize=(\d+)", text)]
    return max(sizes) if sizes else 0


def case_number(cid):
    return int(cid.rsplit("-", 1)[1])


class FullDisk(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hcp-disktest-")
        self.mnt = os.path.join(self.tmp, "fs")
        self.procs = []
        why = mount_small(self.mnt)
        if why is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.skipTest("SKIPPED: " + why)

    def tearDown(self):
        try:
            for p in self.procs:
                if p.alive():
                    p.kill()
        finally:
            unmount(self.mnt)
            if os.environ.get("HCP_DISK_KEEP"):
                say("kept %s", self.tmp)
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)

    def dump(self, why):
        sys.stderr.write("==== %s ====\n" % why)
        for p in self.procs:
            label = "gateway" if isinstance(p, Gateway) else "node"
            state = "running" if p.alive() else "exit %r" % (p.proc.poll() if p.proc else None)
            sys.stderr.write("---- %s, %s ----\n%s\n" % (label, state, tail(p.stderr(), 4000)))

    def assert_clean(self, p):
        """No sanitizer report in a process's stderr (the ASan build)."""
        err = p.stderr()
        self.assertIsNone(hcptest.sanitizer_problem(err), tail(err))

    def post_case(self, node, content=CONTENT):
        return node.post("/v1/cases", case_body(content=content), timeout=30)

    # ---- the gateway's disk ----
    def test_gateway_disk_full(self):
        try:
            self._gateway_disk_full()
        except BaseException:
            self.dump("gateway_disk_full failed")
            raise

    def _gateway_disk_full(self):
        gdir = os.path.join(self.tmp, "gw")
        os.mkdir(gdir)
        gw = Gateway(hcptest.path("hcp-gateway"), tmp=gdir, scheme="tcp", args=("--insecure",),
                     env={"HCP_LOG_LEVEL": "info"})
        gw.data = os.path.join(self.mnt, "data")
        self.procs.append(gw)
        gw.start()
        ndir = os.path.join(self.tmp, "node")
        os.mkdir(ndir)
        node = Node(county=COUNTY, tmp=ndir,
                    args=["--sweep-interval", "86400", "--gateway", gw.url, "--insecure"])
        self.procs.append(node)
        node.start()
        wait_until(lambda: (node.get("/v1/sync").json().get("connected") is True, "not yet"),
                   15.0, "the node to reach the gateway", interval=0.05)

        ids = []
        full = False
        for i in range(MAX_POSTS):
            # mostly 16 KB cases, and small ones between them, so that the
            # disk fills up to its last page (ENOSPC) as well as in the
            # middle of a write (a short write: EIO)
            r = self.post_case(node, CONTENT if i % 50 == 0 else SMALL_CONTENT)
            self.assertEqual(r.status, 201, r)
            ids.append(r.json()["id"])
            if i % 10 == 9:
                self.assertTrue(gw.alive(), "the gateway died (exit %r)" % gw.proc.poll())
                err = gw.stderr()
                if "store.disk_full" in err or "store.commit_failed" in err:
                    full = True  # (the old gateway said commit_failed for a full disk)
                    break
                self.assertEqual(max_mapsize(err), 0,
                                 "the gateway grew its map on a full disk")
        say("posted %d cases of %d or %d bytes; the gateway failed a commit: %s", len(ids),
            len(CONTENT.encode()), len(SMALL_CONTENT.encode()), full)
        self.assertTrue(full, "the gateway never failed a commit: the disk did not fill")
        # more while full, small ones too: a short write shows as EIO, a write
        # into a filesystem without one free page as ENOSPC (which the old
        # gateway took for a full map: it doubled the map until mmap failed
        # and LMDB crashed)
        for i in range(200):
            r = self.post_case(node, CONTENT if i % 20 == 0 else SMALL_CONTENT)
            self.assertEqual(r.status, 201, r)
            ids.append(r.json()["id"])
            if i % 20 == 19:
                self.assertTrue(gw.alive(), "the gateway died (exit %r)" % gw.proc.poll())
                self.assertEqual(max_mapsize(gw.stderr()), 0,
                                 "the gateway grew its map on a full disk")
        # the node learns of the full disk at its next batch (its backoff grows)
        def told():
            e = node.get("/v1/sync").json().get("last_error") or ""
            return "storage_full" in e, e
        wait_until(told, 30.0, "the node told that the gateway's disk is full", interval=0.2)
        self.assertTrue(gw.alive(), "the gateway died (exit %r)" % gw.proc.poll())
        self.assertEqual(gw.get("/healthz").status, 200)
        row = gw.counties().get(COUNTY, {})
        sync = node.get("/v1/sync").json()
        say("while full: gateway applied %s, node head %s acked %s, last_error %r",
            row.get("applied"), sync.get("log_head"), sync.get("acked"), sync.get("last_error"))
        self.assertLess(row.get("applied", 0), sync["log_head"],
                        "the gateway claims everything applied on a full disk")
        self.assertLessEqual(sync["acked"], row.get("applied", 0),
                             "the node holds acknowledgements the gateway never committed")
        self.assertEqual(max_mapsize(gw.stderr()), 0, "the gateway grew its map on a full disk")
        lines = gw.stderr().count("store.disk_full")
        self.assertGreater(lines, 0, "the gateway did not log store.disk_full")
        self.assertLessEqual(lines, 3 + int(time.monotonic() - T0) // 10,
                             "store.disk_full is logged more than once per 10 s")

        grow(self.mnt)
        say("remounted %s with size=%s", self.mnt, BIG)
        head = node.head()

        def caught_up():
            row = gw.counties().get(COUNTY, {})
            s = node.get("/v1/sync").json()
            ok = row.get("applied") == head and s.get("acked") == head
            return ok, "gateway %r node %r" % (row, s)
        wait_until(caught_up, 90.0, "the gateway to catch up after room came back", interval=0.25)
        say("caught up: applied = acked = head = %d", head)
        listed = {c["id"] for c in gw.cases(COUNTY)}
        self.assertEqual(listed, set(ids))
        self.assertTrue(gw.alive())
        self.assertEqual(gw.get("/healthz").status, 200)
        code, out, err = hcptest.run(["verify", "--data", node.data])
        self.assertEqual(code, 0, err)
        self.assertIn("head=%d " % head, out)
        self.assertEqual(node.stop(), 0, tail(node.stderr()))
        self.assertEqual(gw.stop(), 0, tail(gw.stderr()))
        self.assertEqual(max_mapsize(gw.stderr()), 0, "the gateway grew its map")
        self.assert_clean(node)
        self.assert_clean(gw)

    # ---- the node's disk ----
    def test_node_disk_full(self):
        try:
            self._node_disk_full()
        except BaseException:
            self.dump("node_disk_full failed")
            raise

    def _node_disk_full(self):
        ndir = os.path.join(self.tmp, "node")
        os.mkdir(ndir)
        node = Node(county=COUNTY, tmp=ndir, data=os.path.join(self.mnt, "data"),
                    args=["--sweep-interval", "86400"])
        self.procs.append(node)
        node.start()
        ok = []
        refused = 0
        for _ in range(MAX_POSTS):
            r = self.post_case(node)
            self.assertIn(r.status, (201, 503), r)
            if r.status == 201:
                self.assertEqual(refused, 0, "a write succeeded between refusals: %r" % r)
                ok.append(r.json()["id"])
                continue
            self.assertEqual(r.json()["error"], "storage_full", r)
            refused += 1
            if refused >= 5:
                break
        say("node: %d cases written, then %d refused storage_full", len(ok), refused)
        self.assertEqual(refused, 5, "the node's disk never filled")
        self.assertTrue(node.alive())
        self.assertEqual(node.get("/healthz").status, 200)
        self.assertEqual(node.get("/v1/cases/%s" % ok[-1]).status, 200)
        self.assertEqual([case_number(c) for c in ok], list(range(1, len(ok) + 1)))
        head = node.head()
        self.assertEqual(head, len(ok))
        # the process stays as it is: room comes back
        grow(self.mnt)
        say("remounted %s with size=%s", self.mnt, BIG)
        for _ in range(5):
            r = self.post_case(node)
            self.assertEqual(r.status, 201, r)
            ok.append(r.json()["id"])
        self.assertEqual([case_number(c) for c in ok], list(range(1, len(ok) + 1)),
                         "a refused write took a case number")
        for cid in ok:
            self.assertEqual(node.get("/v1/cases/%s" % cid).status, 200, cid)
        self.assertTrue(node.alive())
        self.assertEqual(node.stop(), 0, tail(node.stderr()))
        self.assertIn("store.disk_full", node.stderr())
        self.assert_clean(node)
        code, out, err = hcptest.run(["verify", "--data", node.data])
        self.assertEqual(code, 0, err)
        self.assertIn("head=%d " % len(ok), out)


if __name__ == "__main__":
    hcptest.main("hcp-gateway")
