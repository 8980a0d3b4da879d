"""test_repl_zstd.py — compressed replication batches (docs/replication.md,
"Compression"; issue #18 part 3).

Usage: python3 test_repl_zstd.py hcp-node hcp-gateway hcp-certs repl_client

One PKI; gateway NEW (this build) and gateway OLD (this build started with
HCP_REPL_ZSTD=off: it offers no compression, as a gateway from before this
change); real nodes with mutual TLS. A node's log is written while it is
offline (so its catch-up goes in large batches), then it is started with
--gateway. In order:
  test_1  new node -> new gateway: compression negotiated (both logs say
          zstd=on), the node's hcp_node_sync_zstd_frames_sent_total and the
          gateway's ..._received_total grow, the wire bytes are fewer than
          the raw ones, and the gateway applied the whole log (every hash
          recomputed from the uncompressed records; the batch signatures
          verified).
  test_2  old-style node (HCP_REPL_ZSTD=off) -> new gateway: no compression
          (zstd=off in both logs, no compressed frame sent or received), the
          log arrives whole.
  test_3  new node -> old-style gateway: the same the other way round.
  test_4  restore from the new gateway: a fresh store of test_1's county
          fetches its history back, in compressed events answers, and ends
          with the same head hash.
  test_5  hostile compressed frames from a peer holding a real certificate
          (repl_client zbomb): a 64 MiB bomb declared honestly, the same
          declared as 1,000 bytes, a frame with no size in its header, a
          small frame followed by the bomb, garbage: each is answered
          "malformed", the connection still answers a ping, the gateway's
          peak memory grows by far less than a bomb, its refused counter
          counts them, and a real county still replicates afterwards.
  test_6  an insecure tcp:// link (tests, demo), where the welcome answers
          the hello: compression is negotiated there too.
"""
import os
import subprocess
import sys
import tempfile
import time
import unittest

import hcptest
from hcptest import GW_NAME, Gateway, Node, evaluation, wait_until

NEW_NODE, OLD_NODE, TO_OLD_GW, HOSTILE = "630102", "630103", "630104", "630105"
EVENTS = 300
T0 = time.monotonic()

