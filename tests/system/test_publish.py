"""test_publish.py — `hcp-gateway publish` and nginx serving its files (issue #14,
docs/transparency.md "Publishing", docs/nginx-hcp-publish.conf).

Usage: python3 test_publish.py PATH/TO/hcp-node PATH/TO/hcp-gateway PATH/TO/hcp-verify

One gateway (plain tcp://, --insecure) and one county node; Debian's nginx
(scripts/deps.sh web) on loopback with the configuration of the docs (root and
listen replaced), run by the test: -p/-c in the temporary directory,
`daemon off`, its pid and logs there.
  test_1  usage: --help, a missing --out, a directory without a store.
  test_2  cases flow; publish beside the running gateway; through nginx the
          feed's first page, its numbered pages (both sizes), a county's pages,
          a case, the service list and the checkpoint are byte for byte what
          the gateway serves; tiles and the checkpoint carry their caching
          headers; a bad or unsupported query is 400; no temporary file is
          left; hcp-verify checkpoint, inclusion --case and feed pass against
          the nginx URL, checkpoint and inclusion against the directory.
  test_3  more cases, publish again: the full tiles of the first run are the
          same files (inode and mtime), a tile that became full replaced its
          partial tiles, hcp-verify consistency old -> new passes through
          nginx and over the directory; a third run with nothing new writes
          nothing.
HCP_PUBLISH_KEEP=1 keeps the temporary directory.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

import hcptest
from hcptest import wait_until

COUNTY = "630102"
SEEN = 15.0
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONF = os.path.join(ROOT, "docs", "nginx-hcp-publish.conf")
say = hcptest.sayer("publish")


def nginx_bin():
    """Debian's nginx, or None."""
    for p in ("/usr/sbin/nginx", shutil.which("nginx") or ""):
        if p and os.access(p, os.X_OK):
            return p
    return None


def nginx_conf(prefix, root, port):
    """A whole nginx.conf: the docs' server configuration inside a minimal
    http {} that keeps every file nginx writes under prefix."""
    with open(CONF, encoding="utf-8") as f:
        server = f.read()
    server = server.replace("listen 80;", "listen 127.0.0.1:%d;" % port)
    server = server.replace("root /srv/hcp/public;", "root %s;" % root)
    user = "user root;\n" if os.geteuid() == 0 else ""
    return ("%sdaemon off;\nworker_processes 1;\npid %s/nginx.pid;\n"
            "error_log %s/error.log warn;\nevents { worker_connections 256; }\n"
            "http {\n  access_log off;\n  client_body_temp_path %s/tmp-body;\n"
            "  proxy_temp_path %s/tmp-proxy;\n  fastcgi_temp_path %s/tmp-fcgi;\n"
            "  uwsgi_temp_path %s/tmp-uwsgi;\n  scgi_temp_path %s/tmp-scgi;\n"
            "  default_type application/octet-stream;\n%s\n}\n"
            % ((user, prefix, prefix) + (prefix,) * 5 + (server,)))


