"""test_tlog_go.py — an independent verifier accepts the transparency log
(issue #14, docs/transparency.md "Checked by Go's tlog"): Go's
golang.org/x/mod/sumdb/tlog and sumdb/note, from Debian's
golang-golang-x-mod-dev, built offline (GOPATH mode, no network) into
tests/interop/tlogcheck, check the gateway's log.

Usage: python3 test_tlog_go.py PATH/TO/hcp-node PATH/TO/hcp-gateway

Go: `go` and the x/mod sources are installed by scripts/deps.sh go (make
check runs it before ctest). When they are missing the test installs them
as root; if that is impossible it FAILS (exit 1) and says so: this check is
never skipped silently.

One gateway (plain tcp://) and one county node:
  test_1  300+ entries (a full level-0 tile, a partial one, a level-1 tile);
          checkpoints saved at about 100, 300 and the end. tlogcheck over
          the URL: note.Open verifies the checkpoint with the key of
          /log/key, tlog.TileHashReader reads and authenticates the tiles,
          every entry's inclusion (tlog.ProveRecord/CheckRecord) and each
          saved checkpoint's consistency (tlog.ProveTree/CheckTree) pass;
          a case's entries are found.
  test_2  the same over a mirrored directory; then a changed hash tile, a
          changed entry, a checkpoint whose size line was edited (its
          signature no longer holds), a wrong pinned key and a newer
          checkpoint passed as the "old" one each make tlogcheck fail (1).
HCP_TLOG_GO_KEEP=1 keeps the temporary directory.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import hcptest
from hcptest import wait_until
from test_tlog import tiles_of

COUNTY = "630102"
SEEN = 15.0
GOPATH = "/usr/share/gocode"
XMOD = os.path.join(GOPATH, "src", "golang.org", "x", "mod", "sumdb", "tlog")
SRC = os.path.join(hcptest.ROOT, "tests", "interop", "tlogcheck")
say = hcptest.sayer("tlog_go")


def have_go():
    return shutil.which("go") is not None and os.path.isdir(XMOD)


def ensure_go():
    """Go and golang.org/x/mod from Debian, or exit 1 saying why."""
    if have_go():
        return
    if os.geteuid() != 0:
        sys.exit("FAILED: Go or golang.org/x/mod is not installed and this is not root: "
                 "run `sudo bash scripts/deps.sh go` (golang-go golang-golang-x-mod-dev)")
    say("go missing: bash scripts/deps.sh go")
    p = subprocess.run(["bash", os.path.join(hcptest.ROOT, "scripts", "deps.sh"), "go"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
    if p.returncode != 0 or not have_go():
        sys.exit("FAILED: could not install golang-go golang-golang-x-mod-dev "
                 "(scripts/deps.sh go, exit %d):\n%s" % (p.returncode,
                                                         hcptest.tail(p.stdout + p.stderr)))


def go_env(tmp):
    """GOPATH mode over Debian's sources; no network, caches in tmp."""
    env = dict(os.environ)
    env.update({"GO111MODULE": "off", "GOPATH": GOPATH, "GOFLAGS": "", "GOPROXY": "off",
                "GOENV": "off", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0",
                "GOCACHE": os.path.join(tmp, "gocache"), "HOME": tmp})
    return env


