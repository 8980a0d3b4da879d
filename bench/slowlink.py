#!/usr/bin/env python3
"""slowlink.py — a thin, lossy county link between two TCP endpoints, for the
slow-link benchmark (bench/link_bench.py, docs/bench.md "Slow links (issue
#18)") and for any other program that should run over the same link (the
peers of issue #18). Python 3 standard library only.

Two ways to shape a link:

* netem (preferred, real TCP behaviour): `Netns` makes a network namespace
  joined to this one by a veth pair and puts `tc qdisc ... netem rate R delay
  D loss P` on both ends, so each direction has that rate, that one-way
  delay and that loss. Needs root and the kernel's sch_netem;
  `Netns.available()` says whether both are there.
* the proxy (fallback): `SlowLink` listens on 127.0.0.1 and forwards every
  connection to an upstream address, each direction serialised at the
  rate, delivered `delay` later, and, for each ~1448-byte segment, with
  probability `loss`, held back by one extra round trip (2 x delay) with
  everything behind it: what TCP's fast retransmit costs a lost segment
  (head-of-line blocking and the link idle meanwhile). A model, not TCP:
  the congestion window's halving after a loss is not reproduced beyond
  that pause. At most `queue` bytes wait in each direction; beyond that the
  proxy stops reading, so the sender feels the link through TCP flow control.

Command line (runs until SIGINT/SIGTERM, then prints its counters as JSON):

  slowlink.py --upstream HOST:PORT [--listen PORT] [--rate-kbit 2000]
              [--delay-ms 80] [--loss 0.01] [--seed 1]

prints "slowlink: listening 127.0.0.1:PORT" once it accepts connections.

As a module:

  link = SlowLink(("127.0.0.1", 8700), rate_bps=2e6, delay_s=0.08, loss=0.01).start()
  ... connect to ("127.0.0.1", link.port) ...
  link.counters() -> {"up": bytes client->upstream, "down": bytes back,
                      "conns": connections, "stalls": simulated losses}
  link.close()
"""
import argparse
import collections
import json
import random
import signal
import socket
import subprocess
import sys
import threading
import time

SEGMENT = 1448


