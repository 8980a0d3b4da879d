"""test_metrics.py — GET /metrics of both daemons, the alert rules and the
Grafana dashboard (issue #16; docs/operations.md, "Metrics" and "Alerts").

Usage: python3 test_metrics.py PATH/TO/hcp-node PATH/TO/hcp-gateway PATH/TO/hcp-certs

promtool comes from Debian's `prometheus` package (scripts/deps.sh metrics,
installed here when missing and this is root; else the test is skipped).

One PKI, one gateway over mutual TLS, one county node:
  test_1  the node records evaluations and a complaint, refuses a directive
          of an unknown type, replicates; both
          /metrics pass `promtool check metrics` (HELP and TYPE on every
          metric, Prometheus' naming rules); the gateway's applied events
          of the county equal the node's log head and what was sent, lag 0,
          state ok, a last_seen of about now, batches counted; the node
          says connected 1, lag 0; the directive is counted as refused; feed
          requests are counted by route.
  test_2  a node presenting another county's certificate is refused, and
          the refusal is counted under its reason (county_mismatch); no
          token: 401 on both /metrics; at the gateway a supervisor account
          reads it, an auditor is refused (403).
  test_3  deploy/prometheus/hcp-rules.yml passes `promtool check rules`,
          and `promtool test rules` shows the main alerts fire on made-up
          series (county silent, forked, map near full, overdue rising)
          and stay quiet on healthy ones; every metric the rules name is
          one the daemons expose.
  test_4  deploy/grafana/hcp.json loads and passes a schema check: a
          title, templating, panels with a type, a grid position and (but
          rows) targets whose every expr names only metrics the daemons
          expose.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import hcptest
from hcptest import Gateway, Node, evaluation, case_body, tail, wait_until

COUNTY = "630102"   # 城东区: the legitimate node
STRAY = "630106"    # 湟中区: claimed with 630102's certificate (refused)
EVALS = 7
RULES = os.path.join(hcptest.ROOT, "deploy", "prometheus", "hcp-rules.yml")
DASHBOARD = os.path.join(hcptest.ROOT, "deploy", "grafana", "hcp.json")
METRIC = re.compile(r"\bhcp_[a-z0-9_]+")
say = hcptest.sayer("metrics", time.monotonic())


def parse(text):
    """Exposition text -> ({sample name with labels: value}, {family: type})."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
        elif line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            samples[k] = float(v)
    return samples, types


def family_names(types):
    """Every name a query may use: the families, a histogram's series too."""
    names = set(types)
    for name, kind in types.items():
        if kind == "histogram":
            names |= {name + "_bucket", name + "_sum", name + "_count"}
    return names


def promtool(*args, stdin=None):
    return subprocess.run(["promtool"] + list(args), input=stdin, capture_output=True,
                          text=True, timeout=120)


