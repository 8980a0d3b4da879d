"""hcptest.py — the shared harness of the system tests (stdlib only).

The programs under test come from the command line (ctest passes
$<TARGET_FILE:hcp-node> first, then what a test also needs: hcp-gateway,
hcp-certs, repl_client, tools/hcp-gen) or from the environment (HCP_NODE,
HCP_GATEWAY, HCP_CERTS, HCP_REPL_CLIENT, HCP_GEN); main() takes them off argv
and runs the file's unittest classes, path() hands them out. Each Node or
Gateway runs the real binary on fresh loopback ports with its stderr
captured to a file; stop() always reaps it. The other pieces every test
file would otherwise write again: a keep-alive Client that follows
restarts, progress lines (sayer), a PKI from hcp-certs and the TLS flags
that use it, a plain-tcp federation (start_plain_gateway, start_plain_node),
set-up clean-up and stderr dumps on failure.
"""
import contextlib
import datetime
import functools
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BINARY = os.environ.get("HCP_NODE", "")
COUNTY = "630102"
CST = datetime.timezone(datetime.timedelta(hours=8))
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SKIP = 77  # the exit code ctest's SKIP_RETURN_CODE takes as "skipped"

# The other programs a test may run, by name -> path: main() sets them from
# the command line; the environment variable names them otherwise.
PATHS = {
    "hcp-gateway": os.environ.get("HCP_GATEWAY", ""),
    "hcp-certs": os.environ.get("HCP_CERTS", ""),
    "repl_client": os.environ.get("HCP_REPL_CLIENT", ""),
    "hcp-gen": os.environ.get("HCP_GEN", ""),
}


def binary():
    """The hcp-node binary under test."""
    if not BINARY or not os.access(BINARY, os.X_OK):
        raise RuntimeError("hcp-node binary not given (argv[1] or HCP_NODE): %r" % BINARY)
    return BINARY


def path(name):
    """The path of another program main() was given ("hcp-gateway",
    "hcp-certs", "repl_client", "hcp-gen"); "" when it was not."""
    return PATHS[name]


def take_paths(names):
    """Take the program paths off the front of argv (after argv[0]): one per
    name, in order, up to the first argument that starts with "-" (unittest's
    options follow them); "hcp-node" sets BINARY, the other names PATHS.
    Returns how many were taken."""
    global BINARY
    n = 0
    while n < len(names) and 1 < len(sys.argv) and not sys.argv[1].startswith("-"):
        p = os.path.abspath(sys.argv.pop(1))
        if names[n] == "hcp-node":
            BINARY = p
        else:
            PATHS[names[n]] = p
        n += 1
    return n


def main(*others, node=True, optional=(), before=None):
    """Run the calling test file's unittest classes (verbosity 2) and exit.

    argv: hcp-node (unless node is False), then one path per name in others
    (e.g. "hcp-gateway", "hcp-certs"), then unittest's own arguments. Paths
    not on the command line come from the environment (HCP_NODE, PATHS). A
    program missing or not executable ends the run with a usage line (exit
    1), unless its name is in optional (the tests that need it skip
    themselves). before(), when given, runs once the paths are known (e.g.
    to install a tool, or exit 77 when it cannot)."""
    names = (("hcp-node",) if node else ()) + tuple(others)
    take_paths(names)
    for name in names:
        p = BINARY if name == "hcp-node" else PATHS[name]
        if name not in optional and (not p or not os.access(p, os.X_OK)):
            sys.exit("usage: %s %s (%s not executable: %r)"
                     % (os.path.basename(sys.argv[0]), " ".join(names), name, p))
    if before is not None:
        before()
    unittest.main(verbosity=2)


