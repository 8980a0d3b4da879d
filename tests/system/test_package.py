"""test_package.py — the Debian packages, installed and run as an operator
would (issue #16; docs/operations.md): ctest `package`, label package.

On this machine, as root (else exit 77, skipped):
  1. `make package` builds hcp-node, hcp-gateway and hcp-tools from the tree;
     `dpkg -i` installs them (apt-get install -f if a dependency is missing);
     the files are at their FHS paths, every command answers --version with
     the package's version, the man pages are there, `systemd-analyze
     verify` accepts the six units (when systemd-analyze exists), lintian
     finds no error in the .debs (when lintian is installed), the shipped
     alert rules pass `promtool check rules` (when promtool is installed).
  2. A CA, the gateway's and a county's certificates from the *installed*
     /usr/bin/hcp-certs (it finds /usr/share/hcp/divisions.tsv by itself: no
     HCP_DIVISIONS), into /etc/hcp/pki; the shipped /etc/hcp/*.conf given
     their settings; the CRL-refresh service installs the CRL.
  3. Both daemons started from their units' ExecStart lines, as the units'
     users (systemd is not PID 1 in CI containers): the node replicates to
     the gateway over mutual TLS; /healthz carries the version; both
     /metrics show the county replicated; the backup service keeps the
     newest HCP_BACKUP_KEEP backups.
  4. A second build with a higher version installed over the first: data
     kept (the county's log at the gateway and the node), the new version
     in /healthz, replication goes on.
  5. Purged: nothing left in /etc, /var/lib, /var/backups, /usr, the unit
     directories or systemd's enablement state; the system users are kept,
     locked (docs/operations.md, "Removing").
The machine is left as found: packages purged, users this test made
deleted, the certificates it put in /etc/hcp/pki removed. If an hcp package
is already installed the test does not touch it and skips. One run per
machine at a time: a second waits for the first (a lock in /run/lock).

argv: the source tree's root (make -C), then unittest's arguments.
"""
import fcntl
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest
import urllib.request

import hcptest
from hcptest import SKIP, evaluation, case_body, free_port, listens, sayer, tail, wait_until

SRC = hcptest.ROOT
WORK = os.path.abspath("package-work")     # in the ctest build tree
PKG_OUT = os.path.join(WORK, "debs")        # make package's output (kept: rebuilds are quick)
PACKAGES = ("hcp-node", "hcp-gateway", "hcp-tools")
USERS = ("hcp-node", "hcp-gateway")
COUNTY = "630102"
GW_NAME = "gw.hcp.test"
UNITS = ("hcp-node.service", "hcp-node-backup.service", "hcp-node-backup.timer",
         "hcp-gateway.service", "hcp-gateway-crl.service", "hcp-gateway-crl.timer")
UNIT_DIR = "/lib/systemd/system"
RULES = "/usr/share/hcp/prometheus/hcp-rules.yml"   # hcp-gateway: monitoring (deploy/)
DASHBOARD = "/usr/share/hcp/grafana/hcp.json"
PKI = "/etc/hcp/pki"
say = sayer("package", time.monotonic())


def sh(args, timeout=600, env=None, check=True, **kw):
    """Run a command; its CompletedProcess (text). check: fail with its output."""
    p = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout, env=env, **kw)
    if check and p.returncode != 0:
        raise AssertionError("%s: exit %d\n%s" % (" ".join(args), p.returncode,
                                                   tail(p.stdout + p.stderr)))
    return p


def installed(pkg):
    """Whether dpkg has pkg installed (or half-installed, config-files)."""
    p = sh(["dpkg-query", "-W", "-f=${Status}", pkg], check=False)
    return p.returncode == 0 and "not-installed" not in p.stdout and p.stdout.strip() != ""


def unit(name):
    """A unit file's [Service] keys as {key: [values]}."""
    out = {}
    with open(os.path.join(UNIT_DIR, name)) as f:
        for line in f:
            line = line.strip()
            if "=" in line and not line.startswith(("#", ";", "[")):
                k, v = line.split("=", 1)
                out.setdefault(k, []).append(v)
    return out