say = hcptest.sayer("zstd", T0)


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Zstd(hcptest.DumpOnFailure, unittest.TestCase):
    tmp = pki = gw = old_gw = None
    procs = []
    nodes = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-zstd-")
        try:
            cls.pki = hcptest.make_pki(os.path.join(cls.tmp, "pki"),
                                       (NEW_NODE, OLD_NODE, TO_OLD_GW, HOSTILE))
            cls.gw = cls.start_gateway("gw-new", {})
            cls.old_gw = cls.start_gateway("gw-old", {"HCP_REPL_ZSTD": "off"})
        except BaseException:
            hcptest.dump(cls.procs, "set-up failed")
            hcptest.kill_all(cls.procs)
            raise

    @classmethod
    def start_gateway(cls, name, env):
        gdir = os.path.join(cls.tmp, name)
        os.mkdir(gdir)
        gw = Gateway(hcptest.path("hcp-gateway"), tmp=gdir, env=env,
                     args=hcptest.gateway_tls_args(cls.pki))
        cls.procs.append(gw)
        gw.start()
        return gw

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, "HCP_REPL_KEEP")

    def setUp(self):
        sys.stderr.write("\n")

    # ---- helpers ----
    def offline_log(self, county, name, env):
        """A node of county with EVENTS evaluations written while offline,
        stopped; returns its directory."""
        ndir = os.path.join(self.tmp, name)
        os.mkdir(ndir)
        n = Node(county=county, tmp=ndir, env=env, args=["--sweep-interval", "86400"])
        self.procs.append(n)
        n.start()
        for i in range(EVENTS):
            r = n.post("/v1/evaluations", evaluation(
                3 + i % 3, content="第%d条：窗口办理营业执照，等候%d分钟，工作人员解释清楚。" % (i, i % 47)))
            self.assertEqual(r.status, 201, r)
        self.assertEqual(n.stop(), 0)
        self.procs.remove(n)
        return ndir

    def start_synced(self, county, ndir, gw, env):
        """The node of ndir started against gw; waits until gw applied its
        whole log; returns the node."""
        n = Node(county=county, tmp=ndir, env=env,
                 args=["--sweep-interval", "86400", "--gateway", gw.url] +
                 hcptest.node_tls_args(self.pki, county))
        self.procs.append(n)
        n.start()
        self.converge(n, gw)
        return n

    def converge(self, n, gw, what="replicated"):
        def probe():
            self.assertTrue(gw.alive(), "gateway exited")
            s = n.get("/v1/sync").json()
            row = gw.counties().get(n.county) or {}
            ok = (s["connected"] is True and s["acked"] == s["log_head"] >= 1 and
                  row.get("applied") == s["log_head"] and row.get("state") == "ok")
            return ok, "node %r gateway %r" % (s, row)
        wait_until(probe, 90.0, "county %s %s" % (n.county, what), interval=0.2)

    def zmetrics(self, proc, prefix):
        m = proc.metrics()
        return {k[len(prefix) + 6:]: v for k, v in m.items() if k.startswith(prefix + "_zstd_")}

    def client(self, cert_county, *args, timeout=120):
        cmd = [hcptest.path("repl_client"), self.gw.url, self.p("ca.crt"),
               self.p("nodes/%s.crt" % cert_county),
               self.p("nodes/%s.key" % cert_county), GW_NAME] + [str(a) for a in args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        say("repl_client %s %s -> %d %r %s", cert_county, " ".join(map(str, args)), r.returncode,
            r.stdout.strip(), r.stderr.strip()[-200:])
        return r.returncode, r.stdout.strip()

    @classmethod
    def p(cls, f):
        return os.path.join(cls.pki, f)

    # ---- tests ----
    def test_1_new_node_new_gateway(self):
        ndir = self.offline_log(NEW_NODE, "node-new", {})
        gw_before = self.zmetrics(self.gw, "hcp_gateway_replication")
        n = self.start_synced(NEW_NODE, ndir, self.gw, {})
        self.nodes[NEW_NODE] = n
        zm = self.zmetrics(n, "hcp_node_sync")
        say("node %r", zm)
        self.assertEqual(zm["level"], 1)
        self.assertGreaterEqual(zm["frames_sent_total"], 1)
        self.assertLess(zm["sent_wire_bytes_total"], zm["sent_raw_bytes_total"])
        gm = self.zmetrics(self.gw, "hcp_gateway_replication")
        say("gateway %r", gm)
        self.assertEqual(gm["frames_received_total"] - gw_before["frames_received_total"],
                         zm["frames_sent_total"])
        self.assertEqual(gm["received_raw_bytes_total"] - gw_before["received_raw_bytes_total"],
                         zm["sent_raw_bytes_total"])
        self.assertIn("zstd=on", [ln for ln in n.stderr().splitlines()
                                  if "sync.connected" in ln][0])
        self.assertTrue(any("repl.auth" in ln and "county=%s" % NEW_NODE in ln and "zstd=on" in ln
                            for ln in self.gw.stderr().splitlines()))
        self.assertEqual(self.gw.counties()[NEW_NODE]["applied"], n.head())

    def test_2_old_node_new_gateway(self):
        env = {"HCP_REPL_ZSTD": "off"}
        ndir = self.offline_log(OLD_NODE, "node-old", env)
        gw_before = self.zmetrics(self.gw, "hcp_gateway_replication")
        n = self.start_synced(OLD_NODE, ndir, self.gw, env)
        zm = self.zmetrics(n, "hcp_node_sync")
        self.assertEqual(zm["level"], 0)
        self.assertEqual(zm["frames_sent_total"], 0)
        gm = self.zmetrics(self.gw, "hcp_gateway_replication")
        self.assertEqual(gm["frames_received_total"], gw_before["frames_received_total"])
        self.assertIn("zstd=off", [ln for ln in n.stderr().splitlines()
                                   if "sync.connected" in ln][0])
        self.assertTrue(any("repl.auth" in ln and "county=%s" % OLD_NODE in ln and "zstd=off" in ln
                            for ln in self.gw.stderr().splitlines()))

    def test_3_new_node_old_gateway(self):
        ndir = self.offline_log(TO_OLD_GW, "node-to-old", {})
        before = self.zmetrics(self.old_gw, "hcp_gateway_replication")
        self.assertEqual(before["level"], 0)
        n = self.start_synced(TO_OLD_GW, ndir, self.old_gw, {})
        zm = self.zmetrics(n, "hcp_node_sync")
        self.assertEqual(zm["level"], 1)  # it offers ...
        self.assertEqual(zm["frames_sent_total"], 0)  # ... but the gateway did not accept
        self.assertEqual(self.zmetrics(self.old_gw, "hcp_gateway_replication")
                         ["frames_received_total"], 0)
        self.assertIn("zstd=off", [ln for ln in n.stderr().splitlines()
                                   if "sync.connected" in ln][0])

    def test_4_restore_compressed(self):
        old = self.nodes.get(NEW_NODE)
        self.assertIsNotNone(old, "test_1 must run first")
        head = old.head()
        self.assertEqual(old.stop(), 0)
        self.procs.remove(old)
        ndir = os.path.join(self.tmp, "node-restored")
        os.mkdir(ndir)
        n = Node(county=NEW_NODE, tmp=ndir,
                 args=["--sweep-interval", "86400", "--gateway", self.gw.url] +
                 hcptest.node_tls_args(self.pki, NEW_NODE))
        self.procs.append(n)
        n.start()

        def restored():
            s = n.get("/v1/sync").json()
            return s["connected"] is True and s["log_head"] == head, s
        wait_until(restored, 90.0, "the fresh store fetched its history", interval=0.2)
        zm = self.zmetrics(n, "hcp_node_sync")
        say("restored node %r", zm)
        self.assertGreaterEqual(zm["frames_received_total"], 1)
        self.assertLess(zm["received_wire_bytes_total"], zm["received_raw_bytes_total"])
        self.assertEqual(n.head(), head)
        # its chain verifies as the original's did
        code = n.stop()
        self.assertEqual(code, 0)
        self.procs.remove(n)
        p = subprocess.run([hcptest.binary(), "verify", "--data", n.data], capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("head=%d" % head, p.stdout)

    def test_5_hostile_frames(self):
        pid = self.gw.proc.pid
        hwm0 = vm_hwm_kib(pid)
        refused0 = self.zmetrics(self.gw, "hcp_gateway_replication")["refused_total"]
        for kind in ("bomb", "lie", "nosize", "two", "garbage"):
            code, out = self.client(HOSTILE, "zbomb", kind)
            self.assertEqual(code, 0, out)
            self.assertEqual(out.splitlines(), ["error malformed", "pong"], kind)
            self.assertTrue(self.gw.alive(), "gateway exited after %s" % kind)
        hwm1 = vm_hwm_kib(pid)
        say("gateway VmHWM %d -> %d KiB", hwm0, hwm1)
        # one bomb would be 64 MiB (8 MiB for nosize): the peak grew far less
        self.assertLess(hwm1 - hwm0, 24 * 1024)
        refused = self.zmetrics(self.gw, "hcp_gateway_replication")["refused_total"] - refused0
        self.assertEqual(refused, 5)
        self.assertTrue(any("repl.malformed" in ln for ln in self.gw.stderr().splitlines()))
        # a real county still replicates (test_2's node is still connected)
        n = [p for p in self.procs if isinstance(p, Node) and not isinstance(p, Gateway)
             and p.county == OLD_NODE][0]
        r = n.post("/v1/evaluations", evaluation(5, content="after the bombs"))
        self.assertEqual(r.status, 201, r)
        self.converge(n, self.gw, "replicated after the hostile frames")

    def test_6_insecure_link(self):
        os.mkdir(os.path.join(self.tmp, "plain"))
        gw = hcptest.start_plain_gateway(os.path.join(self.tmp, "plain"), self.procs)
        ndir = self.offline_log(NEW_NODE, "node-plain", {})
        n = Node(county=NEW_NODE, tmp=ndir,
                 args=["--sweep-interval", "86400", "--gateway", gw.url, "--insecure"])
        self.procs.append(n)
        n.start()
        self.converge(n, gw, "replicated over tcp://")
        zm = self.zmetrics(n, "hcp_node_sync")
        self.assertGreaterEqual(zm["frames_sent_total"], 1)
        self.assertEqual(self.zmetrics(gw, "hcp_gateway_replication")["frames_received_total"],
                         zm["frames_sent_total"])


if __name__ == "__main__":
    hcptest.main("hcp-gateway", "hcp-certs", "repl_client")