def sayer(tag, since=None):
    """A say(fmt, *args) that writes one progress line "[tag] text" to
    stderr; with since (a time.monotonic() value) the line also shows the
    seconds since then: "[tag   12.3s] text"."""
    def say(fmt, *args):
        text = fmt % args if args else fmt
        if since is None:
            sys.stderr.write("[%s] %s\n" % (tag, text))
        else:
            sys.stderr.write("[%s %6.1fs] %s\n" % (tag, time.monotonic() - since, text))
        sys.stderr.flush()
    return say


def ensure_installed(have, name, packages, group, say, timeout=900):
    """Make sure a tool a test drives is there: have() says whether it is;
    when not, as root run `bash scripts/deps.sh group` (which installs the
    Debian packages named by packages), otherwise, or when that fails, say
    why and exit 77 (skipped)."""
    if have():
        return
    if os.geteuid() != 0:
        say("SKIPPED: %s is not installed and this is not root "
            "(run: sudo bash scripts/deps.sh %s)", name, group)
        sys.exit(SKIP)
    say("%s missing: bash scripts/deps.sh %s", name, group)
    p = subprocess.run(["bash", os.path.join(ROOT, "scripts", "deps.sh"), group],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0 or not have():
        say("SKIPPED: could not install %s (exit %d):\n%s", packages, p.returncode,
            tail(p.stdout + p.stderr))
        sys.exit(SKIP)


def free_port():
    """A loopback port that was free a moment ago (bind to port 0)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _listen_inodes(port):
    """The socket inodes listening on loopback port (IPv4), from
    /proc/net/tcp; None when that cannot be read."""
    want = "0100007F:%04X" % port
    try:
        with open("/proc/net/tcp") as f:
            rows = f.read().splitlines()[1:]
    except OSError:
        return None
    out = set()
    for row in rows:
        col = row.split()
        if len(col) > 9 and col[1] == want and col[3] == "0A":  # 0A: LISTEN
            out.add(col[9])
    return out


def listens(pid, port):
    """False when another process listens on port and pid does not: a test
    that lost the race for a port free_port() handed out would otherwise
    talk to another test's server (a foreign /healthz answers 200, then
    every request with this test's token 401). True when it cannot tell."""
    inodes = _listen_inodes(port)
    if not inodes:
        return True if inodes is None else False
    fd_dir = "/proc/%d/fd" % pid
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return True
    for fd in fds:
        try:
            link = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


def iso(dt):
    """RFC 3339 with +08:00 offset, whole seconds."""
    return dt.astimezone(CST).replace(microsecond=0).isoformat()


def now():
    return datetime.datetime.now(CST)


def days_ago(n, hours=0):
    """An RFC 3339 time n days (and hours) before now."""
    return iso(now() - datetime.timedelta(days=n, hours=hours))


def run(args, timeout=60, env=None):
    """Run hcp-node with args to completion; (exit code, stdout, stderr)."""
    p = subprocess.run([binary()] + list(args), capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


class Response:
    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:400])