class NginxProc:
    """nginx in the foreground, stopped by stop_all like the daemons."""

    def __init__(self, prefix, root):
        self.prefix = prefix
        self.port = hcptest.free_port()
        os.makedirs(prefix, exist_ok=True)
        self.conf = os.path.join(prefix, "nginx.conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(nginx_conf(prefix, root, self.port))
        self.stderr_path = os.path.join(prefix, "stderr.log")
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [nginx_bin(), "-p", prefix, "-c", self.conf, "-e", os.path.join(prefix, "error.log")],
            stdout=self._stderr, stderr=self._stderr, stdin=subprocess.DEVNULL)
        wait_until(lambda: (hcptest.port_open(self.port)
                            and hcptest.listens(self.proc.pid, self.port), None),
                   10.0, "nginx to listen")

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=None, timeout=10.0):
        """Stop nginx (SIGTERM: a fast shutdown); its exit status, 0 when clean."""
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self._stderr.closed:
            self._stderr.close()
        return self.proc.returncode

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()
        if not self._stderr.closed:
            self._stderr.close()

    def stderr(self):
        text = ""
        for name in ("stderr.log", "error.log"):
            try:
                with open(os.path.join(self.prefix, name), encoding="utf-8", errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text


def get(url, headers=None):
    """(status, headers, body) of a GET; an HTTP error is an answer too."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Publish(hcptest.DumpOnFailure, unittest.TestCase):
    procs = []
    tmp = None
    gw = None
    node = None
    nginx = None
    out = None
    cases = []

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hcp-publishtest-")
        os.chmod(cls.tmp, 0o755)  # nginx's workers read the published files
        cls.out = os.path.join(cls.tmp, "public")
        with hcptest.cleanup_on_failure(cls.procs, cls.tmp):
            cls.gw = hcptest.start_plain_gateway(cls.tmp, cls.procs)
            cls.node = hcptest.start_plain_node(cls.gw, cls.tmp, cls.procs, county=COUNTY)

    @classmethod
    def tearDownClass(cls):
        hcptest.stop_all(cls.procs, cls.tmp, "HCP_PUBLISH_KEEP")

    # ---- helpers ----
    def publish(self, *extra, want=0):
        cmd = [hcptest.path("hcp-gateway"), "publish", "--data", self.gw.data] + list(extra)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        self.assertEqual(p.returncode, want, (cmd, p.stdout, p.stderr))
        return p.stdout + p.stderr

    def publish_out(self):
        out = self.publish("--out", self.out, "--quiet")
        m = re.search(r"of (\d+) entries .*: (\d+) files written \((\d+) bytes\), (\d+) unchanged",
                      out)
        self.assertIsNotNone(m, out)
        return {"size": int(m.group(1)), "written": int(m.group(2)),
                "unchanged": int(m.group(4))}

    def start_nginx(self):
        if Publish.nginx is None:
            Publish.nginx = NginxProc(os.path.join(self.tmp, "nginx"), self.out)
            self.procs.append(Publish.nginx)
        return "http://127.0.0.1:%d" % Publish.nginx.port

    def public(self, path):
        r = self.gw.get(path, token=None)
        self.assertEqual(r.status, 200, (path, r))
        return r.body

    def size(self):
        return int(self.public("/log/checkpoint").decode().split("\n")[1])

    def settle(self, at_least):
        """Wait until the gateway's checkpoint covers at_least entries and
        the tree stopped growing (the node sent everything)."""
        wait_until(lambda: (self.size() >= at_least, self.size()), SEEN,
                   "the checkpoint to cover %d entries" % at_least, interval=0.1)
        last = -1
        while self.size() != last:
            last = self.size()
            time.sleep(1.2)  # a checkpoint is signed every 500 ms while the tree grows

    def verify(self, base, *args, want=0):
        key = self.public("/log/key").decode().strip()
        cmd = [hcptest.path("hcp-verify"), args[0], "--key", key] + list(args[1:]) + [base]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, want, (cmd, p.stdout, p.stderr))
        return p.stdout + p.stderr

    def add_cases(self, n, steps):
        new = [self.node.new_case()["id"] for _ in range(n)]
        for cid in new[:steps]:
            self.node.step(cid, {"type": "verify_start",
                                 "verifier": {"name": "核实人", "phone": "1"}})
        self.cases.extend(new)
        return new

    def tile_stat(self, rel):
        st = os.stat(os.path.join(self.out, "log", rel))
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    # ---- tests ----
    def test_1_usage(self):
        p = subprocess.run([hcptest.path("hcp-gateway"), "publish", "--help"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p)
        self.assertIn("--out OUTDIR", p.stdout)
        self.publish(want=2)  # no --out
        empty = os.path.join(self.tmp, "no-store")
        os.mkdir(empty)
        p = subprocess.run([hcptest.path("hcp-gateway"), "publish", "--data", empty, "--out",
                            os.path.join(self.tmp, "x")], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1, p)
        self.assertIn("no gateway store", p.stderr)

    def test_2_publish_and_serve(self):
        # 230 cases (two pages of 200 for a walker), 40 steps: 270 leaves, a full tile
        self.add_cases(230, 40)
        self.settle(270)
        stats = self.publish_out()
        self.assertEqual(stats["size"], self.size())
        base = self.start_nginx()
        # the feed through nginx: the same bytes the gateway serves
        same = ["/feed/requests.json", "/feed/requests.json?page=2",
                "/feed/requests.json?page_size=200", "/feed/requests.json?page_size=200&page=2",
                "/feed/requests.json?page=2&page_size=200",
                "/feed/requests.json?county=%s&page_size=200" % COUNTY,
                "/feed/requests.json?county=630100&page_size=200&page=2",
                "/feed/requests.json?service_request_id=" + self.cases[5],
                "/feed/requests.json?service_request_id=630102-19990101-0001",
                "/feed/requests.json?page=9", "/feed/requests.json?county=632221",
                "/feed/services.json", "/log/checkpoint", "/log/key"]
        for path in same:
            status, headers, body = get(base + path)
            self.assertEqual(status, 200, (path, body[:200]))
            self.assertEqual(body, self.public(path), path)
            self.assertEqual(headers.get("Access-Control-Allow-Origin"), "*", path)
        status, headers, body = get(base + "/feed/requests.json")
        self.assertTrue(headers.get("Content-Type", "").startswith("application/json"), headers)
        self.assertIn("no-cache", headers.get("Cache-Control", ""))
        self.assertEqual(len(json.loads(body)), 50)
        self.assertEqual(len(json.loads(get(base + "/feed/requests.json?page_size=200&page=2")[2])),
                         30)
        services = json.loads(get(base + "/feed/services.json")[2])
        self.assertTrue(services and all("service_code" in s for s in services), services)
        status, headers, body = get(base + "/feed/atom.xml")
        self.assertEqual(status, 200)
        self.assertEqual(len(ET.fromstring(body).findall("{http://www.w3.org/2005/Atom}entry")),
                         100)
        status, headers, body = get(base + "/")
        self.assertEqual(status, 200)
        self.assertIn("text/html", headers.get("Content-Type", ""))
        self.assertEqual(body, self.public("/"))
        # every file of the page comes along, as the gateway serves it; the
        # console's stay at the gateway (they need its API and a session)
        for name in sorted(os.listdir(os.path.join(ROOT, "gateway", "www"))):
            status, _, body = get(base + "/" + name)
            if name.startswith("console"):
                self.assertEqual(status, 404, name)
                continue
            self.assertEqual((status, body), (200, self.public("/" + name)), name)
        # the log: tiles with their caching headers
        size = stats["size"]
        status, headers, body = get(base + "/log/tile/0/000")
        self.assertEqual((status, len(body)), (200, 256 * 32))
        self.assertEqual(body, self.public("/log/tile/0/000"))
        self.assertIn("immutable", headers.get("Cache-Control", ""))
        w = size % 256
        status, headers, body = get(base + "/log/tile/0/001.p/%d" % w)
        self.assertEqual((status, len(body)), (200, 32 * w))
        self.assertNotIn("immutable", headers.get("Cache-Control", ""))
        status, headers, body = get(base + "/log/tile/entries/001.p/%d" % w)
        self.assertEqual(body, self.public("/log/tile/entries/001.p/%d" % w))
        self.assertIn("no-cache", get(base + "/log/checkpoint")[1].get("Cache-Control", ""))
        # what the static copy cannot answer is said so
        for q in ("page=0", "page_size=20", "status=open", "county=63",
                  "service_request_id=%s,%s" % (self.cases[0], self.cases[1])):
            status, _, body = get(base + "/feed/requests.json?" + q)
            self.assertEqual(status, 400, (q, body))
            self.assertEqual(json.loads(body)["error"], "invalid_parameter")
        self.assertEqual(get(base + "/feed/no-such.json")[0], 404)  # only pages fall back to []
        # the public figures over all dates: the gateway's, but for the generation time
        status, headers, body = get(base + "/feed/stats.json")
        self.assertEqual(status, 200, body[:200])
        self.assertIn("no-cache", headers.get("Cache-Control", ""))
        static, live = json.loads(body), json.loads(self.public("/feed/stats.json"))
        for doc in (static, live):
            doc.pop("generated_datetime")
        self.assertEqual(static, live)
        self.assertEqual(static["total"]["cases"], 230)
        status, _, body = get(base + "/feed/stats.json?from=2026-01-01")
        self.assertEqual(status, 400, body)  # a date range needs the gateway
        left = [f for _, _, fs in os.walk(self.out) for f in fs if ".tmp-" in f]
        self.assertEqual(left, [])
        # hcp-verify against nginx
        self.assertIn("OK", self.verify(base, "checkpoint"))
        out = self.verify(base, "inclusion", "--case", self.cases[3])
        self.assertIn("2 entries of case %s" % self.cases[3], out)
        out = self.verify(base, "feed")
        self.assertIn("all 230 feed entries", out)
        # and against the published directory itself, as a mirror would hold it
        self.assertIn("OK", self.verify(self.out, "checkpoint"))
        out = self.verify(self.out, "inclusion", "--case", self.cases[3])
        self.assertIn("2 entries of case %s" % self.cases[3], out)
        with open(os.path.join(self.tmp, "old.checkpoint"), "wb") as f:
            f.write(get(base + "/log/checkpoint")[2])

    def test_3_incremental(self):
        base = self.start_nginx()
        before = {t: self.tile_stat(t) for t in ("tile/0/000", "tile/entries/000")}
        old_size = self.size()
        self.add_cases(260, 0)  # past 512 leaves: tile 0/001 becomes full
        self.settle(old_size + 260)
        stats = self.publish_out()
        self.assertGreater(stats["size"], 512)
        self.assertGreater(stats["unchanged"], 0)
        for t, st in before.items():
            self.assertEqual(self.tile_stat(t), st, "%s was written again" % t)
        self.assertEqual(self.tile_stat("tile/0/001")[2], 256 * 32)
        self.assertFalse(os.path.exists(os.path.join(self.out, "log", "tile", "0", "001.p")),
                         "the partial tiles of a full tile are pruned")
        self.assertEqual(get(base + "/log/checkpoint")[2], self.public("/log/checkpoint"))
        out = self.verify(base, "consistency", os.path.join(self.tmp, "old.checkpoint"))
        self.assertIn("extend", out)
        self.assertIn("all 490 feed entries", self.verify(base, "feed"))
        self.verify(self.out, "consistency", os.path.join(self.tmp, "old.checkpoint"))
        # the directory itself: every page of it (490 entries: three pages of 200)
        self.assertIn("all 490 feed entries", self.verify(self.out, "feed"))
        time.sleep(1.1)  # a later second: a file differing only in its time is not rewritten
        again = self.publish_out()
        self.assertEqual(again["written"], 0, again)


if __name__ == "__main__":
    def need_nginx():
        hcptest.ensure_installed(lambda: nginx_bin() is not None, "nginx", "nginx-light", "web",
                                 say)
    hcptest.main("hcp-gateway", "hcp-verify", before=need_nginx)