class Metrics(hcptest.DumpOnFailure, unittest.TestCase):
    tmp = None
    procs = []
    gw = None
    node = None
    exposed = set()  # metric names both daemons expose (filled by test_1)

    @classmethod
    def setUpClass(cls):
        hcptest.ensure_installed(lambda: shutil.which("promtool") is not None, "promtool",
                                 "prometheus", "metrics", say)
        cls.tmp = tempfile.mkdtemp(prefix="hcp-metricstest-")
        try:
            cls.pki = hcptest.make_pki(os.path.join(cls.tmp, "pki"), (COUNTY,))
            gdir = os.path.join(cls.tmp, "gateway")
            os.mkdir(gdir)
            cls.gw = Gateway(hcptest.path("hcp-gateway"), tmp=gdir,
                             args=hcptest.gateway_tls_args(cls.pki))
            cls.procs.append(cls.gw)
            cls.gw.start()
            cls.node = cls.start_node(COUNTY, COUNTY)
            hcptest.wait_connected(cls.node, "node %s to reach the gateway" % COUNTY)
        except BaseException:
            hcptest.dump(cls.procs, "set-up failed")
            hcptest.kill_all(cls.procs)
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, keep_env="HCP_METRICS_KEEP")

    @classmethod
    def start_node(cls, county, cert_county, name=None):
        ndir = os.path.join(cls.tmp, name or ("node-" + county))
        os.mkdir(ndir)
        n = Node(county=county, tmp=ndir,
                 args=["--sweep-interval", "86400", "--gateway", cls.gw.url]
                 + hcptest.node_tls_args(cls.pki, cert_county))
        cls.procs.append(n)
        n.start()
        return n

    def scrape(self, proc):
        """GET /metrics of proc: (text, samples, types), checked by promtool."""
        r = proc.get("/metrics")
        self.assertEqual(r.status, 200, r)
        ctype = {k.lower(): v for k, v in r.headers.items()}.get("content-type", "")
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), r.headers)
        text = r.text
        p = promtool("check", "metrics", stdin=text)
        self.assertEqual(p.returncode, 0, "promtool check metrics:\n%s%s\n--- exposition:\n%s"
                         % (p.stdout, p.stderr, tail(text)))
        samples, types = parse(text)
        # every sample belongs to a family with HELP and TYPE
        helps = set(re.findall(r"^# HELP (\S+) ", text, re.M))
        self.assertEqual(helps, set(types), "HELP and TYPE must go together")
        names = family_names(types)
        for k in samples:
            self.assertIn(k.split("{", 1)[0], names, k)
        return text, samples, types

    def test_1_replicate_and_check(self):
        n, gw = self.node, self.gw
        for i in range(EVALS):
            r = n.post("/v1/evaluations", evaluation(rating=1 + i % 5))
            self.assertEqual(r.status, 201, r)
        r = n.post("/v1/cases", case_body())
        self.assertEqual(r.status, 201, r)
        # a directive of a type the node does not know: delivered, answered
        # with a `directive` event that refuses it (docs/directives.md)
        r = gw.post("/v1/directives", {"type": "inspection", "county": COUNTY, "note": "抽查"})
        self.assertEqual(r.status, 201, r)
        wait_until(lambda: (gw.get("/v1/directives").json()["directives"][0]["counts"]["refused"]
                            == 1, "not yet answered"), 20, "the node to answer the directive")
        head = n.head()
        self.assertGreaterEqual(head, EVALS + 2)
        wait_until(lambda: (gw.counties()[COUNTY]["applied"] == head, "gateway not yet at head"),
                   20, "gateway to apply county %s" % COUNTY)
        wait_until(lambda: (n.get("/v1/sync").json()["lag"] == 0, "node lag not yet 0"),
                   20, "node to see every event acknowledged")
        for _ in range(3):
            self.assertEqual(gw.request("GET", "/feed/requests.json", token=None).status, 200)

        _, g, gtypes = self.scrape(gw)
        _, m, mtypes = self.scrape(n)
        type(self).exposed = family_names(gtypes) | family_names(mtypes)
        say("gateway exposes %d families, node %d", len(gtypes), len(mtypes))

        lbl = '{county="%s"}' % COUNTY
        self.assertEqual(g["hcp_gateway_county_applied_events" + lbl], head)
        self.assertEqual(m["hcp_node_log_head"], head)
        self.assertEqual(g["hcp_gateway_county_lag_events" + lbl], 0)
        self.assertEqual(g['hcp_gateway_county_state{county="%s",state="ok"}' % COUNTY], 1)
        self.assertEqual(g['hcp_gateway_county_state{county="%s",state="forked"}' % COUNTY], 0)
        seen = g["hcp_gateway_county_last_seen_timestamp_seconds" + lbl]
        self.assertLess(abs(seen - time.time()), 3600, "last seen is a Unix time of today")
        self.assertEqual(g['hcp_gateway_county_last_seen_timestamp_seconds{county="630103"}'], 0)
        self.assertEqual(g['hcp_gateway_counties{state="ok"}'], 1)
        self.assertGreaterEqual(g["hcp_gateway_batches_applied_total"], 1)
        self.assertGreaterEqual(g['hcp_gateway_http_requests_total{route="feed"}'], 3)
        for k, v in m.items():  # the node's cases by status, rebuilt at the gateway
            if k.startswith("hcp_node_cases{"):
                self.assertEqual(g[k.replace("hcp_node_", "hcp_gateway_")], v, k)
        self.assertGreaterEqual(g['hcp_gateway_cases{status="received"}'], 1)
        self.assertEqual(g["hcp_gateway_county_overdue_cases" + lbl], 0)
        self.assertEqual(g["hcp_gateway_directives"], 1)
        self.assertEqual([g['hcp_gateway_directive_deliveries{state="%s"}' % st]
                          for st in ("pending", "sent", "applied", "refused")], [0, 0, 0, 1])
        self.assertGreaterEqual(g['hcp_gateway_http_requests_total{route="directives"}'], 2)
        self.assertEqual(g["hcp_gateway_replication_connections"], 1)
        self.assertEqual(g["hcp_gateway_replication_pending_connections"], 0)
        self.assertGreater(g["hcp_gateway_replication_connections_max"], 0)
        self.assertGreaterEqual(g["hcp_gateway_http_connections"], 1)
        self.assertGreater(g["hcp_gateway_http_connections_max"], 0)
        self.assertGreater(g["hcp_gateway_map_used_bytes"], 0)
        self.assertLessEqual(g["hcp_gateway_map_used_bytes"], g["hcp_gateway_map_size_bytes"])
        self.assertLessEqual(g["hcp_gateway_map_size_bytes"], g["hcp_gateway_map_max_bytes"])
        self.assertIn("hcp_gateway_data_filesystem_avail_bytes", g)
        self.assertEqual(sum(v for k, v in g.items()
                             if k.startswith("hcp_gateway_replication_refusals_total")), 0)
        self.assertEqual(m["hcp_node_sync_connected"], 1)
        self.assertEqual(m["hcp_node_sync_lag_events"], 0)
        self.assertEqual(m["hcp_node_sync_acked_events"], head)
        self.assertGreaterEqual(m["hcp_node_sync_last_ack_age_seconds"], 0)
        self.assertEqual(m["hcp_node_evaluations_total"], EVALS)
        self.assertEqual(m["hcp_node_sync_replication_seconds_count"], head)
        self.assertEqual(mtypes["hcp_node_sync_replication_seconds"], "histogram")

    def test_2_refusals_and_auth(self):
        stray = self.start_node(STRAY, COUNTY, name="stray")
        key = 'hcp_gateway_replication_refusals_total{reason="county_mismatch"}'
        wait_until(lambda: (self.gw.metrics().get(key, 0) >= 1, "not yet refused"),
                   20, "the stray node's refusal to be counted")
        _, g, _ = self.scrape(self.gw)
        self.assertEqual(g['hcp_gateway_county_state{county="%s",state="ok"}' % STRAY], 0)
        self.assertEqual(g['hcp_gateway_county_applied_events{county="%s"}' % STRAY], 0)
        self.assertEqual(stray.metrics()["hcp_node_sync_connected"], 0)
        for proc in (self.gw, self.node):
            r = proc.request("GET", "/metrics", token=None)
            self.assertEqual(r.status, 401, r)
        # the gateway's /metrics: a supervisor's token, as /v1/counties; not an auditor's
        for role, want in (("supervisor", 200), ("auditor", 403)):
            p = subprocess.run([hcptest.path("hcp-gateway"), "user", "add", "--data", self.gw.data,
                                "--name", "prom-" + role, "--role", role],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            r = self.gw.get("/metrics", token=p.stdout.strip().splitlines()[-1])
            self.assertEqual(r.status, want, (role, r))
        stray.stop()

    def test_3_rules(self):
        p = promtool("check", "rules", RULES)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("SUCCESS", p.stdout)
        with open(RULES) as f:
            text = f.read()
        self.assert_known(text, "the alert rules")
        for alert in ("HcpCountySilent", "HcpCountyForked", "HcpCountyLagGrowing",
                      "HcpStoreNearFull", "HcpOverdueCasesRising", "HcpIntegrityFinding"):
            self.assertIn("alert: " + alert, text)
        self.rules_unit_test()

    def rules_unit_test(self):
        """promtool test rules: made-up series, the alerts expected of them.
        County A speaks until minute 10 then falls silent (its last-seen
        timestamp stops moving); county B keeps speaking; B is forked from
        minute 5; the map fills to 95 %; overdue cases of A rise by 4."""
        d = tempfile.mkdtemp(prefix="hcp-rulestest-", dir=self.tmp)
        a, b = 'county="630102"', 'county="630103"'
        last_a = " ".join(str(600 if m > 10 else m * 60) for m in range(0, 41))
        last_b = " ".join(str(m * 60) for m in range(0, 41))
        test = {
            "rule_files": [RULES],
            "evaluation_interval": "1m",
            "tests": [{
                "interval": "1m",
                "input_series": [
                    {"series": "hcp_gateway_county_last_seen_timestamp_seconds{%s}" % a,
                     "values": last_a},
                    {"series": "hcp_gateway_county_last_seen_timestamp_seconds{%s}" % b,
                     "values": last_b},
                    {"series": 'hcp_gateway_county_state{%s,state="forked"}' % b,
                     "values": "0 0 0 0 0 1x40"},
                    {"series": 'hcp_gateway_county_state{%s,state="forked"}' % a,
                     "values": "0x45"},
                    {"series": 'hcp_gateway_map_used_bytes{instance="gw"}',
                     "values": "95x40"},
                    {"series": 'hcp_gateway_map_max_bytes{instance="gw"}',
                     "values": "100x40"},
                    {"series": "hcp_gateway_county_overdue_cases{%s}" % a,
                     "values": "0+0x60 4x1500"},
                    {"series": "hcp_gateway_county_overdue_cases{%s}" % b,
                     "values": "2x1560"},
                ],
                "alert_rule_test": [
                    {"eval_time": "31m", "alertname": "HcpCountySilent",
                     "exp_alerts": [{"exp_labels": {"severity": "warning", "county": "630102"},
                                     "exp_annotations": {
                                         "summary": "County 630102 silent for more than 15 "
                                                    "minutes",
                                         "description": "The gateway has heard nothing from "
                                         "county 630102's node for 21m 0s: the node, its "
                                         "network or its certificate."}}]},
                    {"eval_time": "8m", "alertname": "HcpCountySilent", "exp_alerts": []},
                    {"eval_time": "4m", "alertname": "HcpCountyForked", "exp_alerts": []},
                    {"eval_time": "10m", "alertname": "HcpCountyForked",
                     "exp_alerts": [{"exp_labels": {"severity": "critical", "county": "630103",
                                                    "state": "forked"},
                                     "exp_annotations": {
                                         "summary": "County 630103 is forked",
                                         "description": "The node of county 630103 holds a "
                                         "history that contradicts the one the gateway "
                                         "applied; replication from it is refused."}}]},
                    {"eval_time": "20m", "alertname": "HcpStoreNearFull",
                     "exp_alerts": [{"exp_labels": {"severity": "warning", "instance": "gw"},
                                     "exp_annotations": {
                                         "summary": "gw: store or disk more than 90% full",
                                         "description": "gw's LMDB map or the filesystem of "
                                         "its data directory is more than 90% full."}}]},
                    {"eval_time": "25h", "alertname": "HcpOverdueCasesRising",
                     "exp_alerts": [{"exp_labels": {"severity": "warning", "county": "630102"},
                                     "exp_annotations": {
                                         "summary": "Overdue cases rising (630102)",
                                         "description": "4 more cases are past a deadline "
                                         "than a day ago."}}]},
                ],
            }],
        }
        # promtool reads YAML; JSON is YAML
        path = os.path.join(d, "hcp-rules.test.yml")
        with open(path, "w") as f:
            json.dump(test, f, indent=1)
        p = promtool("test", "rules", path)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_4_dashboard(self):
        with open(DASHBOARD, encoding="utf-8") as f:
            dash = json.load(f)
        self.assertIsInstance(dash, dict)
        for key, kind in (("title", str), ("uid", str), ("schemaVersion", int),
                          ("panels", list), ("templating", dict), ("time", dict)):
            self.assertIsInstance(dash.get(key), kind, key)
        self.assertIsInstance(dash["templating"].get("list"), list)
        exprs, ids = [], set()
        for p in dash["panels"]:
            self.assertIsInstance(p.get("id"), int, p)
            self.assertNotIn(p["id"], ids, "panel ids are unique")
            ids.add(p["id"])
            self.assertIsInstance(p.get("type"), str, p)
            self.assertIsInstance(p.get("title"), str, p)
            pos = p.get("gridPos")
            self.assertIsInstance(pos, dict, p["title"])
            for k in ("h", "w", "x", "y"):
                self.assertIsInstance(pos.get(k), int, (p["title"], k))
            self.assertLessEqual(pos["x"] + pos["w"], 24, p["title"])
            if p["type"] == "row":
                continue
            targets = p.get("targets")
            self.assertTrue(isinstance(targets, list) and targets, p["title"])
            for t in targets:
                self.assertIsInstance(t.get("expr"), str, p["title"])
                self.assertIsInstance(t.get("refId"), str, p["title"])
                exprs.append(t["expr"])
        self.assertGreaterEqual(len(exprs), 10)
        for t in dash["templating"]["list"]:
            q = t.get("query")
            if isinstance(q, dict):
                exprs.append(q.get("query", ""))
        self.assert_known("\n".join(exprs), "the dashboard")

    def assert_known(self, text, what):
        """Every hcp_* metric text names is one the daemons expose."""
        if not self.exposed:
            self.skipTest("test_1 did not collect the exposed metrics")
        named = set(METRIC.findall(text))
        self.assertTrue(named, what)
        unknown = sorted(named - self.exposed)
        self.assertEqual(unknown, [], "%s names metrics no daemon exposes" % what)


if __name__ == "__main__":
    hcptest.main("hcp-gateway", "hcp-certs")