class Node:
    """One hcp-node process on a fresh port."""

    def __init__(self, data=None, county=COUNTY, args=(), env=None, tmp=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="hcp-systest-")
        self.own_tmp = tmp is None
        self.data = data or os.path.join(self.tmp, "data")
        self.county = county
        self.args = list(args)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.proc = None
        self.port = None
        self.token = None
        self.stderr_path = None
        self._stderr = None
        self.starts = 0

    # ---- process ----
    def spawn(self, extra=()):
        """Start the process (no waiting); returns it."""
        self.port = free_port()
        self.starts += 1
        self.stderr_path = os.path.join(self.tmp, "stderr-%d-%d.log" % (self.port, self.starts))
        self._stderr = open(self.stderr_path, "wb")
        cmd = [binary(), "--data", self.data, "--county", self.county,
               "--listen-http", "127.0.0.1:%d" % self.port] + self.args + list(extra)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr, env=self.env)
        return self.proc

    def start(self, deadline=15.0, attempts=3):
        """Start and wait for /healthz; retries on a lost port race (at most
        attempts starts in all)."""
        for attempt in range(attempts):
            self.spawn()
            if self.wait_healthy(deadline):
                tok = os.path.join(self.data, "api.token")
                with open(tok) as f:
                    self.token = f.read().strip()
                return self
            code = self.proc.poll()
            err = self.stderr()
            self.kill()
            if code is None or "listen" not in err or attempt == attempts - 1:
                raise AssertionError("hcp-node did not become healthy (exit %r):\n%s" % (code, err))
        return self

    def wait_healthy(self, deadline):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            try:
                r = self.request("GET", "/healthz", token=None, timeout=2)
                if r.status == 200 and listens(self.proc.pid, self.port):
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signal the node and wait; returns its exit code (kills on timeout)."""
        if self.proc is None:
            return None
        code = self.proc.poll()
        if code is None:
            self.proc.send_signal(sig)
            try:
                code = self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                code = "timeout"
        self._close_stderr()
        return code

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_stderr()

    def _close_stderr(self):
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def stderr(self):
        """Everything the node (all its starts) wrote to stderr so far."""
        out = []
        for name in sorted(os.listdir(self.tmp)):
            if name.startswith("stderr-"):
                with open(os.path.join(self.tmp, name), "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
        return "".join(out)

    def cleanup(self):
        self.kill()
        if self.own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ---- HTTP ----
    def request(self, method, path, body=None, token="default", raw=None, headers=None,
                timeout=30):
        """One request on a new connection. body: JSON-encoded; raw: bytes."""
        h = {}
        if token == "default":
            token = self.token
        if token is not None:
            h["Authorization"] = "Bearer " + token
        data = raw
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if data is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            return Response(r.status, r.read(), dict(r.getheaders()))
        finally:
            c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def metrics(self):
        """/metrics as {name_with_labels: float}."""
        r = self.get("/metrics")
        assert r.status == 200, r
        out = {}
        for line in r.text.splitlines():
            if not line or line.startswith("#"):
                continue
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
        return out

    def head(self):
        return int(self.metrics()["hcp_node_log_head"])

    def post_record(self, path, body, token="default", deadline=60.0):
        """POST a new record as a client should: a 503 `restoring` (a node
        that has just reached its gateway and still fetches its history or
        a directive's body: "try again shortly") is tried again until
        deadline seconds have passed; any other answer is returned."""
        end = time.monotonic() + deadline
        while True:
            r = self.post(path, body, token=token)
            if r.status != 503 or time.monotonic() >= end:
                return r
            try:
                if r.json().get("error") != "restoring":
                    return r
            except ValueError:
                return r
            time.sleep(0.1)

    def evaluate(self, rating=4, **over):
        b = evaluation(rating, **over)
        r = self.post_record("/v1/evaluations", b)
        assert r.status == 201, r
        return r.json()

    def new_case(self, **over):
        b = case_body(**over)
        r = self.post_record("/v1/cases", b)
        assert r.status == 201, r
        return r.json()

    def step(self, cid, body, want=200, token="default"):
        r = self.post_record("/v1/cases/%s/events" % cid, body, token=token)
        assert r.status == want, (body, r)
        return r.json()

    def extend(self, cid, case, at, reason):
        """rectify_extend of case cid (its JSON `case`, at time `at`) to the
        first weekday from 7 days after its feedback deadline that the node
        takes as a working day; (the case's new JSON, that date). Other
        refusals than extension_not_working_day are AssertionErrors."""
        due = datetime.date.fromisoformat(case["deadlines"]["feedback_due"][:10])
        for k in range(7, 30):
            d = due + datetime.timedelta(days=k)
            if d.weekday() >= 5:
                continue
            r = self.post("/v1/cases/%s/events" % cid,
                          {"type": "rectify_extend", "reason": reason,
                           "new_due": d.isoformat(), "at": at})
            if r.status == 200:
                return r.json(), d
            assert r.status == 409, r
            assert r.json()["error"] == "extension_not_working_day", r
        raise AssertionError("no extension accepted")

    def add_user(self, name, role):
        """`hcp-node user add` beside the running node; the account's token.
        A dispute is decided by another account than the one that filed it,
        admin included (docs/rules.md), so tests file with such an account."""
        code, out, err = run(["user", "add", "--data", self.data, "--name", name,
                              "--role", role])
        assert code == 0, (code, out, err)
        return out.strip().splitlines()[-1]


def evaluation(rating=4, **over):
    """A valid POST /v1/evaluations body; keys in `over` replace defaults."""
    b = {
        "unit": {"code": "U-630102-01", "name": "城东区政务服务中心"},
        "window": "W07",
        "staff": {"id": "S-0042", "name": "窗口人员甲", "phone": "0971-0000000"},
        "service_item": {"code": "SI-001", "name": "营业执照办理"},
        "channel": "web",
        "rating": rating,
        "dimensions": ["attitude"],
        "complainant": None,
        "content": "system test content",
    }
    b.update(over)
    return b


def case_body(kind="complaint", **over):
    """A valid POST /v1/cases body (a real-name complaint by default)."""
    b = evaluation()
    del b["rating"]
    b["kind"] = kind
    b["complainant"] = {"name": "投诉人乙", "phone": "13900000000"}
    b.update(over)
    return b


class NodeTest(unittest.TestCase):
    """A TestCase with one node per class (started in setUpClass).

    The deadline sweep runs 1 s after start, then every --sweep-interval;
    it may write `overdue` events for back-dated cases. So that tests can
    compare the log head around refused requests, the default node sweeps
    once a day and setUpClass waits until its first sweep has passed."""
    node_args = ("--sweep-interval", "86400")
    node_env = None

    @classmethod
    def wait_first_sweep(cls, deadline=5.0):
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            m = cls.node.metrics()
            if "hcp_node_commits_total" not in m:
                time.sleep(1.2)  # no counter to watch: outwait the first run
                return
            if m["hcp_node_commits_total"] >= 1:
                return
            time.sleep(0.05)
        raise AssertionError("the first deadline sweep did not run within %.0fs" % deadline)

    @classmethod
    def setUpClass(cls):
        cls.node = Node(args=cls.node_args, env=cls.node_env)
        try:
            cls.node.start()
            if "86400" in cls.node_args:
                cls.wait_first_sweep()
        except BaseException:
            sys.stderr.write(cls.node.stderr())
            cls.node.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            code = cls.node.stop()
            if code != 0:
                sys.stderr.write("node exit %r; stderr:\n%s" % (code, cls.node.stderr()[-4000:]))
        finally:
            cls.node.cleanup()


# ---- replication tests: hcp-gateway, hcp-certs, waiting ----

def tail(text, limit=3000):
    """The last `limit` characters of text, marked when cut."""
    if len(text) <= limit:
        return text
    return "[... %d characters cut ...]\n%s" % (len(text) - limit, text[-limit:])


def run_certs(script, *args):
    """Run hcp-certs with args; raises with its output unless it exits 0."""
    p = subprocess.run([script] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0:
        raise AssertionError("hcp-certs %s: exit %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


def wait_until(probe, deadline, what, interval=0.1):
    """Call probe() until it returns (True, value) or deadline seconds pass.

    probe returns (done, detail); on timeout the last detail is in the
    AssertionError, so a failure says what was seen last."""
    end = time.monotonic() + deadline
    detail = None
    while True:
        done, detail = probe()
        if done:
            return detail
        if time.monotonic() >= end:
            raise AssertionError("timed out after %.0fs waiting for %s; last seen:\n%s"
                                 % (deadline, what, detail))
        time.sleep(interval)


def port_open(port, timeout=0.5):
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class Gateway(Node):
    """One hcp-gateway process: the replication listener on a fresh
    loopback port (--listen SCHEME://127.0.0.1:PORT) and the HTTP server on
    another. The HTTP helpers, stop/kill and stderr() are Node's; the token
    is the admin token (DATA/admin.token)."""

    def __init__(self, gw_binary, args=(), env=None, tmp=None, scheme="tls+tcp"):
        super().__init__(county="630000", args=args, env=env, tmp=tmp)
        self.gw_binary = gw_binary
        self.scheme = scheme
        self.repl_port = None

    def add_user(self, name, role):
        """`hcp-gateway user add` beside the running gateway; the token."""
        p = subprocess.run([self.gw_binary, "user", "add", "--data", self.data, "--name", name,
                            "--role", role], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
        return p.stdout.strip().splitlines()[-1]

    @property
    def url(self):
        """The URL nodes give as --gateway."""
        return "%s://127.0.0.1:%d" % (self.scheme, self.repl_port)

    def spawn(self, extra=(), same_ports=False):
        """Start the process (no waiting); returns it. On two fresh ports,
        or with same_ports on the ports of the previous start (a restart the
        nodes find again at the URL they were given)."""
        if not (same_ports and self.port and self.repl_port):
            self.port = free_port()
            self.repl_port = free_port()
            while self.repl_port == self.port:
                self.repl_port = free_port()
        self.starts += 1
        self.stderr_path = os.path.join(self.tmp, "stderr-%d-%d.log" % (self.port, self.starts))
        self._stderr = open(self.stderr_path, "wb")
        cmd = [self.gw_binary, "--data", self.data, "--listen", self.url,
               "--listen-http", "127.0.0.1:%d" % self.port] + self.args + list(extra)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self._stderr, env=self.env)
        return self.proc

    def wait_healthy(self, deadline):
        """Ready: admin.token written, GET /v1/counties answers 200 and the
        replication port accepts connections."""
        end = time.monotonic() + deadline
        tok = os.path.join(self.data, "admin.token")
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            try:
                if os.path.exists(tok):
                    with open(tok) as f:
                        self.token = f.read().strip()
                    if self.token and self.get("/v1/counties", timeout=2).status == 200 \
                            and port_open(self.repl_port) \
                            and listens(self.proc.pid, self.repl_port):
                        return True
            except OSError:
                pass
            time.sleep(0.05)
        return False

    def start(self, deadline=15.0):
        """Start and wait until ready; retries on a lost port race."""
        for attempt in range(3):
            self.spawn()
            if self.wait_healthy(deadline):
                return self
            code = self.proc.poll()
            err = self.stderr()
            self.kill()
            if code is None or "listen" not in err or attempt == 2:
                raise AssertionError("hcp-gateway did not become ready (exit %r):\n%s"
                                     % (code, tail(err)))
        return self

    def restart_same_ports(self, deadline=15.0):
        """Start again on the ports of the previous start (after a stop or
        a kill) and wait until ready; retries briefly while a port is still
        held by the process that just died."""
        end = time.monotonic() + deadline
        while True:
            self.spawn(same_ports=True)
            if self.wait_healthy(max(0.5, end - time.monotonic())):
                return self
            code = self.proc.poll()
            self.kill()
            if code is None or time.monotonic() >= end:
                raise AssertionError("hcp-gateway did not come back on ports %d/%d (exit %r):\n%s"
                                     % (self.port, self.repl_port, code, tail(self.stderr())))
            time.sleep(0.1)

    def counties(self):
        """GET /v1/counties as {county: row} ({"counties": [...]} or a bare array)."""
        r = self.get("/v1/counties")
        assert r.status == 200, r
        j = r.json()
        rows = j["counties"] if isinstance(j, dict) else j
        return {row["county"]: row for row in rows}

    def cases(self, county):
        """Every case GET /v1/cases?county= lists, following "next" pages."""
        return list_cases(self, county)


def list_cases(proc, county, limit=None, pages=1000):
    """Every case proc (a Node or Gateway) lists for county, in order,
    following the "next" pages (limit per page when given); an
    AssertionError for a refused page or more than `pages` pages."""
    out = []
    after = None
    for _ in range(pages):
        q = "/v1/cases?county=%s" % county
        if limit:
            q += "&limit=%d" % limit
        if after:
            q += "&after=" + after
        r = proc.get(q)
        assert r.status == 200, (q, r)
        j = r.json()
        page = j["cases"] if isinstance(j, dict) else j
        out.extend(page)
        after = j.get("next") if isinstance(j, dict) else None
        if not after or not page:
            return out
    raise AssertionError("GET /v1/cases?county=%s: more than %d pages" % (county, pages))


# ---- the daemons of a test class (gateways and nodes) ----
def _label(p):
    return ("gateway " if isinstance(p, Gateway) else "node ") + str(getattr(p, "county", "?"))


def kill_all(procs):
    """SIGKILL every daemon still running (set-up failures, the end of a test class)."""
    for p in procs:
        if p is None:
            continue
        try:
            p.kill()
        except Exception as e:  # noqa: BLE001 - a kill that fails must not hide the others
            sys.stderr.write("kill %s: %r\n" % (_label(p), e))


SANITIZER_STARTS = ("WARNING: ThreadSanitizer", "ERROR: AddressSanitizer",
                    "ERROR: LeakSanitizer", "runtime error:")


def sanitizer_report(text, limit=100000):
    """A sanitizer's report in text, whole from its first line (at most
    limit characters), or "" when there is none: a tail would cut its stacks."""
    at = [i for i in (text.find(m) for m in SANITIZER_STARTS) if i >= 0]
    if not at:
        return ""
    start = text.rfind("\n", 0, min(at)) + 1
    return text[start:start + limit]


_LEAK_BLOCK = re.compile(r"^(Direct|Indirect) leak of .*?(?=^(?:Direct|Indirect) leak of |^SUMMARY: |\Z)",
                         re.M | re.S)


def nng_cycles_only(report):
    """Whether a LeakSanitizer report holds nothing but nng 1.5.2's own
    teardown leak: every leaked object indirect (a cycle that nothing
    outside points into), allocated inside libnng or inside the TLS
    libraries whose objects nng's connections hold (libssl, libcrypto),
    and at least one inside libnng. nng leaves such a cycle when the
    process ends while a TLS connection is still being set up or torn down
    on its threads (docs/testing.md, "Sanitizers"). Anything of ours shows
    as a direct leak (a message or buffer nobody holds), or is allocated
    by our own code, and still fails."""
    if "ERROR: LeakSanitizer" not in report or any(
            m in report for m in SANITIZER_STARTS if m != "ERROR: LeakSanitizer"):
        return False
    def made_in(block, libs):  # frame #0 is the sanitizer's allocator, #1 its caller
        frames = [ln for ln in block.splitlines() if ln.lstrip().startswith("#")]
        return len(frames) > 1 and any(lib in frames[1] for lib in libs)
    leaks = list(_LEAK_BLOCK.finditer(report))
    return (bool(leaks) and any(made_in(m.group(0), ("libnng.so",)) for m in leaks) and
            all(m.group(1) == "Indirect" and
                made_in(m.group(0), ("libnng.so", "libssl.so", "libcrypto.so"))
                for m in leaks))


def sanitizer_problem(err):
    """The sanitizer mark in a daemon's stderr that makes it a failure, or
    None: a report of nng's own teardown cycles alone (nng_cycles_only) is
    not one."""
    for mark in ("runtime error:", "Sanitizer"):
        if mark in err:
            if mark == "Sanitizer" and nng_cycles_only(sanitizer_report(err, limit=len(err))):
                sys.stderr.write("(ignored: LeakSanitizer found only nng's own teardown cycles)\n")
                continue
            return mark
    return None


def dump(procs, why, limit=2500):
    """Write each daemon's stderr tail to our stderr, under a heading saying
    why; a sanitizer's report in it is written whole first."""
    sys.stderr.write("==== %s ====\n" % why)
    for p in procs:
        if p is not None:
            err = p.stderr()
            report = sanitizer_report(err)
            if report:
                sys.stderr.write("---- %s: sanitizer report ----\n%s\n" % (_label(p), report))
            sys.stderr.write("---- %s ----\n%s\n" % (_label(p), tail(err, limit)))


def stop_all(procs, tmp, keep_env=None):
    """The end of a test class: SIGTERM the nodes, then the gateways; a daemon
    that does not exit 0, or whose stderr holds a sanitizer report, is a
    failure (AssertionError, after its log was dumped). Everything is killed
    and tmp removed in any case, unless the environment variable keep_env is
    set (then tmp is kept and named)."""
    procs = [p for p in procs if p is not None]
    bad = []
    try:
        order = [p for p in procs if not isinstance(p, Gateway)] + \
                [p for p in procs if isinstance(p, Gateway)]
        for p in order:
            if p.alive() and p.stop(signal.SIGTERM, timeout=10.0) != 0:
                bad.append("%s: unclean exit" % _label(p))
        for p in procs:
            mark = sanitizer_problem(p.stderr())
            if mark:
                bad.append("%s: stderr holds %r" % (_label(p), mark))
        if bad:
            dump(procs, "unclean stop")
    finally:
        kill_all(procs)
        if keep_env and os.environ.get(keep_env):
            sys.stderr.write("kept %s\n" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if bad:
        raise AssertionError("; ".join(bad))



@contextlib.contextmanager
def cleanup_on_failure(procs, tmp=None):
    """Around a test class's set-up: on any exception, dump every daemon's
    stderr ("set-up failed"), kill them all, remove tmp (when given) and
    re-raise, so that a failed set-up leaves no process behind."""
    try:
        yield
    except BaseException:
        dump(procs, "set-up failed")
        kill_all(procs)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
        raise


class DumpOnFailure:
    """A mixin for a unittest.TestCase whose class keeps its daemons in
    `procs`: when one of its tests fails, every daemon's stderr tail is
    written to stderr, where the failure is read."""

    def run(self, result=None):
        n = len(result.failures) + len(result.errors) if result else 0
        out = super().run(result)
        if result and len(result.failures) + len(result.errors) > n:
            dump(self.procs, "failure in " + self.id())
        return out


def dumps_on_failure(fn):
    """Decorate a test method: on any failure it first calls self.dump()
    (the test class's own stderr dump), then lets the failure through."""
    @functools.wraps(fn)
    def wrapper(self):
        try:
            fn(self)
        except BaseException:
            self.dump("failure in %s" % fn.__name__)
            raise
    return wrapper


# ---- a federation over plain tcp:// ----

FIRST_SWEEP_S = 1.0  # a node's first sweep runs this long after its start (node/writer.c)


def after_first_sweep(started, margin=1.0):
    """Sleep until a node started at time.monotonic() `started` has run its
    first sweep (which marks the cases already overdue and so changes
    them), so that a test that compares states sees them settled."""
    wait = started + FIRST_SWEEP_S + margin - time.monotonic()
    if wait > 0:
        time.sleep(wait)


def wait_connected(node, what, deadline=15.0):
    """Wait until node's GET /v1/sync says it reached its gateway: a new
    store beside a gateway takes writes only after first contact (it may
    have history there)."""
    wait_until(lambda: (node.get("/v1/sync").json().get("connected") is True, "not yet"),
               deadline, what, interval=0.05)


def start_plain_gateway(tmp, procs, args=()):
    """An hcp-gateway (path("hcp-gateway")) with its files in tmp/gateway,
    listening on plain tcp:// (--insecure, then args), added to procs and
    started; returns it."""
    gdir = os.path.join(tmp, "gateway")
    os.mkdir(gdir)
    gw = Gateway(path("hcp-gateway"), tmp=gdir, scheme="tcp", args=("--insecure",) + tuple(args))
    procs.append(gw)
    gw.start()
    return gw


def start_plain_node(gw, tmp, procs, county=COUNTY, name=None, deadline=15.0):
    """A county node in tmp/name (default node-COUNTY) that sweeps once a
    day and sends to gw over plain tcp:// (--insecure), added to procs,
    started, and returned once it has reached the gateway."""
    ndir = os.path.join(tmp, name or ("node-" + county))
    os.mkdir(ndir)
    n = Node(county=county, tmp=ndir,
             args=["--sweep-interval", "86400", "--gateway", gw.url, "--insecure"])
    procs.append(n)
    n.start()
    wait_connected(n, "node %s to reach the gateway" % (name or county), deadline)
    return n


# ---- a PKI from hcp-certs and the TLS flags that use it ----

GW_NAME = "gw.test"  # the gateway certificate's DNS name; nodes dial 127.0.0.1


def make_pki(pki, counties, gw_name=GW_NAME, certs=None):
    """hcp-certs (certs, default path("hcp-certs")): a CA in pki, the
    gateway's pair for gw_name and every county's pair; returns pki."""
    certs = certs or path("hcp-certs")
    run_certs(certs, "init", "--dir", pki)
    run_certs(certs, "gateway", "--dir", pki, "--name", gw_name)
    for c in counties:
        run_certs(certs, "node", "--dir", pki, "--county", c)
    return pki


def gateway_tls_args(pki):
    """The hcp-gateway flags of a mutual-TLS listener with pki's files."""
    return ("--tls-cert", os.path.join(pki, "gateway.crt"),
            "--tls-key", os.path.join(pki, "gateway.key"),
            "--tls-ca", os.path.join(pki, "ca.crt"),
            "--tls-crl", os.path.join(pki, "crl.pem"))


def node_tls_args(pki, county, gw_name=GW_NAME, ca_pki=None):
    """The hcp-node flags that dial a gateway named gw_name with county's
    pair from pki, trusting the CA of ca_pki (default: pki's own)."""
    return ["--tls-cert", os.path.join(pki, "nodes/%s.crt" % county),
            "--tls-key", os.path.join(pki, "nodes/%s.key" % county),
            "--tls-ca", os.path.join(ca_pki or pki, "ca.crt"), "--tls-server-name", gw_name]


# ---- an HTTP client that survives restarts ----

class Client:
    """One keep-alive connection to a Node's (or Gateway's) current port:
    it reconnects when the process was restarted on another port, and drops
    the connection on any error (the caller decides whether to retry)."""

    def __init__(self, node, timeout=10, decode=True):
        self.node = node
        self.timeout = timeout
        self.decode = decode
        self.conn = None
        self.port = None

    def request(self, method, path, body=None):
        """(status, body): the body parsed as JSON when decode and it is
        JSON, the raw bytes otherwise; raises OSError/HTTPException. A GET
        or HEAD on a kept connection the server has closed meanwhile (its
        idle timeout, 30 s, can pass during a slow step of a test) is sent
        once more on a new connection, as HTTP clients do for idempotent
        requests; anything else is the caller's to retry."""
        reused = self.conn is not None and self.port == self.node.port
        try:
            return self._request(method, path, body)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused or method not in ("GET", "HEAD"):
                raise
        return self._request(method, path, body)

    def _request(self, method, path, body):
        if self.conn is None or self.port != self.node.port:
            self.close()
            self.port = self.node.port
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        headers = {"Authorization": "Bearer %s" % self.node.token}
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            r = self.conn.getresponse()
            raw = r.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if not self.decode:
            return r.status, raw
        try:
            return r.status, json.loads(raw.decode("utf-8"))
        except ValueError:
            return r.status, raw

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn = None
