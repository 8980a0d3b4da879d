"""test_http_limits.py — the limits every HTTP listener keeps (issue #10; docs/http.md
"Limits every listener keeps"; docs/http.md), on a real hcp-node and a real
hcp-gateway (plain tcp://, --insecure), with small caps and timeouts set by
the environment (HCP_HTTP_MAX_CONNS, HCP_HTTP_IDLE_MS, HCP_HTTP_REQUEST_MS).

Usage: python3 test_http_limits.py PATH/TO/hcp-node PATH/TO/hcp-gateway

  test_a_idle_flood      300 idle TCP connections against a cap of 16: /healthz
                         and an authenticated POST are still served (the idle
                         ones are evicted, oldest first).
  test_a_overloaded      the cap filled with authenticated requests still
                         arriving (not evictable): a new connection is answered
                         503 {"error":"overloaded"} and closed; served again
                         once they are gone.
  test_b_idle_closed     a silent connection and an idle keep-alive one are
                         closed by the server after the idle timeout.
  test_c_slowloris       headers trickled forever: the request timeout cuts the
                         connection (408) although bytes keep coming.
  test_d_public_body     POST with a 64 KiB body to a public gateway route: 405
                         with Allow, the body never buffered (the gateway's RSS
                         does not grow by the bodies of 300 clients holding
                         their connections).
  test_e_garbage         100,000 blank lines, or 100,000 garbage lines, on one
                         connection: exactly one 400, then the connection closes.
  test_f_pipelining      keep-alive requests pipelined in one write are answered
                         in order, HEAD with headers only.
  test_g_query_bad       malformed query values (bad %-escape, repeated, control
                         character, invalid UTF-8) are 400 at GET /v1/cases.
  test_h_reset           clients resetting their connections while answers are
                         written do not take the node down (no SIGPIPE).
Offload (a gateway with 2 workers and HCP_TEST_OFFLOAD_GATE, docs/http.md
"Slow handlers": offloaded requests wait until the gate file exists):
  test_a_pipelined       feed pages that miss the cache (rendered by the worker
                         pool) pipelined with /healthz and HEAD on one
                         connection are answered in order.
  test_b_held            with the gate shut, four feed renders are provably in
                         flight (both workers hold one, two are queued) and
                         unanswered, yet /healthz and /v1/counties answer; an
                         authenticated GET /v1/cases is queued behind them; a
                         SIGTERM then waits for all five (http.draining names
                         them) and, once the gate opens, each gets its 200
                         before the gateway exits 0, the authenticated one
                         taken before the two anonymous renders queued first.
Timing is never asserted: only that things happen before generous deadlines.
"""
import json
import os
import resource
import selectors
import shutil
import signal
import struct
import socket
import tempfile
import threading
import time
import unittest

import hcptest
from hcptest import Gateway, Node, tail

DEADLINE = 30.0  # seconds any single expected event may take on a loaded machine


def connect(port, timeout=DEADLINE):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def read_response(f, head=False):
    """One HTTP response from the buffered reader f: (status, headers, body);
    None at EOF before a status line."""
    line = f.readline()
    if not line:
        return None
    parts = line.decode("latin-1").split(" ", 2)
    status = int(parts[1])
    headers = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0"))
    body = b"" if head or status in (204, 304) else f.read(n)
    return status, headers, body


def request(port, raw, head=False):
    """Send raw bytes on a new connection and read one response."""
    s = connect(port)
    try:
        s.sendall(raw)
        return read_response(s.makefile("rb"), head)
    finally:
        s.close()


def closed_by_peer(s, deadline=DEADLINE):
    """Read until EOF or reset (True) or the deadline (False); what was read
    is returned too."""
    s.settimeout(deadline)
    got = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return True, got
            got += b
    except (ConnectionResetError, BrokenPipeError):
        return True, got
    except socket.timeout:
        return False, got