def env_file(path):
    """KEY=value lines of an EnvironmentFile."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                out[k] = v.strip('"')
    return out


def unit_command(name, extra_env=None):
    """(argv, env) that run unit `name`'s ExecStart as its User= with its
    EnvironmentFile=, as systemd would (setpriv drops to the user)."""
    u = unit(name)
    user = u["User"][0]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    for e in u.get("EnvironmentFile", []):
        e = e.lstrip("-")
        if os.path.exists(e):
            env.update(env_file(e))
    env.update(extra_env or {})
    argv = ["setpriv", "--reuid", user, "--regid", user, "--init-groups", "--"] + \
        u["ExecStart"][0].split()
    return argv, env


def http(port, path, token=None, body=None, method=None):
    """(status, JSON body) of a request to 127.0.0.1:port."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                                 method=method or ("POST" if data else "GET"))
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def set_conf(path, settings):
    """Give the shipped config file its settings: an existing `key = ...`
    line is replaced, the others are appended (as an operator edits it)."""
    with open(path) as f:
        lines = f.read().splitlines()
    left = dict(settings)
    for i, line in enumerate(lines):
        m = re.match(r"^\s*([a-z-]+)\s*=", line)
        if m and m.group(1) in left:
            lines[i] = "%s = %s" % (m.group(1), left.pop(m.group(1)))
    lines += ["%s = %s" % kv for kv in left.items()]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


class Daemon:
    """A daemon started from its unit's ExecStart, as its user."""

    def __init__(self, service, log):
        argv, env = unit_command(service)
        self.log = log
        self.out = open(log, "ab")
        # the unit's UMask=0077; systemd runs services from /
        self.proc = subprocess.Popen(argv, env=env, cwd="/", stdin=subprocess.DEVNULL,
                                     stdout=self.out, stderr=self.out,
                                     preexec_fn=lambda: os.umask(0o077))

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM, as systemctl stop does; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        return self.proc.returncode

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()


