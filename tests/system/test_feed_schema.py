"""test_feed_schema.py — the public feed checked by third-party tools (issue #5):
GET /feed/requests.json against the JSON Schema docs/feed.schema.json (ajv,
strict mode, formats on) and GET /feed/atom.xml through a real feed parser
(feedparser), both driven by tests/feedcheck/check.js under Node.js.

Usage: python3 test_feed_schema.py PATH/TO/hcp-node PATH/TO/hcp-gateway

Set-up: npm is installed when missing (scripts/deps.sh node, as root); the
npm project tests/feedcheck (package.json, package-lock.json, .npmrc,
check.js) is copied to $HCP_FEEDCHECK_DIR (ctest: BUILD/tests/system/
feedcheck; else a directory under the system's temporary directory) and
`npm ci` installs it there; node_modules never goes into the source tree.
The install is skipped when that copy already has the same package files
installed. If npm cannot reach its registry (or is missing and cannot be
installed) the program exits 77 (ctest: skipped) and says why.

One gateway (plain tcp://, --insecure) and one county node (630102 城东区):
  test_1  cases at every stage (received, verifying, disputed, mistaken and
          malicious after a dispute, rectifying, feedback pending, awaiting
          revisit, closed after a revisit, closed unsubstantiated, reviews
          from low ratings, every channel and dimension, a back-dated one,
          personal data in the free text) show in the feed; the whole feed,
          the default page, a filtered page, second and third pages, a
          closed filter, a single case and two Atom documents all pass
          check.js, and its entry counts match the bytes fetched.
  test_2  check.js is not vacuous: an entry with an extra member, a wrong
          enum, an unmasked phone number, a time without offset, and a
          broken or non-Atom XML document are each rejected.
HCP_FEED_KEEP=1 keeps the temporary directory (the fetched feed files).
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hcptest  # noqa: E402
from hcptest import days_ago, tail, wait_until  # noqa: E402

ROOT = hcptest.ROOT
FEEDCHECK_SRC = os.path.join(ROOT, "tests", "feedcheck")
SCHEMA = os.path.join(ROOT, "docs", "feed.schema.json")
PROJECT_FILES = ("package.json", "package-lock.json", ".npmrc", "check.js")
COUNTY = "630102"
SEEN = 20.0  # seconds for the node's log to reach the gateway
CHANNELS = ("web", "dept_platform", "app", "wechat", "kiosk", "qrcode", "window_device",
            "paper", "hall", "phone", "12345", "visit", "letter")
DIMENSIONS = ("coverage", "materials", "guide", "convenience", "modes", "proficiency",
              "attitude", "rights")
# npm's words for a registry it could not reach
OFFLINE = re.compile(r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|"
                     r"EHOSTUNREACH|ERR_SOCKET_TIMEOUT|ESOCKETTIMEDOUT|E50[0-9]|network|"
                     r"getaddrinfo|proxy", re.I)


say = hcptest.sayer("feed-schema")


# ---- Node.js and the npm project ----

def ensure_npm():
    """(node, npm) paths; installs Debian's nodejs and npm when npm is
    missing (scripts/deps.sh node, as root); exits 77 when it cannot."""
    hcptest.ensure_installed(lambda: shutil.which("npm"), "npm", "nodejs and npm", "node", say,
                             timeout=600)
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        say("SKIPPED: npm is there but no node binary")
        sys.exit(hcptest.SKIP)
    return node, shutil.which("npm")


def project_dir():
    """Where the npm project is installed: never inside the source tree."""
    d = os.environ.get("HCP_FEEDCHECK_DIR") or os.path.join(
        tempfile.gettempdir(), "hcp-feedcheck-%d" % os.getuid())
    d = os.path.abspath(d)
    if d == FEEDCHECK_SRC or d.startswith(FEEDCHECK_SRC + os.sep):
        raise AssertionError("HCP_FEEDCHECK_DIR must not be tests/feedcheck itself: %s" % d)
    return d


def install_feedcheck(npm):
    """Copy tests/feedcheck to project_dir() and `npm ci` there (unless that
    copy is installed already); returns the path of the copied check.js.
    Exits 77 when the registry cannot be reached."""
    d = project_dir()
    os.makedirs(d, exist_ok=True)
    digest = hashlib.sha256()
    for name in PROJECT_FILES:
        src = os.path.join(FEEDCHECK_SRC, name)
        with open(src, "rb") as f:
            data = f.read()
        if name != "check.js":
            digest.update(name.encode() + b"\0" + data + b"\0")
        shutil.copyfile(src, os.path.join(d, name))
    stamp = os.path.join(d, "node_modules", ".hcp-installed")
    want = digest.hexdigest()
    try:
        with open(stamp) as f:
            if f.read().strip() == want:
                say("npm project already installed in %s", d)
                return os.path.join(d, "check.js")
    except OSError:
        pass
    env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false",
               npm_config_audit="false", npm_config_fetch_retries="1",
               npm_config_fetch_timeout="30000", npm_config_loglevel="warn")
    cmd = [npm, "ci", "--no-audit", "--no-fund", "--omit=dev"]
    say("%s (in %s)", " ".join(cmd), d)
    try:
        p = subprocess.run(cmd, cwd=d, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=200)
    except subprocess.TimeoutExpired:
        say("SKIPPED: npm ci did not finish in 200 s (registry unreachable?)")
        sys.exit(hcptest.SKIP)
    out = p.stdout + p.stderr
    if p.returncode != 0:
        if OFFLINE.search(out):
            say("SKIPPED: npm cannot reach its registry (%s):\n%s",
                env.get("npm_config_registry", "npm's configured registry"), tail(out))
            sys.exit(hcptest.SKIP)
        raise AssertionError("npm ci failed (exit %d):\n%s" % (p.returncode, tail(out)))
    with open(stamp, "w") as f:
        f.write(want + "\n")
    say("npm ci: %s", out.strip().splitlines()[-1] if out.strip() else "done")
    return os.path.join(d, "check.js")


class FeedSchema(unittest.TestCase):
    node_bin = None
    check_js = None
    procs = []
    tmp = None
    gw = None
    node = None
    expect = {}  # case id -> status_notes it must show

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-feedschema-")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            cls.node = hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=COUNTY,
                                                name="node")
            cls.post_cases()

    @classmethod
    def post_cases(cls):
        """Cases at every stage; cls.expect holds the status_notes of each."""
        n, e = cls.node, cls.expect
        verifier = {"type": "verify_start", "verifier": {"name": "核实人甲", "phone": "13800000001"}}

        def case(**kw):
            return n.new_case(**kw)["id"]

        e[case()] = "已受理，等待核实"
        e[n.evaluate(1, channel="window_device", dimensions=["attitude", "guide"])["case"]] = \
            "已受理，等待核实"
        cid = case(channel="phone")
        n.step(cid, verifier)
        e[cid] = "已受理，正在核实"
        cid = case()
        n.step(cid, {"type": "notify_staff"})
        n.step(cid, {"type": "dispute_file", "by": "S-0042", "reason": "并非本人"})
        e[cid] = "工作人员申请复核，正在复核"
        # filed an hour ago by another account: a review is not set aside by the
        # account that filed it, nor in the second it was filed (docs/rules.md)
        filer, t0 = n.add_user("filer1", "clerk"), days_ago(0, hours=1)
        cid = case(at=t0)
        n.step(cid, dict(verifier, at=t0))
        n.step(cid, {"type": "notify_staff", "at": t0})
        n.step(cid, {"type": "dispute_file", "by": "S-0042", "reason": "误评", "at": t0},
               token=filer)
        n.step(cid, {"type": "dispute_decide", "outcome": "mistaken"})
        e[cid] = "经复核为误评，不予采纳"
        cid = n.evaluate(2, at=t0)["case"]
        n.step(cid, {"type": "notify_staff", "at": t0})
        n.step(cid, {"type": "dispute_file", "by": "S-0042", "reason": "恶意", "at": t0},
               token=filer)
        n.step(cid, {"type": "dispute_decide", "outcome": "malicious"})
        e[cid] = "经复核为恶意差评，不予采纳"
        stages = ("rectifying", "feedback_pending", "awaiting_revisit", "closed")
        for stage in stages:
            cid = case(service_item={"code": "SI-7", "name": "不动产登记（咨询 0971-8123456，"
                                     "zhang.san@example.com）"},
                       unit={"code": "U-1", "name": "城东区政务服务中心 13912345678"})
            n.step(cid, verifier)
            n.step(cid, {"type": "verify_conclude", "outcome": "substantiated", "note": "属实"})
            n.step(cid, {"type": "rectify_assign", "mode": "deferred",
                         "unit": {"code": "U-9", "name": "城东区不动产登记中心"}})
            e[cid] = "经核实属实，正在整改"
            if stage == "rectifying":
                continue
            n.step(cid, {"type": "rectify_done",
                         "result": "已整改，联系电话13912345678，邮箱li.si@example.cn，"
                                   "身份证630102199001011234"})
            e[cid] = "整改完成，正在反馈整改结果"
            if stage == "feedback_pending":
                continue
            n.step(cid, {"type": "feedback", "via": "phone", "text": "已告知"})
            e[cid] = "已反馈整改结果，等待回访"
            if stage == "awaiting_revisit":
                continue
            n.step(cid, {"type": "revisit", "by": "回访员", "satisfied": True, "note": "满意"})
            n.step(cid, {"type": "close"})
            e[cid] = "已反馈整改结果，已回访"
        cid = case(complainant=None)
        n.step(cid, verifier)
        n.step(cid, {"type": "verify_conclude", "outcome": "unsubstantiated"})
        e[cid] = "经核实不属实，正在反馈核实结果"
        cid = case(complainant=None)
        n.step(cid, verifier)
        n.step(cid, {"type": "verify_conclude", "outcome": "unsubstantiated"})
        n.step(cid, {"type": "feedback", "via": "sms", "text": "不属实"})
        n.step(cid, {"type": "close"})
        e[cid] = "经核实不属实，已反馈核实结果"
        for i, ch in enumerate(CHANNELS):
            dims = [DIMENSIONS[i % len(DIMENSIONS)], DIMENSIONS[(i + 3) % len(DIMENSIONS)]]
            kw = {"kind": "review", "rating": 1 + i % 2} if i % 2 else {}
            e[case(channel=ch, dimensions=dims, **kw)] = "已受理，等待核实"
        e[case(at=days_ago(30))] = None  # back-dated: its notes depend on the sweep

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, "HCP_FEED_KEEP")

    # ---- helpers ----
    def fetch(self, path, name):
        """GET path without a token into tmp/name; returns the bytes."""
        r = self.gw.get(path, token=None)
        self.assertEqual(r.status, 200, (path, r))
        with open(os.path.join(self.tmp, name), "wb") as f:
            f.write(r.body)
        return r.body

    def check(self, *names, want_ok=True):
        """Run check.js on tmp files; returns ({file: entries}, stderr)."""
        cmd = [self.node_bin, self.check_js, "--schema", SCHEMA,
               "--base", "http://127.0.0.1:%d/feed/atom.xml" % self.gw.port]
        cmd += [os.path.join(self.tmp, n) for n in names]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=60)
        if want_ok:
            self.assertEqual(p.returncode, 0, "check.js failed:\n%s%s" % (p.stdout, p.stderr))
        else:
            self.assertEqual(p.returncode, 1, "check.js accepted %s:\n%s%s"
                             % (names, p.stdout, p.stderr))
        counts = {}
        for line in p.stdout.splitlines():
            m = re.match(r"^(json|atom) (.*) entries=(\d+)$", line)
            if m:
                counts[os.path.basename(m.group(2))] = int(m.group(3))
        return counts, p.stderr

    def feed_all(self):
        r = self.gw.get("/feed/requests.json?page_size=200", token=None)
        self.assertEqual(r.status, 200, r)
        return r.json()

    # ---- tests ----
    def test_1_feed_passes_schema_and_parser(self):
        cids = set(self.expect)

        def caught_up():
            got = {x["service_request_id"]: x for x in self.feed_all()}
            waiting = [c for c in cids if c not in got or (
                self.expect[c] is not None and got[c]["status_notes"] != self.expect[c])]
            return (not waiting, {c: got.get(c, {}).get("status_notes") for c in waiting})
        wait_until(caught_up, SEEN, "every case at its stage in the feed", interval=0.1)
        total = len(self.feed_all())
        self.assertGreaterEqual(total, len(cids))
        self.assertGreater(total, 20)
        bodies = {
            "all.json": self.fetch("/feed/requests.json?page_size=200", "all.json"),
            "default.json": self.fetch("/feed/requests.json", "default.json"),
            "filtered.json": self.fetch("/feed/requests.json?county=%s&status=open&page_size=5"
                                        % COUNTY, "filtered.json"),
            "page2.json": self.fetch("/feed/requests.json?page_size=10&page=2", "page2.json"),
            "page3.json": self.fetch("/feed/requests.json?page_size=10&page=3", "page3.json"),
            "closed.json": self.fetch("/feed/requests.json?status=closed", "closed.json"),
            "one.json": self.fetch("/feed/requests.json?service_request_id=" + sorted(cids)[0],
                                   "one.json"),
            "empty.json": self.fetch("/feed/requests.json?county=632221", "empty.json"),
            "atom.xml": self.fetch("/feed/atom.xml", "atom.xml"),
            "atom-county.xml": self.fetch("/feed/atom.xml?county=630100&status=closed",
                                          "atom-county.xml"),
        }
        counts, err = self.check(*bodies)
        self.assertEqual(set(counts), set(bodies), err)
        for name, body in bodies.items():
            if name.endswith(".json"):
                self.assertEqual(counts[name], len(json.loads(body)), name)
        # the pages say what the Python side sees
        every = json.loads(bodies["all.json"])
        closed = [x for x in every if x["status"] == "closed"]
        self.assertEqual(counts["all.json"], total)
        self.assertEqual(counts["default.json"], min(50, total))
        self.assertEqual(counts["filtered.json"], 5)
        self.assertEqual(counts["page2.json"], 10)
        self.assertEqual(json.loads(bodies["page2.json"]), every[10:20])
        self.assertEqual(counts["page3.json"], len(every[20:30]))
        self.assertEqual(counts["closed.json"], len(closed))
        self.assertGreaterEqual(len(closed), 4)  # mistaken, malicious, revisited, unsubstantiated
        self.assertEqual(counts["one.json"], 1)
        self.assertEqual(counts["empty.json"], 0)
        self.assertEqual(counts["atom.xml"], min(100, total))
        self.assertEqual(counts["atom-county.xml"], len(closed))
        # every enum value the cases were posted with made it through the schema
        self.assertEqual({x["channel"] for x in every}, set(CHANNELS))
        self.assertEqual({d for x in every for d in x["dimensions"]}, set(DIMENSIONS))
        self.assertEqual({x["kind"] for x in every}, {"complaint", "review"})
        self.assertEqual({x["outcome"] for x in every},
                         {None, "substantiated", "unsubstantiated", "mistaken", "malicious"})
        say("check.js: %s", ", ".join("%s=%d" % kv for kv in sorted(counts.items())))

    def test_2_checker_rejects_bad_input(self):
        every = self.feed_all()
        self.assertTrue(every)
        good = every[0]

        def bad_json(name, change):
            e = json.loads(json.dumps(good))
            change(e)
            with open(os.path.join(self.tmp, name), "w") as f:
                json.dump([e], f, ensure_ascii=False)
            _, err = self.check(name, want_ok=False)
            return err

        self.assertIn("additional", bad_json("extra.json", lambda e: e.update(complainant="x")))
        self.assertIn("allowed values", bad_json("enum.json", lambda e: e.update(status="pending")))
        bad_json("phone.json", lambda e: e.update(service_name="电话13912345678"))
        bad_json("email.json", lambda e: e.update(rectification_result="见 a.b@example.com"))
        self.assertIn("format", bad_json("time.json", lambda e: e.update(
            updated_datetime="2026-02-30T10:00:00+08:00")))
        bad_json("offset.json", lambda e: e.update(requested_datetime="2026-01-01T02:00:00Z"))
        bad_json("missing.json", lambda e: e.pop("deadline_met"))
        bad_json("dims.json", lambda e: e.update(dimensions=["attitude", "attitude"]))
        atom = self.gw.get("/feed/atom.xml", token=None).body.decode("utf-8")
        with open(os.path.join(self.tmp, "broken.xml"), "w") as f:
            f.write(atom.replace("</title>", "", 1))
        self.check("broken.xml", want_ok=False)
        with open(os.path.join(self.tmp, "rss.xml"), "w") as f:
            f.write('<?xml version="1.0"?><html><body>not a feed</body></html>')
        self.check("rss.xml", want_ok=False)


def prepare():
    """Node.js, npm and the installed checker, before any test runs."""
    FeedSchema.node_bin, npm_bin = ensure_npm()
    FeedSchema.check_js = install_feedcheck(npm_bin)


if __name__ == "__main__":
    hcptest.main("hcp-gateway", before=prepare)
