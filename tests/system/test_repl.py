"""test_repl.py — replication end to end: county nodes -> province gateway
over mutual TLS on loopback (docs/replication.md).

Usage: python3 test_repl.py PATH/TO/hcp-node PATH/TO/hcp-gateway PATH/TO/hcp-certs

One PKI (hcp-certs), one gateway and three county nodes are shared by the
tests, which run in order:
  test_1  three counties post evaluations, complaints and handling steps;
          the gateway applies every log to the node's head, rebuilds the same
          cases, lists them per county, and each node reports everything acked.
  test_2  a node that worked offline (200 evaluations) is restarted with the
          gateway configured and catches up completely.
  test_3  a node with another county's certificate is refused (for a county
          nobody else serves, and for one a legitimate node serves), while
          the legitimate counties keep replicating.
  test_4  a node restored from an old backup fetches back what the backup
          lacked before it takes writes, and goes on with no number or case
          id reused; a second copy of that backup, kept offline and given new
          events, is refused as forked when it connects.
  test_5  SIGHUP restarts a node, then the gateway, in place (same PID, same
          arguments: what either daemon does by itself when nng 1.5.2 wedges),
          while evaluations keep coming: nothing acknowledged is lost, the
          county converges again.
  test_6  the node checks the gateway: a wrong --tls-server-name, or a CA
          file of another CA, and it never connects (nothing of the county
          reaches the gateway); with the right ones the same node replicates.
Progress lines go to stderr; on failure the tail of every process's stderr.
HCP_REPL_KEEP=1 keeps the temporary directory (PKI, data, full logs).
"""
import os
import shutil
import signal
import sys
import tempfile
import time
import unittest

import hcptest
from hcptest import GW_NAME, Gateway, Node, dumps_on_failure, evaluation, run_certs, tail, \
    wait_until

COUNTIES = ("630102", "630103", "630104")  # 城东区, 城中区, 城西区 (data/divisions.tsv)
OFFLINE = "630105"           # 城北区: works offline first, then catches up
RESTORED = "630121"          # 大通县: restored from an old backup (test_4)
PICKY = "630123"             # 湟源县: dials a gateway it must not trust (test_6)
STRAY = "630106"             # 湟中区: no legitimate node; claimed with 630102's certificate
CONVERGE = 20.0              # seconds for a county to be fully applied and acked
T0 = time.monotonic()


say = hcptest.sayer("repl", T0)