class PackageTest(unittest.TestCase):
    def setUp(self):
        self.daemons = []
        self.users_before = {u: self.user_exists(u) for u in USERS}
        os.makedirs(WORK, exist_ok=True)

    @staticmethod
    def user_exists(name):
        try:
            pwd.getpwnam(name)
            return True
        except KeyError:
            return False

    def tearDown(self):
        for d in self.daemons:
            d.stop()
        shutil.rmtree(PKI, ignore_errors=True)
        present = [p for p in PACKAGES if installed(p)]
        if present:
            sh(["dpkg", "--purge"] + present, check=False)
        for u in USERS:  # the machine as found: users this test made go
            if not self.users_before[u] and self.user_exists(u):
                sh(["userdel", u], check=False)
                sh(["groupdel", u], check=False)

    # ------------------------------------------------------------------ steps

    def build(self, version=None):
        """make package (HCP_PKG_VERSION=version when given); {package: .deb}."""
        env = dict(os.environ)
        env.pop("MAKEFLAGS", None)
        env.pop("MAKELEVEL", None)
        if version:
            env["HCP_PKG_VERSION"] = version
        t = time.monotonic()
        p = sh(["make", "-C", SRC, "--no-print-directory", "package", "PKG_OUT=" + PKG_OUT,
                "JOBS=2"], env=env, timeout=1200)
        debs = {}
        for line in p.stdout.splitlines():
            name = os.path.basename(line.strip())
            m = re.match(r"^(hcp-node|hcp-gateway|hcp-tools)_([^_]+)_[a-z0-9]+\.deb$", name)
            if m:
                debs[m.group(1)] = line.strip()
                self.version = m.group(2)
        self.assertEqual(sorted(debs), sorted(PACKAGES), p.stdout)
        say("make package: %s in %.0fs", self.version, time.monotonic() - t)
        return debs

    def install(self, debs):
        """dpkg -i the packages, keeping changed conffiles (an upgrade)."""
        args = ["dpkg", "-i", "--force-confold"] + [debs[p] for p in PACKAGES]
        p = sh(args, check=False, timeout=300)
        if p.returncode != 0:  # a missing dependency: apt resolves it
            say("dpkg -i: exit %d, apt-get install -f", p.returncode)
            env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
            sh(["apt-get", "install", "-f", "-y", "-qq", "-o", "Dpkg::Options::=--force-confold"],
               env=env, timeout=600)
        for pkg in PACKAGES:
            v = sh(["dpkg-query", "-W", "-f=${Version}", pkg]).stdout
            self.assertEqual(v, self.version, pkg)

    def check_files(self):
        for f in ("/usr/sbin/hcp-node", "/usr/sbin/hcp-gateway", "/usr/bin/hcp-certs",
                  "/usr/bin/hcp-gen", "/usr/bin/hcp-verify", "/usr/share/man/man1/hcp-verify.1.gz",
                  RULES, DASHBOARD,
                  "/usr/share/hcp/divisions.tsv", "/usr/share/hcp/calendar.tsv",
                  "/usr/lib/hcp/hcp-node-backup", "/usr/lib/hcp/hcp-gateway-crl-refresh",
                  "/etc/hcp/hcp-node.conf", "/etc/hcp/hcp-gateway.conf", "/etc/default/hcp-node",
                  "/etc/default/hcp-gateway", "/usr/share/man/man8/hcp-node.8.gz",
                  "/usr/share/man/man8/hcp-gateway.8.gz", "/usr/share/man/man1/hcp-certs.1.gz",
                  "/usr/share/man/man1/hcp-gen.1.gz", "/usr/share/doc/hcp-node/operations.md.gz"):
            self.assertTrue(os.path.exists(f), f)
        for u in UNITS:
            self.assertTrue(os.path.exists(os.path.join(UNIT_DIR, u)), u)
        for cmd in ("/usr/sbin/hcp-node", "/usr/sbin/hcp-gateway", "/usr/bin/hcp-certs",
                    "/usr/bin/hcp-gen", "/usr/bin/hcp-verify"):
            out = sh([cmd, "--version"]).stdout
            self.assertEqual(out.split("\n")[0], "%s %s" % (os.path.basename(cmd), self.version),
                             out)
        for u in USERS:
            pw = pwd.getpwnam(u)
            self.assertEqual(pw.pw_dir, "/var/lib/" + u)
            self.assertIn(pw.pw_shell, ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false"))
            self.assertEqual(pw.pw_uid < 1000, True, "a system user")
            st = os.stat("/var/lib/" + u)
            self.assertEqual((st.st_uid, st.st_mode & 0o777), (pw.pw_uid, 0o700), u)
        hardening = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes"}
        for s in ("hcp-node.service", "hcp-gateway.service"):
            u = unit(s)
            for k, v in hardening.items():
                self.assertEqual(u.get(k), [v], (s, k))
            self.assertIn("StateDirectory", u, s)
            self.assertGreaterEqual(int(u["LimitNOFILE"][0]), 4096, s)
        if shutil.which("systemd-analyze"):
            p = sh(["systemd-analyze", "verify"] + [os.path.join(UNIT_DIR, u) for u in UNITS],
                   check=False)
            # it may grumble about the host (no running manager); not about our units
            bad = [l for l in (p.stdout + p.stderr).splitlines() if "hcp-" in l]
            self.assertEqual((p.returncode, bad), (0, []), p.stdout + p.stderr)
            say("systemd-analyze verify: the six units are accepted")
        else:
            say("no systemd-analyze: the units' syntax was not checked")
        with open(DASHBOARD, encoding="utf-8") as f:
            self.assertTrue(json.load(f)["panels"], DASHBOARD)
        if shutil.which("promtool"):
            p = sh(["promtool", "check", "rules", RULES])
            say("promtool check rules: %s", p.stdout.strip().splitlines()[-1])
        else:
            say("no promtool: the shipped alert rules were not checked here (test_metrics does)")

    def lintian(self, debs):
        """lintian on the .debs: no error (E:); its warnings are printed."""
        if not shutil.which("lintian"):
            say("no lintian: the packages were not linted")
            return
        p = sh(["lintian", "--tag-display-limit", "0"] + [debs[k] for k in PACKAGES],
               check=False, timeout=600)
        lines = (p.stdout + p.stderr).splitlines()
        errors = [l for l in lines if l.startswith("E:")]
        warnings = [l for l in lines if l.startswith("W:")]
        self.assertEqual(errors, [], p.stdout + p.stderr)
        say("lintian: no error, %d warning(s)%s", len(warnings),
            "".join("\n  " + w for w in warnings))

    def make_pki(self):
        """CA, gateway and county certificates from the installed hcp-certs
        (no HCP_DIVISIONS: it must find /usr/share/hcp/divisions.tsv)."""
        ca = os.path.join(WORK, "ca")
        shutil.rmtree(ca, ignore_errors=True)
        env = {k: v for k, v in os.environ.items() if k != "HCP_DIVISIONS"}
        env["PATH"] = "/usr/bin:/bin"
        for args in (["init"], ["gateway", "--name", GW_NAME], ["node", "--county", COUNTY]):
            sh(["/usr/bin/hcp-certs", args[0], "--dir", ca] + args[1:], env=env, cwd="/")
        os.makedirs(PKI + "/nodes", exist_ok=True)
        gw = pwd.getpwnam("hcp-gateway")
        nd = pwd.getpwnam("hcp-node")
        for src, dst, gid, mode in (("ca.crt", "ca.crt", 0, 0o644),
                                    ("crl.pem", "crl.pem", gw.pw_gid, 0o640),
                                    ("gateway.crt", "gateway.crt", 0, 0o644),
                                    ("gateway.key", "gateway.key", gw.pw_gid, 0o640),
                                    ("nodes/%s.crt" % COUNTY, "nodes/%s.crt" % COUNTY, 0, 0o644),
                                    ("nodes/%s.key" % COUNTY, "nodes/%s.key" % COUNTY, nd.pw_gid,
                                     0o640)):
            d = os.path.join(PKI, dst)
            shutil.copyfile(os.path.join(ca, src), d)
            os.chown(d, 0, gid)
            os.chmod(d, mode)

    def configure(self):
        self.gw_http, self.gw_repl, self.node_http = free_port(), free_port(), free_port()
        set_conf("/etc/hcp/hcp-gateway.conf", {
            "listen": "tls+tcp://127.0.0.1:%d" % self.gw_repl,
            "listen-http": "127.0.0.1:%d" % self.gw_http,
            "tls-cert": PKI + "/gateway.crt", "tls-key": PKI + "/gateway.key",
            "tls-ca": PKI + "/ca.crt", "tls-crl": "/var/lib/hcp-gateway/crl.pem"})
        set_conf("/etc/hcp/hcp-node.conf", {
            "county": COUNTY, "listen-http": "127.0.0.1:%d" % self.node_http,
            "gateway": "tls+tcp://127.0.0.1:%d" % self.gw_repl, "tls-server-name": GW_NAME,
            "tls-cert": "%s/nodes/%s.crt" % (PKI, COUNTY),
            "tls-key": "%s/nodes/%s.key" % (PKI, COUNTY), "tls-ca": PKI + "/ca.crt"})

    def run_oneshot(self, service, extra_env=None):
        argv, env = unit_command(service, extra_env)
        p = sh(argv, env=env, cwd="/", check=False, timeout=120)
        self.assertEqual(p.returncode, 0, "%s: %s" % (service, p.stdout + p.stderr))
        return p.stdout + p.stderr

    def start(self, tag):
        gw = Daemon("hcp-gateway.service", os.path.join(WORK, "gateway-%s.log" % tag))
        self.daemons.append(gw)
        wait_until(lambda: (self.healthy(self.gw_http, gw), gw.text()), 30, "hcp-gateway ready")
        node = Daemon("hcp-node.service", os.path.join(WORK, "node-%s.log" % tag))
        self.daemons.append(node)
        wait_until(lambda: (self.healthy(self.node_http, node), node.text()), 30, "hcp-node ready")
        with open("/var/lib/hcp-node/data/api.token") as f:
            self.node_token = f.read().strip()
        with open("/var/lib/hcp-gateway/data/admin.token") as f:
            self.gw_token = f.read().strip()
        for port in (self.gw_http, self.node_http):
            status, j = http(port, "/healthz")
            self.assertEqual((status, j.get("version")), (200, self.version), j)
        for d, ready in ((gw, "gateway.ready"), (node, "node.ready")):
            self.assertRegex(d.text(), r"id=%s .*version=%s" % (ready, re.escape(self.version)))
        return gw, node

    @staticmethod
    def healthy(port, daemon):
        if not daemon.alive():
            raise AssertionError("exited %r:\n%s" % (daemon.proc.returncode, tail(daemon.text())))
        try:
            # and the daemon owns the port: a lost race for it would have
            # another test's server answer (hcptest.listens)
            return http(port, "/healthz")[0] == 200 and listens(daemon.proc.pid, port)
        except OSError:
            return False

    def stop(self, gw, node):
        for d in (node, gw):
            self.assertEqual(d.stop(), 0, tail(d.text()))
            self.daemons.remove(d)

    def write_and_converge(self, n):
        """n evaluations and a complaint at the node; until the gateway has
        applied the county's whole log over mTLS. The node's head."""
        for i in range(n):
            status, j = http(self.node_http, "/v1/evaluations", self.node_token,
                             evaluation(rating=1 + i % 5))
            self.assertEqual(status, 201, j)
        status, j = http(self.node_http, "/v1/cases", self.node_token, case_body())
        self.assertEqual(status, 201, j)

        def probe():
            _, s = http(self.node_http, "/v1/sync", self.node_token)
            _, c = http(self.gw_http, "/v1/counties", self.gw_token)
            rows = c["counties"] if isinstance(c, dict) else c
            row = {r["county"]: r for r in rows}.get(COUNTY, {})
            ok = (s.get("connected") is True and s.get("acked") == s.get("log_head")
                  and row.get("applied") == s.get("log_head") and row.get("state") == "ok")
            return ok, (s, row)
        s, row = wait_until(probe, 60, "county %s replicated over mTLS" % COUNTY, interval=0.2)
        say("replicated: node head %d, gateway applied %d, state %s", s["log_head"],
            row["applied"], row["state"])
        return s["log_head"]

    def check_metrics(self, head):
        """Both /metrics after replication: the county applied to head at
        the gateway, the node connected with nothing unacknowledged."""
        def scrape(port, token):
            req = urllib.request.Request("http://127.0.0.1:%d/metrics" % port)
            req.add_header("Authorization", "Bearer " + token)
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read().decode()
            return {k: float(v) for k, v in (l.rsplit(" ", 1) for l in text.splitlines()
                                             if l and not l.startswith("#"))}
        g = scrape(self.gw_http, self.gw_token)
        m = scrape(self.node_http, self.node_token)
        self.assertEqual(g['hcp_gateway_county_applied_events{county="%s"}' % COUNTY], head)
        self.assertEqual(g['hcp_gateway_county_state{county="%s",state="ok"}' % COUNTY], 1)
        self.assertEqual((m["hcp_node_sync_connected"], m["hcp_node_sync_lag_events"]), (1, 0))
        say("metrics: gateway applied %d for %s, node connected, lag 0", head, COUNTY)

    def check_backup(self):
        """The backup service as its timer starts it, with KEEP=2 and two
        older backups present: one new backup, the oldest one removed."""
        d = "/var/backups/hcp-node"
        nd = pwd.getpwnam("hcp-node")
        for stamp in ("20000101T000000Z", "20000102T000000Z"):
            f = os.path.join(d, "hcp-node-%s.mdb" % stamp)
            with open(f, "wb") as fh:
                fh.write(b"old")
            os.chown(f, nd.pw_uid, nd.pw_gid)
        out = self.run_oneshot("hcp-node-backup.service", {"HCP_BACKUP_KEEP": "2"})
        names = sorted(os.listdir(d))
        self.assertEqual(len(names), 2, (names, out))
        self.assertEqual(names[0], "hcp-node-20000102T000000Z.mdb", (names, out))
        new = os.path.join(d, names[1])
        st = os.stat(new)
        self.assertEqual((st.st_uid, st.st_mode & 0o777), (nd.pw_uid, 0o600))
        self.assertGreater(st.st_size, 4096)
        say("backup: %s (%d bytes), the oldest removed", names[1], st.st_size)

    def check_purged(self):
        left = []
        for p in ("/etc/hcp", "/etc/default/hcp-node", "/etc/default/hcp-gateway",
                  "/var/lib/hcp-node", "/var/lib/hcp-gateway", "/var/backups/hcp-node",
                  "/usr/share/hcp", "/usr/lib/hcp", "/usr/sbin/hcp-node", "/usr/sbin/hcp-gateway",
                  "/usr/bin/hcp-certs", "/usr/bin/hcp-gen", "/usr/bin/hcp-verify"):
            if os.path.lexists(p):
                left.append(p)
        for root in ("/usr/share/doc", "/usr/share/man/man1", "/usr/share/man/man8", UNIT_DIR,
                     "/etc/systemd/system", "/var/lib/systemd/deb-systemd-helper-enabled",
                     "/var/lib/systemd/deb-systemd-helper-masked"):
            for dirpath, _, files in os.walk(root):
                for f in files + [os.path.basename(dirpath)]:
                    if f.startswith("hcp-") or f.startswith("hcp_"):
                        left.append(os.path.join(dirpath, f))
        self.assertEqual(sorted(set(left)), [], "left behind by the purge")
        for pkg in PACKAGES:
            self.assertFalse(installed(pkg), pkg)
        for u in USERS:  # kept, locked: Debian's practice for system accounts
            self.assertTrue(self.user_exists(u), u)
            shadow = sh(["getent", "shadow", u]).stdout.strip().split(":")
            self.assertEqual(shadow[7], "1", "account %s expired (locked): %r" % (u, shadow))

    # ------------------------------------------------------------------- test

    def test_install_run_upgrade_purge(self):
        debs = self.build()
        self.lintian(debs)
        self.install(debs)
        self.check_files()
        say("installed %s; files, --version, units checked", self.version)

        self.make_pki()
        self.configure()
        out = self.run_oneshot("hcp-gateway-crl.service")
        self.assertTrue(os.path.exists("/var/lib/hcp-gateway/crl.pem"), out)
        say("CRL refresh: %s", out.strip().splitlines()[-1])

        gw, node = self.start("v1")
        head1 = self.write_and_converge(5)
        self.check_metrics(head1)
        self.check_backup()
        self.stop(gw, node)
        v1 = self.version

        debs = self.build(v1 + "+up1")
        self.install(debs)
        self.assertNotEqual(self.version, v1)
        self.assertTrue(os.path.exists("/var/lib/hcp-node/data/data.mdb"), "data kept")
        self.assertTrue(os.path.exists("/var/lib/hcp-node/data.keys/seal.key"), "key kept")
        gw, node = self.start("v2")
        _, s = http(self.node_http, "/v1/sync", self.node_token)
        self.assertEqual(s["log_head"], head1, "the node's log survived the upgrade")
        head2 = self.write_and_converge(2)
        self.assertEqual(head2, head1 + 3)
        say("upgraded to %s in place: head %d kept, now %d", self.version, head1, head2)
        self.stop(gw, node)

        shutil.rmtree(PKI)  # the operator's own files
        sh(["dpkg", "--purge"] + list(PACKAGES))
        self.check_purged()
        say("purged: nothing left; users %s kept, locked", ", ".join(USERS))


LOCK = "/run/lock/hcp-package-test.lock"  # one run per machine at a time
LOCK_WAIT = 900                            # seconds to wait for another run to end
_lock_fd = None


def take_lock():
    """Hold the machine-wide lock of this test until the process ends: two
    runs at once (two checkouts, two ctest -j) would install, configure and
    purge the same packages under each other. Waits up to LOCK_WAIT, then
    skips."""
    global _lock_fd
    os.makedirs(os.path.dirname(LOCK), exist_ok=True)
    _lock_fd = open(LOCK, "a")
    end = time.monotonic() + LOCK_WAIT
    said = False
    while True:
        try:
            fcntl.flock(_lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= end:
                say("SKIPPED: another run of this test held %s for %d s", LOCK, LOCK_WAIT)
                sys.exit(SKIP)
            if not said:
                say("another run of this test holds %s: waiting", LOCK)
                said = True
            time.sleep(2)


def before():
    if os.geteuid() != 0:
        say("SKIPPED: installs packages, needs root")
        sys.exit(SKIP)
    take_lock()
    present = [p for p in PACKAGES if installed(p)]
    if present:
        say("SKIPPED: %s already installed here; this test installs and purges them",
            " ".join(present))
        sys.exit(SKIP)
    for tool in ("dpkg", "setpriv", "make"):
        if not shutil.which(tool):
            say("SKIPPED: no %s", tool)
            sys.exit(SKIP)


if __name__ == "__main__":
    hcptest.main(node=False, before=before)