class TlogGo(hcptest.DumpOnFailure, unittest.TestCase):
    procs = []
    tmp = None
    gw = None
    node = None
    tool = None
    cases = []
    saved = []  # checkpoint files, oldest first

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-tloggo-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.tool = os.path.join(cls.tmp, "tlogcheck")
            p = subprocess.run(["go", "build", "-o", cls.tool, "."], cwd=SRC,
                               env=go_env(cls.tmp), capture_output=True, text=True, timeout=600)
            if p.returncode != 0:
                raise AssertionError("go build of tests/interop/tlogcheck failed:\n%s%s"
                                     % (p.stdout, p.stderr))
            v = subprocess.run(["go", "version"], env=go_env(cls.tmp), capture_output=True,
                               text=True)
            say("built tlogcheck with %s", v.stdout.strip())
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            cls.node = hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=COUNTY)

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, "HCP_TLOG_GO_KEEP")

    # ---- helpers ----
    def public(self, path):
        return self.gw.get(path, token=None)

    def base(self):
        return "http://127.0.0.1:%d" % self.gw.port

    def checkpoint(self):
        r = self.public("/log/checkpoint")
        self.assertEqual(r.status, 200, r)
        return r.body

    def size(self):
        return int(self.checkpoint().decode().split("\n")[1])

    def wait_size(self, at_least):
        return wait_until(lambda: (self.size() >= at_least, self.size()), SEEN,
                          "the checkpoint to cover %d entries" % at_least, interval=0.1)

    def save(self):
        f = os.path.join(self.tmp, "cp-%d" % len(self.saved))
        with open(f, "wb") as out:
            out.write(self.checkpoint())
        self.saved.append(f)
        return f

    def check(self, *args, want=0, source=None):
        cmd = [self.tool] + list(args) + [source or self.base()]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, want, (cmd, p.stdout, p.stderr))
        return p.stdout + p.stderr

    def mirror(self, into):
        """The published files as a directory (log/key, log/checkpoint, tiles)."""
        cp = self.checkpoint()
        size = int(cp.decode().split("\n")[1])
        os.makedirs(os.path.join(into, "log"), exist_ok=True)
        with open(os.path.join(into, "log", "checkpoint"), "wb") as f:
            f.write(cp)
        with open(os.path.join(into, "log", "key"), "wb") as f:
            f.write(self.public("/log/key").body)
        for t in tiles_of(size):
            r = self.public("/log/" + t)
            self.assertEqual(r.status, 200, (t, r))
            os.makedirs(os.path.dirname(os.path.join(into, "log", t)), exist_ok=True)
            with open(os.path.join(into, "log", t), "wb") as f:
                f.write(r.body)
        return size

    # ---- tests ----
    def test_1_go_accepts_the_log(self):
        for i in range(100):
            self.cases.append(self.node.new_case()["id"])
        self.wait_size(100)
        self.save()
        for cid in self.cases[:100]:
            self.node.step(cid, {"type": "verify_start",
                                 "verifier": {"name": "核实人", "phone": "1"}})
        for i in range(100):
            self.cases.append(self.node.new_case()["id"])
        self.wait_size(300)
        self.save()
        for i in range(7):
            self.cases.append(self.node.new_case()["id"])
        self.node.step(self.cases[-1], {"type": "verify_start",
                                        "verifier": {"name": "核实人", "phone": "1"}})
        n = self.wait_size(308)
        key = self.public("/log/key").text.strip()
        out = self.check("-key", key, "-case", self.cases[-1])
        say("%s", out.strip().replace("\n", " | "))
        self.assertIn("signed by %s" % key.split("+")[0], out)
        self.assertIn("all %d entries proved" % n, out)
        self.assertIn("case %s: 2 entries" % self.cases[-1], out)
        for old in self.saved:
            out = self.check("-key", key, "-old", old)
            self.assertIn("consistency:", out)
        # the key read from /log/key by the tool itself
        self.check("-old", self.saved[0])

    def test_2_directory_and_tampering(self):
        d = os.path.join(self.tmp, "published")
        size = self.mirror(d)
        self.assertGreater(size, 300)
        key = self.public("/log/key").text.strip()
        self.check("-key", key, "-old", self.saved[1], source=d)
        # a changed hash in the full level-0 tile
        t = os.path.join(d, "log", "tile", "0", "000")
        with open(t, "rb") as f:
            orig = f.read()
        with open(t, "wb") as f:
            f.write(orig[:40] + bytes([orig[40] ^ 1]) + orig[41:])
        out = self.check("-key", key, source=d, want=1)
        self.assertIn("FAILED", out)
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
        out = self.check("-key", key, source=d, want=1)
        self.assertIn("tlog.CheckRecord", out)
        with open(e, "wb") as f:
            f.write(orig)
        self.check("-key", key, source=d)
        # a checkpoint whose size was edited: the signature no longer holds
        cpf = os.path.join(d, "log", "checkpoint")
        with open(cpf, "rb") as f:
            cp = f.read()
        lines = cp.split(b"\n")
        lines[1] = str(size - 1).encode()
        with open(cpf, "wb") as f:
            f.write(b"\n".join(lines))
        out = self.check("-key", key, source=d, want=1)
        self.assertIn("note.Open", out)
        with open(cpf, "wb") as f:
            f.write(cp)
        # a key of another name
        other = subprocess.run([self.tool, "-key", "other.example/log+" + key.split("+", 1)[1], d],
                               capture_output=True, text=True)
        self.assertNotEqual(other.returncode, 0, other)
        # the newer checkpoint given as "old" while an older one is served
        newer = os.path.join(self.tmp, "newer.checkpoint")
        shutil.copy(cpf, newer)
        shutil.copy(self.saved[0], cpf)
        out = self.check("-key", key, "-old", newer, source=d, want=1)
        self.assertIn("older", out)


if __name__ == "__main__":
    hcptest.main("hcp-gateway", before=ensure_go)
