"""hcpfaults.py — pieces shared by the fault tests (stdlib only): the case
ids of a county, `hcp-node verify`, and a TCP proxy that cuts connections
at random moments and byte positions (inside TLS records). Used by test_repl_faults.py and
test_fault_soak.py; the node binary is hcptest's.
"""
import re
import socket
import subprocess
import threading
import time

import hcptest


def list_ids(proc, county):
    """Every case id of county listed by proc (node or gateway), in order,
    following the pages (limit 500)."""
    return [c["id"] for c in hcptest.list_cases(proc, county, limit=500, pages=2000)]


def verify(data):
    """`hcp-node verify --data DIR`: (head, hash hex); asserts exit 0."""
    p = subprocess.run([hcptest.binary(), "verify", "--data", data], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, "hcp-node verify failed: %s %s" % (p.stdout, p.stderr)
    m = re.search(r"head=(\d+) hash=([0-9a-fA-F]+)", p.stdout)
    assert m, "hcp-node verify printed %r" % p.stdout
    return int(m.group(1)), m.group(2).lower()


# ---- a chaotic TCP proxy ----

class Proxy:
    """127.0.0.1:port -> 127.0.0.1:upstream, one thread per direction.
    While chaos is on, each connection gets a random byte budget after which
    it is cut (both sides closed, usually inside a frame), a chaos thread
    cuts a random live connection every 0.2-1.2 s, and forwarding sleeps a
    few ms now and then."""

    def __init__(self, upstream, rng, chaos=True, rate=None):
        self.upstream = upstream
        self.rng = rng
        self.rate = rate  # bytes per second per direction and connection, or None
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.chaos = chaos
        self.closed = False
        self.mu = threading.Lock()
        self.pairs = []
        self.cuts = 0
        self.conns = 0
        self.bytes = 0
        self.threads = []

    def start(self):
        for fn in (self._accept, self._chaos):
            t = threading.Thread(target=fn, daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(("127.0.0.1", self.upstream), timeout=5)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.mu:
                budget = self.rng.randint(2000, 400000)
                pair = {"c": c, "u": u, "left": budget, "dead": False}
                self.pairs.append(pair)
                self.conns += 1
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(pair, a, b), daemon=True).start()

    def _cut(self, pair):
        """Close both sides of a connection (mu held)."""
        if pair["dead"]:
            return
        pair["dead"] = True
        for s in (pair["c"], pair["u"]):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        if pair in self.pairs:
            self.pairs.remove(pair)

    def _pump(self, pair, src, dst):
        while True:
            try:
                data = src.recv(4096)
            except OSError:
                data = b""
            with self.mu:
                if not data or pair["dead"]:
                    self._cut(pair)
                    return
                chaos = self.chaos
                delay = self.rng.random() < 0.2
                if chaos:
                    pair["left"] -= len(data)
                    if pair["left"] <= 0:
                        # forward part of the chunk, then cut: inside a frame
                        part = data[:self.rng.randint(0, len(data))]
                        try:
                            dst.sendall(part)
                        except OSError:
                            pass
                        self.cuts += 1
                        self._cut(pair)
                        return
            if chaos and delay:
                time.sleep(self.rng.uniform(0.001, 0.008))
            try:
                dst.sendall(data)
            except OSError:
                with self.mu:
                    self._cut(pair)
                return
            with self.mu:
                self.bytes += len(data)
            if self.rate:
                time.sleep(len(data) / self.rate)

    def _chaos(self):
        while not self.closed:
            time.sleep(self.rng.uniform(0.2, 1.2))
            with self.mu:
                if self.chaos and self.pairs:
                    self.cuts += 1
                    self._cut(self.rng.choice(self.pairs))

    def close(self):
        self.closed = True
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.mu:
            for p in list(self.pairs):
                self._cut(p)