class Replication(unittest.TestCase):
    procs = []   # every Gateway/Node started, for dumps and the final kill
    tmp = None
    pki = None
    gw = None
    nodes = {}   # county -> Node (the legitimate ones)
    case_ids = {}  # county -> [case id]

    # ---- set-up ----
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-repltest-")
        try:
            cls.make_pki()
            cls.start_gateway()
            for c in COUNTIES:
                cls.nodes[c] = cls.start_node(c, gateway=True)
        except BaseException:
            cls.dump("set-up failed")
            cls.kill_all()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def make_pki(cls):
        """hcp-certs: a CA, the gateway (DNS gw.test) and every county's pair."""
        cls.pki = hcptest.make_pki(os.path.join(cls.tmp, "pki"),
                                   COUNTIES + (OFFLINE, RESTORED, PICKY))
        for f in ("ca.crt", "crl.pem", "gateway.crt", "gateway.key", "nodes/630102.crt",
                  "nodes/630102.key"):
            assert os.path.exists(os.path.join(cls.pki, f)), f
        say("pki: CA, gateway %s, nodes %s in %s", GW_NAME, ", ".join(COUNTIES + (OFFLINE,)),
            cls.pki)

    @classmethod
    def start_gateway(cls):
        gdir = os.path.join(cls.tmp, "gateway")
        os.mkdir(gdir)
        cls.gw = Gateway(hcptest.path("hcp-gateway"), tmp=gdir,
                         args=hcptest.gateway_tls_args(cls.pki))
        cls.procs.append(cls.gw)
        cls.gw.start()
        say("gateway up: replication %s, http 127.0.0.1:%d", cls.gw.url, cls.gw.port)

    @classmethod
    def gateway_args(cls, cert_county):
        """The node flags that dial the gateway with cert_county's pair."""
        return ["--gateway", cls.gw.url] + hcptest.node_tls_args(cls.pki, cert_county)

    @classmethod
    def start_node(cls, county, gateway, cert_county=None, name=None, start=True):
        """A node for county in its own directory; with gateway, dialing it
        with cert_county's certificate (default: its own)."""
        ndir = os.path.join(cls.tmp, name or ("node-" + county))
        os.mkdir(ndir)
        args = ["--sweep-interval", "86400"]
        if gateway:
            args += cls.gateway_args(cert_county or county)
        n = Node(county=county, tmp=ndir, args=args)
        cls.procs.append(n)
        if start:
            n.start()
            if gateway:
                # a new store beside a gateway first fetches the county's
                # history (maybe none) and takes writes only after that
                wait_until(lambda: (n.get("/v1/sync").json().get("connected") is True,
                                    "node %s not yet connected" % county),
                           15.0, "node %s to reach the gateway" % county, interval=0.05)
            say("node %s up (http %d, %s)", county, n.port,
                "gateway %s" % cls.gw.url if gateway else "offline")
        return n

    # ---- tear-down ----
    @classmethod
    def kill_all(cls):
        for p in cls.procs:
            try:
                p.kill()
            except Exception as e:  # keep killing the others
                sys.stderr.write("kill: %r\n" % e)

    @classmethod
    def dump(cls, why):
        """The stderr tail of every process started."""
        sys.stderr.write("==== %s: stderr of every process ====\n" % why)
        for p in cls.procs:
            label = "gateway" if isinstance(p, Gateway) else "node %s (%s)" % (
                p.county, os.path.basename(p.tmp))
            state = "running" if p.alive() else "exit %r" % (p.proc.poll() if p.proc else None)
            sys.stderr.write("---- %s, %s ----\n%s\n" % (label, state, tail(p.stderr(), 2500)))
        sys.stderr.flush()

    @classmethod
    def tearDownClass(cls):
        bad = []
        try:
            # nodes first (they dial), then the gateway; each must exit 0 on SIGTERM
            for p in [q for q in cls.procs if not isinstance(q, Gateway)] + \
                    [q for q in cls.procs if isinstance(q, Gateway)]:
                if p.alive():
                    code = p.stop(signal.SIGTERM, timeout=10.0)
                    if code != 0:
                        bad.append("%s exit %r on SIGTERM" % (
                            "gateway" if isinstance(p, Gateway) else "node " + p.county, code))
            for p in cls.procs:  # a sanitizer build reports without always exiting non-zero
                mark = hcptest.sanitizer_problem(p.stderr())
                if mark:
                    bad.append("%s: stderr holds %r" % (
                        "gateway" if isinstance(p, Gateway) else "node " + p.county, mark))
            if bad:
                cls.dump("unclean stop")
        finally:
            cls.kill_all()
            if os.environ.get("HCP_REPL_KEEP"):
                say("kept %s (HCP_REPL_KEEP)", cls.tmp)
            else:
                shutil.rmtree(cls.tmp, ignore_errors=True)
        if bad:
            raise AssertionError("; ".join(bad))

    def setUp(self):
        sys.stderr.write("\n")  # progress lines below unittest's "test_… ..."

    # ---- helpers ----
    def sync(self, node):
        r = node.get("/v1/sync")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def wait_converged(self, node, deadline=CONVERGE):
        """Until the gateway shows node's county ok, lag 0, log_head ==
        applied == the node's head, and the node is connected with
        acked == head, lag 0. Returns (gateway row, node sync)."""
        def probe():
            self.assertTrue(self.gw.alive(), "hcp-gateway exited: %r" % self.gw.proc.poll())
            self.assertTrue(node.alive(), "node %s exited: %r" % (node.county, node.proc.poll()))
            s = self.sync(node)
            head = s["log_head"]
            row = self.gw.counties().get(node.county)
            gw_ok = (row is not None and row.get("state") == "ok" and row.get("lag") == 0
                     and row.get("log_head") == head and row.get("applied") == head)
            node_ok = s["connected"] is True and s["acked"] == head and s["lag"] == 0
            return (gw_ok and node_ok and head >= 1,
                    "node %s /v1/sync %r\ngateway /v1/counties row %r" % (node.county, s, row))
        wait_until(probe, deadline, "county %s fully replicated" % node.county, interval=0.2)
        s = self.sync(node)
        row = self.gw.counties()[node.county]
        self.assertEqual(s["gateway"], self.gw.url, s)
        self.assertIsNone(s["last_error"], s)
        self.assertIsInstance(row.get("head_hash"), str, row)
        self.assertTrue(row["head_hash"], row)
        self.assertIn("last_seen", row)
        return row, s

    def same_case(self, node, cid):
        """The gateway's case cid (admin) matches the node's."""
        rn = node.get("/v1/cases/" + cid)
        self.assertEqual(rn.status, 200, rn)
        rg = self.gw.get("/v1/cases/" + cid)
        self.assertEqual(rg.status, 200, (cid, rg))
        a, b = rn.json(), rg.json()
        for k in ("id", "county", "kind", "status", "outcome", "content", "rating", "channel",
                  "real_name", "received_at"):
            self.assertIn(k, b, (cid, "gateway case lacks", k, b))
            self.assertEqual(a[k], b[k], (cid, k, "node:", a[k], "gateway:", b[k]))
        if "deadlines" in b:
            self.assertEqual(a["deadlines"], b["deadlines"], cid)
        if "events" in b:
            self.assertEqual([(e["seq"], e["type"]) for e in a["events"]],
                             [(e["seq"], e["type"]) for e in b["events"]], cid)
        if b.get("complainant") is not None:
            self.assertEqual(a["complainant"], b["complainant"], cid)
        return b

    def listed(self, county, ids):
        """GET /v1/cases?county= at the gateway lists every id in ids, and only county's."""
        rows = self.gw.cases(county)
        got = {r["id"] for r in rows}
        missing = sorted(set(ids) - got)
        self.assertFalse(missing, "gateway list of %s lacks %s" % (county, missing))
        for r in rows:
            self.assertEqual(r.get("county", r["id"][:6]), county, r)
            self.assertTrue(r["id"].startswith(county + "-"), r)
        return rows

    def populate(self, node, tag):
        """Ratings 1..5 and three complaints at node, several handling steps;
        returns (case ids, {id: status the node reported})."""
        c = node.county
        ids = []
        for rating in (1, 2, 3, 4, 5):
            who = {"name": "评价人%s" % tag, "phone": "13700000001"} if rating == 1 else None
            j = node.evaluate(rating, complainant=who,
                              content="%s 县评价 %d 星：窗口办理情况" % (c, rating))
            if rating <= 2:
                self.assertTrue(j["case"], j)
                ids.append(j["case"])
            else:
                self.assertIsNone(j["case"], j)
        for i, who in enumerate(({"name": "投诉人%s" % tag, "phone": "13900000000"}, None,
                                 {"name": "投诉人%s乙" % tag, "phone": "13900000002"})):
            ids.append(node.new_case(complainant=who,
                                     content="%s 县投诉第%d件：材料反复提交" % (c, i + 1))["id"])
        review1, review2, comp_real, comp_anon, comp_dispute = ids
        verifier = {"verifier": {"name": "核实人", "phone": "13700000002"}}
        # a real-name substantiated review through every step to closed
        node.step(review1, dict(type="verify_start", **verifier))
        node.step(review1, {"type": "notify_staff"})
        node.step(review1, {"type": "verify_conclude", "outcome": "substantiated", "note": "属实"})
        node.step(review1, {"type": "rectify_assign", "unit": {"code": "U-9", "name": "某科室"},
                            "mode": "immediate"})
        node.step(review1, {"type": "rectify_done", "result": "已当场整改"})
        node.step(review1, {"type": "feedback", "via": "phone", "text": "已电话告知"})
        node.step(review1, {"type": "revisit", "by": "回访员", "satisfied": True, "note": "满意"})
        node.step(review1, {"type": "close"})
        # an anonymous unsubstantiated complaint, resolved
        node.step(comp_anon, dict(type="verify_start", **verifier))
        node.step(comp_anon, {"type": "verify_conclude", "outcome": "unsubstantiated"})
        node.step(comp_anon, {"type": "feedback", "via": "sms", "text": "经核实不属实"})
        # a real-name complaint left rectifying
        node.step(comp_real, dict(type="verify_start", **verifier))
        node.step(comp_real, {"type": "verify_conclude", "outcome": "substantiated"})
        node.step(comp_real, {"type": "rectify_assign", "unit": {"code": "U-3", "name": "审批科"},
                              "mode": "deferred"})
        # a disputed one, a verifying one; review2 stays received
        node.step(comp_dispute, {"type": "notify_staff"})
        node.step(comp_dispute, {"type": "dispute_file", "by": "S-0042", "reason": "并非本人"})
        node.step(review2, {"type": "notify_staff"})
        statuses = {cid: node.get("/v1/cases/" + cid).json()["status"] for cid in ids}
        self.assertEqual(statuses[review1], "closed")
        self.assertEqual(statuses[comp_anon], "resolved")
        self.assertEqual(statuses[comp_real], "rectifying")
        self.assertEqual(statuses[comp_dispute], "disputed")
        return ids, statuses

    # ---- the tests ----
    @dumps_on_failure
    def test_1_three_counties_replicate(self):
        r = self.gw.get("/v1/counties", token=None)
        self.assertEqual(r.status, 401, "GET /v1/counties without the admin token: %r" % r)
        for c in COUNTIES:
            ids, statuses = self.populate(self.nodes[c], c[-1])
            self.case_ids[c] = ids
            say("node %s: 5 evaluations, 3 complaints, %d cases (%s), head %d", c, len(ids),
                ", ".join(sorted(set(statuses.values()))), self.sync(self.nodes[c])["log_head"])
        for c in COUNTIES:
            row, s = self.wait_converged(self.nodes[c])
            say("county %s converged: gateway applied %d = node head, state %s, node acked %d",
                c, row["applied"], row["state"], s["acked"])
            # every event this node committed was timed until its acknowledgement
            m = self.nodes[c].metrics()
            lat = "hcp_node_sync_replication_seconds"
            self.assertEqual(m[lat + "_count"], s["log_head"], m)
            self.assertEqual(m[lat + '_bucket{le="+Inf"}'], s["log_head"], m)
            say("county %s: %d events replicated, mean %.2f ms from commit to acknowledgement",
                c, m[lat + "_count"], 1000 * m[lat + "_sum"] / m[lat + "_count"])
        for c in COUNTIES:
            for cid in self.case_ids[c]:
                b = self.same_case(self.nodes[c], cid)
                self.assertEqual(b["county"], c)
            rows = self.listed(c, self.case_ids[c])
            say("county %s: %d cases identical at the gateway; its list holds %d", c,
                len(self.case_ids[c]), len(rows))
        # the ids are per-county: nothing of 630102 listed under 630103
        self.assertFalse({r["id"] for r in self.gw.cases(COUNTIES[1])}
                         & set(self.case_ids[COUNTIES[0]]))

    @dumps_on_failure
    def test_2_offline_node_catches_up(self):
        n = self.start_node(OFFLINE, gateway=False)
        s = self.sync(n)
        self.assertIsNone(s["gateway"], s)
        self.assertFalse(s["connected"], s)
        cases = []
        for i in range(200):
            j = n.evaluate(1 + i % 5, content="%s 离线评价 %d" % (OFFLINE, i))
            if j["case"]:
                cases.append(j["case"])
        head = self.sync(n)["log_head"]
        self.assertGreaterEqual(head, 200)
        row = self.gw.counties().get(OFFLINE)
        self.assertTrue(row is None or (row.get("state") != "ok" and not row.get("applied")),
                        "the gateway knows the offline county already: %r" % row)
        say("node %s offline: 200 evaluations, %d cases, head %d; stopping", OFFLINE,
            len(cases), head)
        self.assertEqual(n.stop(signal.SIGTERM), 0, tail(n.stderr()))
        n.args += self.gateway_args(OFFLINE)
        n.start()
        self.assertEqual(self.sync(n)["log_head"], head)
        say("node %s restarted with --gateway %s", OFFLINE, self.gw.url)
        t = time.monotonic()
        row, s = self.wait_converged(n, deadline=30.0)
        self.assertEqual(row["applied"], head)
        say("county %s caught up in %.1fs: applied %d, acked %d, lag %d", OFFLINE,
            time.monotonic() - t, row["applied"], s["acked"], row["lag"])
        for cid in (cases[0], cases[len(cases) // 2], cases[-1]):
            self.same_case(n, cid)
        self.listed(OFFLINE, cases)
        # the others are unaffected by the catch-up
        for c in COUNTIES:
            self.wait_converged(self.nodes[c], deadline=5.0)

    @dumps_on_failure
    def test_3_wrong_certificate_refused(self):
        legit = self.nodes[COUNTIES[1]]
        legit_head = self.wait_converged(legit)[1]["log_head"]
        before = self.gw.counties()
        # (a) --county 630106 (no legitimate node) with 630102's certificate;
        # (b) --county 630103 (served by a legitimate node) with 630102's certificate
        stray = self.start_node(STRAY, gateway=True, cert_county=COUNTIES[0], start=False,
                                name="impostor-" + STRAY)
        twin = self.start_node(COUNTIES[1], gateway=True, cert_county=COUNTIES[0], start=False,
                               name="impostor-" + COUNTIES[1])
        impostors = []
        for imp in (stray, twin):
            imp.spawn()
            if imp.wait_healthy(15.0):
                with open(os.path.join(imp.data, "api.token")) as f:
                    imp.token = f.read().strip()
                # a new store waits for its history from the gateway, which
                # never comes to an impostor: its writes are refused (503)
                for i in range(3):
                    r = imp.post("/v1/evaluations", evaluation(
                        5 - i, content="冒名 %s 评价 %d" % (imp.county, i)))
                    self.assertIn(r.status, (201, 503), r)
                impostors.append(imp)
                say("impostor node --county %s with %s's certificate up, head %d", imp.county,
                    COUNTIES[0], self.sync(imp)["log_head"])
            else:
                # refusing to start with another county's certificate is a refusal too
                code = imp.proc.poll()
                self.assertIsNotNone(code, "impostor %s neither healthy nor exited" % imp.county)
                self.assertNotEqual(code, 0)
                say("impostor node --county %s refused to start (exit %r): %s", imp.county,
                    code, tail(imp.stderr(), 300).strip())

        seen = {}

        def probe():
            rows = self.gw.counties()
            # the stray county never becomes ok, nothing of it is applied
            srow = rows.get(STRAY)
            self.assertTrue(srow is None or (srow.get("state") != "ok" and not srow.get("applied")),
                            "gateway accepted %s from a node holding %s's certificate: %r"
                            % (STRAY, COUNTIES[0], srow))
            # the legitimate 630103 is neither forked nor overwritten, 630102 not hijacked
            lrow = rows[COUNTIES[1]]
            self.assertEqual(lrow.get("state"), "ok", lrow)
            self.assertEqual(lrow.get("applied"), legit_head, lrow)
            self.assertEqual(rows[COUNTIES[0]].get("state"), "ok", rows[COUNTIES[0]])
            self.assertEqual(rows[COUNTIES[0]].get("applied"),
                             before[COUNTIES[0]].get("applied"), rows[COUNTIES[0]])
            done = True
            for imp in impostors:
                s = self.sync(imp)
                self.assertEqual(s["acked"], 0, ("impostor", imp.county, s))
                seen[imp.county] = s
                done = done and s["last_error"] is not None
            return done, "impostors' /v1/sync %r\ngateway rows %r, %r" % (seen, srow, lrow)

        # watch for a few seconds at least, and until each impostor reports an error
        end = time.monotonic() + 4.0
        try:
            wait_until(probe, 15.0, "the impostors to report last_error", interval=0.25)
        except AssertionError as e:
            if "timed out" not in str(e):
                raise
            say("note: an impostor reported no last_error within 15 s: %s", e)
        while time.monotonic() < end:
            probe()
            time.sleep(0.25)
        for imp in impostors:
            s = self.sync(imp)
            self.assertTrue(s["connected"] is False or s["last_error"],
                            "impostor %s: %r" % (imp.county, s))
            self.assertEqual(s["acked"], 0, s)
            say("impostor %s refused: connected %s, last_error %r", imp.county, s["connected"],
                s["last_error"])
        rows = self.gw.counties()
        say("gateway rows after the impostors: %s=%r %s=%s", STRAY,
            rows.get(STRAY, {}).get("state"), COUNTIES[1], rows[COUNTIES[1]].get("state"))

        # the legitimate counties keep replicating
        for c in COUNTIES:
            node = self.nodes[c]
            j = node.evaluate(1, content="%s 县冒名之后的评价" % c)
            row, s = self.wait_converged(node)
            self.same_case(node, j["case"])
            say("county %s still replicating: head %d applied %d", c, s["log_head"],
                row["applied"])
        for imp in impostors:
            self.assertEqual(imp.stop(signal.SIGTERM), 0, tail(imp.stderr()))

    @dumps_on_failure
    def test_4_restore_from_backup(self):
        node_bin = hcptest.binary()
        n = self.start_node(RESTORED, gateway=True)
        for i in range(10):
            n.evaluate(1 + i % 5, content="%s 备份前 %d" % (RESTORED, i))
        self.wait_converged(n)
        backup = os.path.join(self.tmp, "restored.backup")
        out = hcptest.subprocess.run([node_bin, "backup", "--data", n.data, "--out", backup,
                                      "--quiet"], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        old_head = self.sync(n)["log_head"]
        later = [n.evaluate(1, content="%s 备份后 %d" % (RESTORED, i))["case"] for i in range(5)]
        row, s = self.wait_converged(n)
        head = s["log_head"]
        self.assertEqual(n.stop(signal.SIGTERM), 0, tail(n.stderr()))
        say("county %s: backup at head %d, then 5 more (head %d); the disk is lost", RESTORED,
            old_head, head)

        def restored_dir(name):
            d = os.path.join(self.tmp, name)
            os.mkdir(d, 0o700)
            shutil.copy(backup, os.path.join(d, "data.mdb"))
            shutil.copy(os.path.join(n.data, "api.token"), os.path.join(d, "api.token"))
            os.chmod(os.path.join(d, "api.token"), 0o600)
            os.mkdir(d + ".keys", 0o700)  # the seal key is kept apart from the data
            shutil.copy(n.data + ".keys/seal.key", d + ".keys/seal.key")
            os.chmod(d + ".keys/seal.key", 0o600)
            return d

        # (a) restored and connected: fetches back, then goes on
        r = Node(county=RESTORED, data=restored_dir("restored-a"),
                 args=["--sweep-interval", "86400"] + self.gateway_args(RESTORED))
        self.procs.append(r)
        r.start()
        wait_until(lambda: (self.sync(r)["log_head"] == head and
                            self.sync(r)["connected"], self.sync(r)), 20.0,
                   "the restored node to fetch its history back")
        j = r.evaluate(1, content="%s 恢复后" % RESTORED)
        self.assertGreater(j["evaluation"], 15, j)
        self.assertNotIn(j["case"], later, "a case id was handed out twice")
        row, s = self.wait_converged(r)
        self.assertEqual(row["applied"], head + 1)
        self.assertEqual(row["state"], "ok")
        for cid in later + [j["case"]]:
            self.same_case(r, cid)
        say("restored node fetched %d events back, went on with %s; gateway ok at %d",
            head - old_head, j["case"], row["applied"])
        self.assertEqual(r.stop(signal.SIGTERM), 0, tail(r.stderr()))

        # (b) another copy of the same backup, offline, takes writes: a fork
        f = Node(county=RESTORED, data=restored_dir("restored-b"), args=["--sweep-interval", "86400"])
        self.procs.append(f)
        f.start()
        for i in range(3):
            f.evaluate(2, content="%s 离线分叉 %d" % (RESTORED, i))
        self.assertEqual(f.stop(signal.SIGTERM), 0, tail(f.stderr()))
        f.args += self.gateway_args(RESTORED)
        f.start()

        def forked():
            rows = self.gw.counties()
            st = self.sync(f)
            return (rows[RESTORED]["state"] == "forked" and st["last_error"] is not None,
                    (rows[RESTORED], st))
        rowst = wait_until(forked, 20.0, "the gateway to mark %s forked" % RESTORED)
        self.assertEqual(rowst[0]["applied"], head + 1, rowst)  # nothing of the fork applied
        self.assertIn("forked", rowst[1]["last_error"])
        say("the offline copy's history was refused as forked: %r", rowst[1]["last_error"])
        for c in COUNTIES:  # the others keep replicating
            self.wait_converged(self.nodes[c], deadline=5.0)


    @dumps_on_failure
    def test_5_restart_in_place(self):
        c = COUNTIES[0]
        node = self.nodes[c]
        done = []
        for who in (node, self.gw):
            pid = who.proc.pid
            before = who.stderr().count("process.restart ")
            for i in range(5):
                done.append(node.evaluate(3, content="%s 重启前 %d" % (c, i))["evaluation"])
            who.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: (who.stderr().count("process.restart ") > before, None), 15.0,
                       "the restart to be logged")
            self.assertTrue(who.wait_healthy(20.0), tail(who.stderr()))
            self.assertEqual(who.proc.pid, pid, "a restart in place keeps the PID")
            self.assertIsNone(who.proc.poll())
            # /healthz answers a moment before the ready line is written
            wait_until(lambda: ("restarts=1" in who.stderr(), None), 10.0,
                       "the ready line after the restart")
            for i in range(5):
                done.append(node.evaluate(3, content="%s 重启后 %d" % (c, i))["evaluation"])
            row, s = self.wait_converged(node)
            say("%s restarted in place (pid %d): county %s converged at %d",
                "gateway" if who is self.gw else "node", pid, c, row["applied"])
        self.assertEqual(len(set(done)), 20, done)
        self.assertEqual(node.metrics()["hcp_node_evaluations_total"] >= 20, True)
        for other in COUNTIES[1:]:
            self.wait_converged(self.nodes[other], deadline=30.0)


    @dumps_on_failure
    def test_6_node_checks_the_gateway(self):
        other = os.path.join(self.tmp, "pki-other")
        run_certs(hcptest.path("hcp-certs"), "init", "--dir", other)
        good = self.gateway_args(PICKY)
        bad = {"a wrong server name": ("--tls-server-name", "not-" + GW_NAME, "hostname mismatch"),
               "another CA": ("--tls-ca", os.path.join(other, "ca.crt"),
                              "certificate verify failed")}
        n = self.start_node(PICKY, gateway=False, start=False, name="picky")
        for why, (flag, value, says) in bad.items():
            args = list(good)
            args[args.index(flag) + 1] = value
            n.args = ["--sweep-interval", "86400"] + args
            n.start()

            def refused():
                s = self.sync(n)
                return (s["last_error"] is not None and not s["connected"], s)
            s = wait_until(refused, 15.0, "the node to refuse the gateway (%s)" % why)
            time.sleep(1.0)
            s = self.sync(n)
            self.assertFalse(s["connected"], s)
            self.assertEqual(s["acked"], 0, s)
            self.assertIn(says, s["last_error"], s)  # the operator is told why
            row = self.gw.counties().get(PICKY)
            self.assertTrue(row is None or row.get("state") == "never_seen", row)
            say("with %s the node does not trust the gateway: %r", why, s["last_error"])
            self.assertEqual(n.stop(signal.SIGTERM), 0, tail(n.stderr()))
        n.args = ["--sweep-interval", "86400"] + good
        n.start()
        wait_until(lambda: (self.sync(n)["connected"] is True, self.sync(n)), 15.0,
                   "the node to reach the gateway with the right name and CA")
        n.evaluate(4, content="%s 信任网关之后" % PICKY)
        row, s = self.wait_converged(n)
        say("with the right name and CA: county %s ok at %d", PICKY, row["applied"])
        self.assertEqual(n.stop(signal.SIGTERM), 0, tail(n.stderr()))


if __name__ == "__main__":
    hcptest.main("hcp-gateway", "hcp-certs")