def count_closed(socks, want, deadline=DEADLINE):
    """How many of socks the peer closed, waiting until want of them were
    or the deadline passed."""
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    closed = 0
    end = time.monotonic() + deadline
    while closed < want and time.monotonic() < end:
        for key, _ in sel.select(timeout=max(0.0, end - time.monotonic())):
            try:
                b = key.fileobj.recv(4096)
            except (ConnectionResetError, BrokenPipeError):
                b = b""
            except BlockingIOError:
                continue
            if not b:
                closed += 1
                sel.unregister(key.fileobj)
    sel.close()
    return closed


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def get(host_port, path):
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host_port)).encode()


class Limits(unittest.TestCase):
    tmp = None
    node = None  # cap 16, idle 1.5 s, request 30 s
    fast = None  # request timeout 2.5 s (slowloris), idle 1.5 s
    gw = None

    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 4096)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        cls.tmp = tempfile.mkdtemp(prefix="hcp-httplimits-")
        env = {"HCP_HTTP_MAX_CONNS": "16", "HCP_HTTP_IDLE_MS": "1500"}
        cls.node = Node(tmp=os.path.join(cls.tmp, "n1"), env=env,
                        args=["--sweep-interval", "86400"])
        os.makedirs(cls.node.tmp)
        cls.node.start()
        env2 = {"HCP_HTTP_IDLE_MS": "1500", "HCP_HTTP_REQUEST_MS": "2500"}
        cls.fast = Node(tmp=os.path.join(cls.tmp, "n2"), env=env2,
                        args=["--sweep-interval", "86400"])
        os.makedirs(cls.fast.tmp)
        cls.fast.start()
        if hcptest.path("hcp-gateway"):
            gdir = os.path.join(cls.tmp, "gw")
            os.makedirs(gdir)
            cls.gw = Gateway(hcptest.path("hcp-gateway"), tmp=gdir, scheme="tcp", args=("--insecure",))
            cls.gw.start()

    @classmethod
    def tearDownClass(cls):
        bad = []
        for p in (cls.node, cls.fast, cls.gw):
            if p is not None:
                code = p.stop()
                if code != 0:  # under ASan: a leak or an error at exit
                    bad.append("exit %r:\n%s" % (code, tail(p.stderr())))
        if os.environ.get("HCP_HTTP_KEEP"):
            print("kept", cls.tmp)
        elif cls.tmp:
            shutil.rmtree(cls.tmp, ignore_errors=True)
        if bad:
            raise AssertionError("a daemon did not stop cleanly:\n" + "\n".join(bad))

    def auth_post(self, n, path, body):
        data = json.dumps(body).encode()
        return ("POST %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                % (path, n.token, len(data))).encode() + data

    def healthy(self, n):
        r = request(n.port, get("x", "/healthz"))
        self.assertIsNotNone(r, "no answer from /healthz")
        self.assertEqual(r[0], 200, r)

    def test_a_idle_flood(self):
        n = self.node
        socks = [connect(n.port) for _ in range(300)]
        try:
            self.healthy(n)
            r = request(n.port, self.auth_post(n, "/v1/evaluations", hcptest.evaluation()))
            self.assertEqual(r[0], 201, r)
            self.healthy(n)
            # the oldest idle connections made room: most of the 300 are closed
            self.assertGreaterEqual(count_closed(socks, 300 - 16 - 1), 300 - 16 - 1)
        finally:
            for s in socks:
                s.close()
        self.assertIn("http.evict", n.stderr())

    def test_a_overloaded(self):
        n = self.node
        held = []
        try:
            # 16 authenticated uploads that never finish: not evictable. The
            # 100 Continue shows the server admitted each (headers read).
            for _ in range(16):
                s = connect(n.port)
                s.sendall(("POST /v1/evaluations HTTP/1.1\r\nHost: x\r\n"
                           "Authorization: Bearer %s\r\nContent-Length: 100\r\n"
                           "Expect: 100-continue\r\n\r\n" % n.token).encode())
                self.assertEqual(read_response(s.makefile("rb"))[0], 100)
                s.sendall(b"{")
                held.append(s)
            end = time.monotonic() + DEADLINE
            r = None
            while time.monotonic() < end:
                r = request(n.port, get("x", "/healthz"))
                if r is not None and r[0] == 503:
                    break
                time.sleep(0.05)
            self.assertIsNotNone(r)
            self.assertEqual(r[0], 503, r)
            self.assertEqual(json.loads(r[2])["error"], "overloaded")
            self.assertEqual(r[1].get("connection"), "close")
        finally:
            for s in held:
                s.close()
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            r = request(n.port, get("x", "/healthz"))
            if r is not None and r[0] == 200:
                break
            time.sleep(0.05)
        self.assertEqual(r[0], 200, r)

    def test_b_idle_closed(self):
        n = self.fast
        silent = connect(n.port)
        used = connect(n.port)
        try:
            used.sendall(get("x", "/healthz"))
            f = used.makefile("rb")
            r = read_response(f)
            self.assertEqual(r[0], 200, r)
            ok, got = closed_by_peer(silent)
            self.assertTrue(ok, "a silent connection stayed open")
            self.assertEqual(got, b"")
            ok, got = closed_by_peer(used)
            self.assertTrue(ok, "an idle keep-alive connection stayed open")
        finally:
            silent.close()
            used.close()

    def test_c_slowloris(self):
        n = self.fast
        s = connect(n.port)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            end = time.monotonic() + DEADLINE
            cut = False
            got = b""
            s.settimeout(0.2)
            i = 0
            while time.monotonic() < end and not cut:
                try:
                    s.sendall(b"X-Slow-%d: y\r\n" % i)  # never the blank line
                    i += 1
                except (BrokenPipeError, ConnectionResetError):
                    cut = True
                    break
                try:
                    b = s.recv(4096)
                    if not b:
                        cut = True
                    got += b
                except socket.timeout:
                    pass
                except ConnectionResetError:
                    cut = True
            self.assertTrue(cut, "a trickled request was never cut")
            if got:
                self.assertTrue(got.startswith(b"HTTP/1.1 408"), got[:100])
        finally:
            s.close()
        self.healthy(n)

    def test_d_public_body(self):
        if self.gw is None:
            self.skipTest("no hcp-gateway given")
        g = self.gw
        body = b"x" * 65536
        r = request(g.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 65536\r\n\r\n" + body)
        self.assertEqual(r[0], 405, r)
        self.assertIn("GET", r[1].get("allow", ""))
        r = request(g.port, b"GET /feed/requests.json HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Length: 10\r\n\r\n0123456789")
        self.assertIn(r[0], (405, 413), r)
        before = rss_kb(g.proc.pid)
        socks = []
        try:
            for _ in range(300):
                s = connect(g.port)
                s.settimeout(5)
                try:  # all but the last byte: a server that buffers holds it
                    s.sendall(b"POST /feed/requests.json HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Length: 65536\r\n\r\n" + body[:-1])
                except OSError:
                    pass
                socks.append(s)
            statuses = []
            for s in socks:
                try:
                    r = read_response(s.makefile("rb"))
                    statuses.append(r[0] if r else None)
                except OSError:
                    statuses.append(None)
            after = rss_kb(g.proc.pid)
        finally:
            for s in socks:
                s.close()
        self.assertGreaterEqual(statuses.count(405), 250, statuses)
        grew = after - before
        # 300 buffered bodies would be 19,200 KiB
        self.assertLess(grew, 8000, "gateway RSS grew by %d KiB" % grew)
        r = request(g.port, get("x", "/healthz"))
        self.assertEqual(r[0], 200, r)

    def flood(self, payload):
        n = self.node
        s = connect(n.port)

        def send():
            try:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        t = threading.Thread(target=send)
        t.start()
        ok, got = closed_by_peer(s)
        t.join()
        s.close()
        self.assertTrue(ok, "the connection stayed open")
        self.assertEqual(got.count(b"HTTP/1.1 "), 1, got[:300])
        self.assertTrue(got.startswith(b"HTTP/1.1 400 "), got[:300])
        self.assertIn(b"Connection: close", got)
        self.healthy(n)

    def test_e_garbage(self):
        self.flood(b"\r\n" * 100000)
        self.flood(b"garbage\r\n" * 100000)
        self.flood(b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n" * 1000)

    def test_f_pipelining(self):
        n = self.node
        s = connect(n.port)
        try:
            s.sendall(get("x", "/healthz")
                      + self.auth_post(n, "/v1/evaluations", hcptest.evaluation())
                      + b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                      + ("GET /v1/cases?limit=1 HTTP/1.1\r\nHost: x\r\n"
                         "Authorization: Bearer %s\r\n\r\n" % n.token).encode()
                      + ("GET /nope HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                         % n.token).encode() + b"\r\n"
                      + get("x", "/healthz"))
            f = s.makefile("rb")
            got = [read_response(f), read_response(f), read_response(f, head=True),
                   read_response(f), read_response(f), read_response(f)]
            self.assertEqual([g[0] for g in got], [200, 201, 200, 200, 404, 200], got)
            self.assertEqual(json.loads(got[0][2])["status"], "ok")
            self.assertIn("evaluation", json.loads(got[1][2]))
            self.assertGreater(int(got[2][1]["content-length"]), 0)
            self.assertEqual(got[0][1].get("cache-control"), "no-store")
            # and the connection is still usable
            s.sendall(get("x", "/healthz"))
            self.assertEqual(read_response(f)[0], 200)
        finally:
            s.close()

    def test_h_reset(self):
        """Clients that reset their connection while answers are written
        (EPIPE, never SIGPIPE) do not take the daemon down."""
        n = self.node
        for _ in range(50):
            s = connect(n.port)
            s.sendall(get("x", "/healthz") * 50)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        time.sleep(0.2)
        self.assertIsNone(n.proc.poll(), "the node died:\n" + tail(n.stderr()))
        self.healthy(n)

    def test_g_query_bad(self):
        n = self.node

        def cases(q):
            r = n.get("/v1/cases" + q)
            return r.status

        self.assertEqual(cases("?limit=5"), 200)
        self.assertEqual(cases("?status=received"), 200)
        for q in ("?limit=%zz", "?limit=5&limit=6", "?status=%00", "?status=%0a",
                  "?after=%ff%fe", "?after=" + "a" * 100, "?status=received&status=received"):
            self.assertEqual(cases(q), 400, q)


class Offload(unittest.TestCase):
    tmp = None
    gw = None  # 2 workers; offloaded requests wait for the file `gate`
    gate = None

    @classmethod
    def setUpClass(cls):
        if not hcptest.path("hcp-gateway"):
            raise unittest.SkipTest("no hcp-gateway given")
        cls.tmp = tempfile.mkdtemp(prefix="hcp-offload-")
        cls.gate = os.path.join(cls.tmp, "gate")
        gdir = os.path.join(cls.tmp, "gw")
        os.makedirs(gdir)
        cls.gw = Gateway(hcptest.path("hcp-gateway"), tmp=gdir, scheme="tcp", args=("--insecure",),
                         env={"HCP_TEST_OFFLOAD_GATE": cls.gate, "HCP_HTTP_WORKERS": "2"})
        cls.gw.start()

    @classmethod
    def tearDownClass(cls):
        if cls.gate:
            open(cls.gate, "w").close()  # nothing may stay held
        code = cls.gw.stop() if cls.gw is not None else 0
        err = cls.gw.stderr() if cls.gw is not None else ""
        if os.environ.get("HCP_HTTP_KEEP"):
            print("kept", cls.tmp)
        elif cls.tmp:
            shutil.rmtree(cls.tmp, ignore_errors=True)
        if code != 0 or hcptest.sanitizer_problem(err):
            raise AssertionError("the gateway did not stop cleanly (exit %r):\n%s"
                                 % (code, tail(err)))

    def held_lines(self):
        return [l for l in self.gw.stderr().splitlines() if "id=http.offload_held" in l]

    def held(self):
        return len(self.held_lines())

    def queued(self, what):
        return sum(1 for l in self.gw.stderr().splitlines()
                   if "id=http.offload_queued path=" + what in l)

    def test_a_pipelined(self):
        open(self.gate, "w").close()  # the gate open: jobs run at once
        try:
            s = connect(self.gw.port)
            s.sendall(get("x", "/feed/requests.json?page=30") + get("x", "/healthz")
                      + get("x", "/feed/atom.xml?county=630102")
                      + b"HEAD /feed/requests.json?page=31 HTTP/1.1\r\nHost: x\r\n\r\n"
                      + get("x", "/healthz"))
            f = s.makefile("rb")
            got = [read_response(f), read_response(f), read_response(f),
                   read_response(f, head=True), read_response(f)]
            s.close()
            self.assertEqual([g[0] for g in got], [200] * 5, got)
            self.assertEqual(json.loads(got[0][2]), [])
            self.assertEqual(json.loads(got[1][2])["status"], "ok")
            self.assertTrue(got[2][1]["content-type"].startswith("application/atom+xml"), got[2])
            self.assertTrue(got[3][1]["content-type"].startswith("application/json"), got[3])
            self.assertEqual(got[3][2], b"")
            self.assertEqual(json.loads(got[4][2])["status"], "ok")
            # the three feed requests missed the cache: each went to a worker
            self.assertEqual(self.held(), 3, tail(self.gw.stderr()))
        finally:
            os.unlink(self.gate)

    def test_b_held(self):
        gw, before = self.gw, self.held()
        qfeed = self.queued("/feed/requests.json")
        socks = []
        try:
            for page in range(40, 44):  # four pages no one asked for: cache misses
                s = connect(gw.port)
                s.sendall(get("x", "/feed/requests.json?page=%d" % page))
                socks.append(s)
            # both workers hold a render; the other two wait in the queue
            hcptest.wait_until(lambda: (self.held() - before >= 2, self.held() - before),
                               DEADLINE, "two renders held by the workers")
            # the server thread is free: a public and an authenticated route answer
            self.healthy_gw()
            self.assertEqual(gw.get("/v1/counties", timeout=DEADLINE).status, 200)
            self.healthy_gw()
            # an authenticated list (offloaded too) queued behind two renders
            s = connect(gw.port)
            s.sendall(("GET /v1/cases?limit=5 HTTP/1.1\r\nHost: x\r\n"
                       "Authorization: Bearer %s\r\n\r\n" % gw.token).encode())
            socks.append(s)
            # all five were given to the pool (logged as queued, under the gate)
            hcptest.wait_until(lambda: (self.queued("/feed/requests.json") - qfeed == 4
                                        and self.queued("/v1/cases") == 1, None),
                               DEADLINE, "the five requests to be queued")
            # none of the five can have been answered: the gate is shut
            for s in socks:
                s.setblocking(False)
                with self.assertRaises(BlockingIOError):
                    s.recv(1)
                s.setblocking(True)
                s.settimeout(DEADLINE)
            # a stop waits for them: it logs what it drains every 5 s
            gw.proc.send_signal(signal.SIGTERM)
            hcptest.wait_until(
                lambda: ("id=http.draining inflight=5 offloaded=5" in gw.stderr(), None),
                DEADLINE, "the stop to wait for the five offloaded requests")
            self.assertIsNone(gw.proc.poll())
            open(self.gate, "w").close()
            for i, s in enumerate(socks):
                r = read_response(s.makefile("rb"))
                self.assertIsNotNone(r, "an offloaded request was dropped by the stop")
                self.assertEqual(r[0], 200, r)
                self.assertEqual(json.loads(r[2]), [] if i < 4 else {"cases": [], "next": None})
            self.assertEqual(gw.proc.wait(DEADLINE), 0, tail(gw.stderr()))
            # taken in order: the two held renders, then the authenticated
            # request before the two anonymous renders queued ahead of it
            paths = [l.split(" path=")[1] for l in self.held_lines()[before:]]
            self.assertEqual(paths, ["/feed/requests.json account=-"] * 2
                             + ["/v1/cases account=admin"]
                             + ["/feed/requests.json account=-"] * 2)
            self.assertIn("id=http.stopped", gw.stderr())
        finally:
            for s in socks:
                s.close()

    def healthy_gw(self):
        r = request(self.gw.port, get("x", "/healthz"))
        self.assertIsNotNone(r, "no answer from /healthz")
        self.assertEqual(r[0], 200, r)


if __name__ == "__main__":
    hcptest.main("hcp-gateway", optional=("hcp-gateway",))