class _Direction:
    """One direction of one connection: a reader queues chunks with their
    arrival times, a writer delivers them when due."""

    def __init__(self, link, src, dst, key):
        self.link, self.src, self.dst, self.key = link, src, dst, key
        self.q = collections.deque()
        self.queued = 0
        self.cv = threading.Condition()
        self.eof = False
        self.tx_done = 0.0  # when the link finishes sending what is queued

    def read_loop(self):
        lk = self.link
        while True:
            with self.cv:
                while self.queued >= lk.queue and not lk.closed:
                    self.cv.wait(0.1)
            try:
                data = self.src.recv(16384)
            except OSError:
                data = b""
            now = time.monotonic()
            with self.cv:
                if not data or lk.closed:
                    self.eof = True
                    self.cv.notify_all()
                    return
                start = max(now, self.tx_done)
                pause = 0.0
                with lk.mu:
                    for _ in range((len(data) + SEGMENT - 1) // SEGMENT):
                        if lk.rng.random() < lk.loss:
                            pause += 2 * lk.delay
                            lk.stalls += 1
                self.tx_done = start + len(data) * 8.0 / lk.rate + pause
                self.q.append((self.tx_done + lk.delay, data))
                self.queued += len(data)
                self.cv.notify_all()

    def write_loop(self):
        lk = self.link
        while True:
            with self.cv:
                while not self.q and not self.eof and not lk.closed:
                    self.cv.wait(0.1)
                if not self.q:
                    break
                due, data = self.q[0]
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                self.dst.sendall(data)
            except OSError:
                break
            with self.cv:
                self.q.popleft()
                self.queued -= len(data)
                self.cv.notify_all()
            with lk.mu:
                lk.bytes[self.key] += len(data)
        for s in (self.dst, self.src):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SlowLink:
    """127.0.0.1:port -> upstream, shaped (see the module's docstring)."""

    def __init__(self, upstream, rate_bps=2e6, delay_s=0.08, loss=0.01, seed=1, queue=65536,
                 listen_port=0):
        self.upstream = upstream
        self.rate, self.delay, self.loss, self.queue = float(rate_bps), float(delay_s), loss, queue
        self.rng = random.Random(seed)
        self.mu = threading.Lock()
        self.bytes = {"up": 0, "down": 0}
        self.conns = 0
        self.stalls = 0
        self.closed = False
        self.socks = []
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", listen_port))
        self.lsock.listen(64)
        self.port = self.lsock.getsockname()[1]

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.upstream, timeout=10)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            for s in (c, u):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self.mu:
                self.conns += 1
                self.socks += [c, u]
            for src, dst, key in ((c, u, "up"), (u, c, "down")):
                d = _Direction(self, src, dst, key)
                threading.Thread(target=d.read_loop, daemon=True).start()
                threading.Thread(target=d.write_loop, daemon=True).start()

    def counters(self):
        with self.mu:
            return {"up": self.bytes["up"], "down": self.bytes["down"], "conns": self.conns,
                    "stalls": self.stalls}

    def close(self):
        self.closed = True
        try:
            self.lsock.close()
        except OSError:
            pass
        with self.mu:
            socks = list(self.socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


class Netns:
    """A network namespace `name` joined to this one by a veth pair, both ends
    shaped by netem: this side is `host_ip`, the namespace `ns_ip` (/24).
    `run(args)` starts a command inside it (subprocess.Popen arguments);
    `close()` removes the pair and the namespace. Root only."""

    def __init__(self, name="hcplink", host_ip="10.203.0.1", ns_ip="10.203.0.2",
                 rate_kbit=2000, delay_ms=80, loss_pct=1.0):
        self.name, self.host_ip, self.ns_ip = name, host_ip, ns_ip
        self.veth = name[:10] + "0"
        self.peer = name[:10] + "1"
        self.netem = ["netem", "rate", "%dkbit" % rate_kbit, "delay", "%dms" % delay_ms,
                      "loss", "%g%%" % loss_pct, "limit", "1000"]
        self.up = False

    @staticmethod
    def _ip(*args):
        return subprocess.run(["ip"] + list(args), capture_output=True, text=True)

    def start(self):
        self.close()  # leftovers of an interrupted run
        steps = [
            ["ip", "netns", "add", self.name],
            ["ip", "link", "add", self.veth, "type", "veth", "peer", "name", self.peer],
            ["ip", "link", "set", self.peer, "netns", self.name],
            ["ip", "addr", "add", self.host_ip + "/24", "dev", self.veth],
            ["ip", "link", "set", self.veth, "up"],
            ["ip", "-n", self.name, "addr", "add", self.ns_ip + "/24", "dev", self.peer],
            ["ip", "-n", self.name, "link", "set", self.peer, "up"],
            ["ip", "-n", self.name, "link", "set", "lo", "up"],
            ["tc", "qdisc", "add", "dev", self.veth, "root"] + self.netem,
            ["ip", "netns", "exec", self.name, "tc", "qdisc", "add", "dev", self.peer,
             "root"] + self.netem,
        ]
        for s in steps:
            p = subprocess.run(s, capture_output=True, text=True)
            if p.returncode != 0:
                err = (p.stderr or p.stdout).strip()
                self.close()
                raise RuntimeError("%s: %s" % (" ".join(s), err))
        self.up = True
        return self

    def run(self, args, **kw):
        return subprocess.Popen(["ip", "netns", "exec", self.name] + list(args), **kw)

    def close(self):
        self._ip("link", "del", self.veth)
        self._ip("netns", "del", self.name)
        self.up = False

    @classmethod
    def available(cls):
        """(True, "") when a shaped namespace can be made here, else (False, why)."""
        ns = cls(name="hcplinkprobe", host_ip="10.203.9.1", ns_ip="10.203.9.2")
        try:
            ns.start()
        except (RuntimeError, OSError) as e:
            return False, str(e)
        ns.close()
        return True, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT")
    ap.add_argument("--listen", type=int, default=0, help="port on 127.0.0.1 (0: any)")
    ap.add_argument("--rate-kbit", type=float, default=2000)
    ap.add_argument("--delay-ms", type=float, default=80)
    ap.add_argument("--loss", type=float, default=0.01, help="per segment, 0..1")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    host, _, port = a.upstream.rpartition(":")
    link = SlowLink((host or "127.0.0.1", int(port)), a.rate_kbit * 1000, a.delay_ms / 1000.0,
                    a.loss, a.seed, listen_port=a.listen).start()
    print("slowlink: listening 127.0.0.1:%d" % link.port, flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    link.close()
    json.dump(link.counters(), sys.stdout)
    print()


if __name__ == "__main__":
    main()
