"""hcp-node as an operator sees it: the directory lock, signals, flags,
the token file, `verify` (and a corrupted copy), hot `backup` and restore,
map growth, and a full disk (tmpfs; needs root, as in CI).
Usage: python3 test_node_ops.py PATH/TO/hcp-node"""
import concurrent.futures
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
import unittest

import hcptest
from hcptest import COUNTY, Node, evaluation, run


def post_many(node, bodies, threads=8):
    """POST each body to /v1/evaluations from `threads` threads; statuses."""
    def one(b):
        try:
            r = node.post("/v1/evaluations", b)
            return r.status, (r.json().get("error") if r.status >= 400 else None)
        except OSError as e:
            return 0, str(e)
    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        return list(ex.map(one, bodies))


class Ops(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hcp-ops-")
        self.nodes = []

    def tearDown(self):
        for n in self.nodes:
            n.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def node(self, **kw):
        kw.setdefault("tmp", tempfile.mkdtemp(dir=self.tmp))
        n = Node(**kw)
        self.nodes.append(n)
        return n

    # ---- process ----

    def test_second_instance_refused(self):
        a = self.node().start()
        a.evaluate(5)
        b = self.node(data=a.data)
        p = b.spawn()
        try:
            code = p.wait(10)
        except subprocess.TimeoutExpired:
            self.fail("second node on the same --data kept running")
        err = b.stderr()
        self.assertNotEqual(code, 0, err)
        self.assertTrue("lock" in err.lower() or "running" in err.lower()
                        or "another" in err.lower(), err)
        self.assertTrue(a.alive())
        self.assertEqual(a.get("/healthz", token=None).status, 200)
        a.evaluate(5)  # the first still writes
        self.assertEqual(a.stop(), 0)

    def test_signals_exit_zero(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            n = self.node().start()
            n.evaluate(4)
            t = time.monotonic()
            code = n.stop(sig, timeout=5)
            self.assertEqual(code, 0, (sig, n.stderr()))
            self.assertLess(time.monotonic() - t, 5)
            # and it starts again on the same directory afterwards
            n.start()
            self.assertEqual(n.metrics()["hcp_node_evaluations_total"], 1)
            self.assertEqual(n.stop(), 0)

    def test_signal_under_load(self):
        n = self.node().start()
        done = []
        stop = threading.Event()

        def load():
            while not stop.is_set():
                try:
                    r = n.post("/v1/evaluations", evaluation(5), timeout=5)
                    done.append(r.status)
                except OSError:
                    return
        th = [threading.Thread(target=load) for _ in range(4)]
        for t in th:
            t.start()
        time.sleep(0.5)
        code = n.stop(signal.SIGTERM, timeout=15)
        stop.set()
        for t in th:
            t.join(10)
        self.assertEqual(code, 0, n.stderr()[-2000:])
        ok = done.count(201)
        self.assertGreater(ok, 0)
        for s in done:
            self.assertIn(s, (201, 503))
        # every answered 201 survived: the restarted node has at least that many
        n.start()
        self.assertGreaterEqual(n.metrics()["hcp_node_evaluations_total"], ok)
        self.assertEqual(n.stop(), 0)
        c, out, err = run(["verify", "--data", n.data])
        self.assertEqual(c, 0, err)

    def test_flags(self):
        code, out, err = run(["--help"])
        self.assertEqual(code, 0)
        self.assertIn("--data", out)
        for sub in ("backup", "verify"):
            code, out, err = run([sub, "--help"])
            self.assertEqual(code, 0, err)
            self.assertIn("--data", out)
        d = os.path.join(self.tmp, "flags")
        bad = [["--data", d, "--county", COUNTY, "--frobnicate"],
               ["--county", COUNTY],
               ["--data", d],
               ["--data", d, "--county", COUNTY, "--sweep-interval", "0"],
               ["--data", d, "--county", COUNTY, "--sweep-interval", "abc"],
               ["--data", d, "--county", COUNTY, "--listen-http", "nonsense"],
               ["--data", d, "--county", COUNTY, "--gateway", "tcp://127.0.0.1:1"],
               ["--data", d, "--county", COUNTY, "--config", os.path.join(d, "missing.conf")],
               ["backup", "--data", d],
               ["verify"],
               ["verify", "--data", d, "--bogus"]]
        for args in bad:
            code, out, err = run(args, timeout=10)
            self.assertEqual(code, 2, (args, code, out, err))
            self.assertTrue(err.strip(), (args, "no message"))

    def test_unknown_county(self):
        for county in ("999999", "630100", "63010", "abcdef", "110101"):
            d = os.path.join(self.tmp, "c" + county)
            code, out, err = run(["--data", d, "--county", county, "--listen-http",
                                  "127.0.0.1:%d" % hcptest.free_port()], timeout=10)
            self.assertNotEqual(code, 0, (county, err))
            self.assertIn(county, err, err)

    def test_other_county_on_store_refused(self):
        a = self.node().start()
        a.evaluate(5)
        self.assertEqual(a.stop(), 0)
        code, out, err = run(["--data", a.data, "--county", "630103", "--listen-http",
                              "127.0.0.1:%d" % hcptest.free_port()], timeout=10)
        self.assertNotEqual(code, 0, err)
        self.assertIn("630102", err)

    def test_key_files_private(self):
        n = self.node().start()
        # the seal key lives apart from the data (DIR.keys/), the token beside it
        for path in (os.path.join(n.data, "api.token"), n.data + ".keys/seal.key"):
            st = os.stat(path)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, path)
        self.assertEqual(stat.S_IMODE(os.stat(n.data + ".keys").st_mode), 0o700)
        self.assertFalse(os.path.exists(os.path.join(n.data, "seal.key")))
        self.assertGreaterEqual(len(n.token), 16)
        self.assertEqual(n.stop(), 0)
        # a restart keeps the token
        with open(os.path.join(n.data, "api.token")) as f:
            tok = f.read().strip()
        n.start()
        self.assertEqual(n.token, tok)
        self.assertEqual(n.get("/v1/sync").status, 200)

    # ---- verify, backup, restore ----

    def test_verify_and_corruption(self):
        n = self.node().start()
        marker = "CORRUPTION-MARKER-Qx7Zk9-content"
        for i in range(20):
            n.evaluate(5 if i % 3 else 1, content="filler %d" % i)
        n.evaluate(5, content=marker)
        n.evaluate(4, content="after the marker")
        head = n.head()
        code, out, err = run(["verify", "--data", n.data])  # beside the live node
        self.assertEqual(code, 0, err)
        self.assertIn("head=%d" % head, out)
        self.assertEqual(n.stop(), 0)
        code, out, err = run(["verify", "--data", n.data])
        self.assertEqual(code, 0, err)
        copy = os.path.join(self.tmp, "corrupt")
        os.mkdir(copy, 0o700)
        for name in ("data.mdb", "api.token"):  # verify needs no seal key
            shutil.copy2(os.path.join(n.data, name), copy)
        path = os.path.join(copy, "data.mdb")
        with open(path, "r+b") as f:
            raw = bytearray(f.read())
            hits, pos = 0, raw.find(marker.encode())
            while pos >= 0:
                raw[pos + 12] ^= 0x01  # 'M' of MARKER -> 'L'
                hits += 1
                pos = raw.find(marker.encode(), pos + 1)
            self.assertGreater(hits, 0, "marker not found in data.mdb")
            f.seek(0)
            f.write(raw)
        code, out, err = run(["verify", "--data", copy])
        self.assertEqual(code, 1, (out, err))
        self.assertIn("FAILED", err)
        self.assertNotIn("ok county", out)
        # the untouched original still verifies
        code, out, err = run(["verify", "--data", n.data])
        self.assertEqual(code, 0, err)

    def test_backup_under_load_and_restore(self):
        n = self.node().start()
        before = {}
        for i in range(10):
            person = {"name": "备份人%02d" % i, "phone": "1360000%04d" % i,
                      "id_number": "63010219900101%04d" % i}
            c = n.new_case(complainant=person, content="backup case %d" % i)
            before[c["id"]] = person
        for i in range(200):
            n.evaluate(5, content="pre-backup %d " % i + "x" * 500)
        stop = threading.Event()
        statuses = []

        def load():
            while not stop.is_set():
                try:
                    statuses.append(n.post("/v1/evaluations", evaluation(5, content="load"),
                                           timeout=10).status)
                except OSError as e:
                    statuses.append(str(e))
        th = [threading.Thread(target=load) for _ in range(3)]
        for t in th:
            t.start()
        try:
            time.sleep(0.3)
            head_before = n.head()
            out_file = os.path.join(self.tmp, "backup.mdb")
            code, out, err = run(["backup", "--data", n.data, "--out", out_file], timeout=60)
            time.sleep(0.2)
        finally:
            stop.set()
            for t in th:
                t.join(15)
        self.assertEqual(code, 0, err)
        self.assertTrue(os.path.getsize(out_file) > 0)
        self.assertFalse(os.path.exists(out_file + ".partial"))
        self.assertTrue(all(s == 201 for s in statuses), set(map(str, statuses)))
        self.assertGreater(len(statuses), 0)
        head_after = n.head()
        self.assertEqual(n.stop(), 0)
        # restore into a new directory
        rdir = os.path.join(self.tmp, "restored")
        os.mkdir(rdir, 0o700)
        shutil.copy(out_file, os.path.join(rdir, "data.mdb"))
        shutil.copy2(os.path.join(n.data, "api.token"), rdir)
        os.mkdir(rdir + ".keys", 0o700)  # the key comes from its own backup
        shutil.copy2(n.data + ".keys/seal.key", rdir + ".keys/")
        code, out, err = run(["verify", "--data", rdir])
        self.assertEqual(code, 0, err)
        r = self.node(data=rdir).start()
        h = r.head()
        self.assertGreaterEqual(h, head_before)
        self.assertLessEqual(h, head_after)
        for cid, person in before.items():
            c = r.get("/v1/cases/" + cid)
            self.assertEqual(c.status, 200, c)
            got = c.json()["complainant"]
            for k, v in person.items():
                self.assertEqual(got[k], v)
        r.evaluate(5)  # the restored node continues its chain
        self.assertEqual(r.head(), h + 1)
        self.assertEqual(r.stop(), 0)
        code, out, err = run(["verify", "--data", rdir])
        self.assertEqual(code, 0, err)
        self.assertIn("head=%d" % (h + 1), out)

    def test_restore_without_key_refused(self):
        n = self.node().start()
        n.new_case()
        out_file = os.path.join(self.tmp, "b2.mdb")
        code, out, err = run(["backup", "--data", n.data, "--out", out_file, "--quiet"])
        self.assertEqual(code, 0, err)
        self.assertEqual(n.stop(), 0)
        rdir = os.path.join(self.tmp, "nokey")
        os.mkdir(rdir, 0o700)
        shutil.copy(out_file, os.path.join(rdir, "data.mdb"))
        # a fresh seal.key would be made up: the old sealed records must not open
        code, out, err = run(["--data", rdir, "--county", COUNTY, "--listen-http",
                              "127.0.0.1:%d" % hcptest.free_port()], timeout=10)
        self.assertNotEqual(code, 0, "started on a store without its seal key:\n" + err)
        self.assertIn("seal.key", err)
        self.assertFalse(os.path.exists(os.path.join(rdir, "seal.key")))
        self.assertFalse(os.path.exists(rdir + ".keys/seal.key"))

    # ---- storage ----

    def test_map_growth(self):
        n = self.node(env={"HCP_MAPSIZE": "1048576"}).start()
        m0 = n.metrics()
        self.assertEqual(m0["hcp_node_map_size_bytes"], 1048576)
        text = "长内容" * 300  # 2700 bytes
        res = post_many(n, [evaluation(5 if i % 10 else 1, content="%d %s" % (i, text))
                            for i in range(3000)])
        bad = [r for r in res if r[0] != 201]
        self.assertEqual(bad, [], bad[:5])
        m = n.metrics()
        self.assertGreaterEqual(m["hcp_node_map_size_bytes"], 8 * 1048576)
        self.assertGreater(m["hcp_node_map_used_bytes"], 4 * 1048576)
        self.assertEqual(m["hcp_node_evaluations_total"], 3000)
        self.assertEqual(m["hcp_node_log_head"], 3000)
        self.assertIn("store.grow", n.stderr())
        self.assertEqual(n.stop(), 0)
        code, out, err = run(["verify", "--data", n.data, "--quiet"])
        self.assertEqual(code, 0, err)
        self.assertIn("head=3000", out)

    def test_disk_full(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to mount a tmpfs (CI runs as root)")
        mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(mnt)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt],
                           capture_output=True, text=True)
        if p.returncode != 0:
            self.fail("mount -t tmpfs failed (%d): %s" % (p.returncode, p.stderr.strip()))
        try:
            self.disk_full_in(mnt)
        finally:
            for n in self.nodes:
                n.kill()
            for _ in range(20):
                if subprocess.run(["umount", mnt], capture_output=True).returncode == 0:
                    break
                time.sleep(0.2)

    def disk_full_in(self, mnt):
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            f.write(os.urandom(1 << 20))
        data = os.path.join(mnt, "data")
        n = self.node(data=data, env={"HCP_MAPSIZE": "16777216"}).start()
        text = "满" * 1000
        ok = 0
        full = 0
        for round_ in range(60):
            res = post_many(n, [evaluation(5, content="%d-%d %s" % (round_, i, text))
                                for i in range(40)], threads=4)
            for status, error in res:
                if status == 201:
                    ok += 1
                else:
                    self.assertEqual((status, error), (503, "storage_full"))
                    full += 1
            if full:
                break
        self.assertGreater(full, 0, "the 3 MiB tmpfs never filled up")
        self.assertTrue(n.alive(), n.stderr()[-2000:])
        m = n.metrics()
        # nothing half-written: one log event per answered 201, no more
        self.assertEqual(m["hcp_node_log_head"], ok)
        self.assertEqual(m["hcp_node_evaluations_total"], ok)
        # a full disk is not a full map: growing the map would not help
        self.assertEqual(m["hcp_node_map_size_bytes"], 16777216)
        r = n.post("/v1/evaluations", evaluation(5, content=text))
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json()["error"], "storage_full")
        # reads keep working
        self.assertEqual(n.get("/v1/sync").status, 200)
        os.unlink(filler)
        for i in range(20):
            r = n.post("/v1/evaluations", evaluation(5, content="after %d" % i))
            self.assertEqual(r.status, 201, r)
        m = n.metrics()
        self.assertEqual(m["hcp_node_log_head"], ok + 20)
        self.assertEqual(n.stop(), 0, n.stderr()[-2000:])
        code, out, err = run(["verify", "--data", data])
        self.assertEqual(code, 0, err)
        self.assertIn("head=%d" % (ok + 20), out)


if __name__ == "__main__":
    hcptest.main()
