"""test_divisions.py — a division list given at run time (--divisions FILE,
or the INI key `divisions`) replaces the compiled-in Qinghai list in both
daemons (docs/replication.md, "Proving the county"; README usage).

Usage: python3 test_divisions.py hcp-node hcp-gateway hcp-certs repl_client

One PKI with certificates for 100001 (a code only the test's list holds)
and 630102 (a Qinghai code the test's list does not hold); one gateway
started with `divisions = FILE` in its --config file, a list of 3,000
counties (more than half the 4,096 slots of the gateway's former fixed
table, which made it refuse to start).
  test_1  hcp-node refuses --county 630102 with --divisions FILE, and
          --county 100001 without it; a malformed list is refused by both
          daemons with its file:line.
  test_2  a node for 100001 started with --divisions FILE replicates: the
          gateway lists it ok, with the name from the file, lists the
          3,000 divisions of the file and no longer Qinghai's, and sized
          its table to 8,192 slots.
  test_3  a proven certificate for 630102 is refused at auth with
          not_a_county and takes no row.
Fails on the code before --divisions: neither daemon knows the option.
"""
import os
import subprocess
import sys
import tempfile
import time
import unittest

import hcptest
from hcptest import GW_NAME, Gateway, Node, evaluation, run_certs, wait_until

INSIDE, OUTSIDE = "100001", "630102"
# 3,000 counties: more than half of the 4,096 slots the gateway's table had
# before it was sized from the list (it then refused to start)
MANY = 3000
FILLER = ["%06d" % c for c in range(200001, 300000) if c % 100 != 0][:MANY - 2]
DIVISIONS = ("# a test list of invented codes\n"
             "code\tname\tprefecture_code\tprefecture_name\n"
             "100001\t测试县甲\t100000\t测试州\n"
             "100002\t测试县乙\t100000\t测试州\n" +
             "".join("%s\t测试县%s\t%s00\t测试州%s\n" % (c, c, c[:4], c[:4]) for c in FILLER))
# line 4 is wrong: its prefecture is not the county's first four digits + 00
BAD = ("code\tname\tprefecture_code\tprefecture_name\n"
       "100001\t测试县甲\t100000\t测试州\n\n"
       "100102\t测试县丙\t100000\t测试州\n")
T0 = time.monotonic()


say = hcptest.sayer("divisions", T0)


class Divisions(unittest.TestCase):
    tmp = pki = gw = None
    procs = []

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-divisions-")
        try:
            cls.table = cls.write("divisions.tsv", DIVISIONS)
            cls.bad = cls.write("bad.tsv", BAD)
            cls.pki = hcptest.make_pki(os.path.join(cls.tmp, "pki"), (OUTSIDE,))
            os.environ["HCP_DIVISIONS"] = cls.table  # hcp-certs' own override
            try:
                run_certs(hcptest.path("hcp-certs"), "node", "--dir", cls.pki, "--county", INSIDE)
            finally:
                del os.environ["HCP_DIVISIONS"]
            conf = cls.write("gateway.conf", "[gateway]\ndivisions = %s\n" % cls.table)
            gdir = os.path.join(cls.tmp, "gateway")
            os.mkdir(gdir)
            cls.gw = Gateway(hcptest.path("hcp-gateway"), tmp=gdir,
                             args=("--config", conf) + hcptest.gateway_tls_args(cls.pki))
            cls.procs.append(cls.gw)
            cls.gw.start()
        except BaseException:
            hcptest.dump(cls.procs, "set-up failed")
            hcptest.kill_all(cls.procs)
            raise

    @classmethod
    def write(cls, name, text):
        path = os.path.join(cls.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    @classmethod
    def p(cls, f):
        return os.path.join(cls.pki, f)

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, "HCP_DIVISIONS_KEEP")

    def setUp(self):
        sys.stderr.write("\n")

    def node_args(self, county):
        return (["--sweep-interval", "86400", "--gateway", self.gw.url] +
                hcptest.node_tls_args(self.pki, county))

    def test_1_settings_refused(self):
        data = os.path.join(self.tmp, "refused")
        cases = (
            (["--county", OUTSIDE, "--divisions", self.table], "--county " + OUTSIDE),
            (["--county", INSIDE], "--county " + INSIDE),
            (["--county", INSIDE, "--divisions", self.bad], self.bad + ":4: prefecture_code"),
            (["--county", INSIDE, "--divisions", self.table + ".missing"], "cannot open"),
        )
        for args, want in cases:
            code, _, err = hcptest.run(["--data", data] + args)
            say("hcp-node %s -> %d %s", " ".join(args), code, err.strip())
            self.assertEqual(code, 2, err)
            self.assertIn(want, err)
        r = subprocess.run([hcptest.path("hcp-gateway"), "--data", data, "--insecure", "--listen",
                            "tcp://127.0.0.1:1", "--divisions", self.bad],
                           capture_output=True, text=True, timeout=60)
        say("hcp-gateway --divisions bad.tsv -> %d %s", r.returncode, r.stderr.strip())
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(self.bad + ":4: prefecture_code", r.stderr)
        self.assertFalse(os.path.exists(data), "a refused start made the data directory")

    def test_2_county_in_file_replicates(self):
        ndir = os.path.join(self.tmp, "node-" + INSIDE)
        os.mkdir(ndir)
        node = Node(county=INSIDE, tmp=ndir,
                    args=self.node_args(INSIDE) + ["--divisions", self.table])
        self.procs.append(node)
        node.start()

        def posted():
            r = node.post("/v1/evaluations", evaluation(4, content="divisions test"))
            self.assertIn(r.status, (201, 503), r)  # 503: still restoring
            return r.status == 201, r
        wait_until(posted, 60.0, "node %s takes a write" % INSIDE, interval=0.2)

        def probe():
            self.assertTrue(self.gw.alive(), "gateway exited")
            s = node.get("/v1/sync").json()
            row = self.gw.counties().get(INSIDE) or {}
            ok = (s["connected"] is True and s["acked"] == s["log_head"] >= 1 and
                  row.get("applied") == s["log_head"] and row.get("state") == "ok")
            return ok, "node %r gateway %r" % (s, row)
        wait_until(probe, 60.0, "county %s replicated" % INSIDE, interval=0.2)
        rows = self.gw.counties()
        self.assertEqual(rows[INSIDE]["name"], "测试县甲")
        self.assertEqual(len(rows), MANY)  # every division of the list, and only those
        self.assertEqual(sorted(rows)[:2], ["100001", "100002"])
        self.assertNotIn(OUTSIDE, rows)
        self.assertIn("divisions=%d slots=8192" % MANY, self.gw.stderr())

    def test_3_county_not_in_file_refused(self):
        cmd = [hcptest.path("repl_client"), self.gw.url, self.p("ca.crt"),
               self.p("nodes/%s.crt" % OUTSIDE),
               self.p("nodes/%s.key" % OUTSIDE), GW_NAME, "auth", OUTSIDE, "3"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        say("repl_client auth %s -> %d %r %s", OUTSIDE, r.returncode, r.stdout.strip(),
            r.stderr.strip()[-200:])
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "error not_a_county"))
        self.assertNotIn(OUTSIDE, self.gw.counties())


if __name__ == "__main__":
    hcptest.main("hcp-gateway", "hcp-certs", "repl_client")
