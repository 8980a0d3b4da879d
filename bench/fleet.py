#!/usr/bin/env python3
"""fleet.py — issue #4's benchmark (d): N county nodes (default 2,900, one per
county-level division of China) connected to one gateway at once, all still
replicating; the gateway's resident memory while they are (target < 1 GiB).
Run by bench/run.sh after the replication figures; docs/bench.md "Fleet".

  fleet.py BUILD_DIR OUT_DIR

Steps: a fresh PKI (hcp-certs init, gateway --name); a divisions file
holding the fleet's N invented county codes (the gateway admits only the
divisions of its list, Qinghai's 44 unless --divisions says otherwise); a
fresh gateway on loopback (tls+tcp, --divisions that file); bench_fleet with N nodes in one process (their
identities made in memory, signed with the CA key); when bench_fleet says
every node is authenticated and acknowledged ("connected"), GET /v1/counties
must show all N counties in state ok with applied > 0; then "mark" — every
node must have a batch made after the mark acknowledged ("advanced") and
/v1/counties must show every county's applied past what it showed before
(still replicating). The gateway's VmRSS/VmHWM are sampled every 0.5 s
throughout (/proc/PID/status), and its open file descriptors.

Environment: HCP_BENCH_FLEET_N (2900), HCP_BENCH_FLEET_INTERVAL (10 s
between a node's batches), HCP_BENCH_FLEET_WINDOW (64 nodes dialed and not
yet welcomed), HCP_BENCH_FLEET_TIMEOUT (150 s for all to connect; the next
round then gets max(60, 3 x interval) s). The whole takes about 5 minutes
at most. Adds "fleet" to OUT_DIR/results.json.
Targets are reported, never enforced: the script fails only when something
could not be measured.
"""
import http.client
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time

GW_NAME = "gw.bench"
TARGET_KIB = 1024 * 1024
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from repl_bench import env_int, free_port, save_results, say  # noqa: E402


N = env_int("HCP_BENCH_FLEET_N", 2900)
INTERVAL = env_int("HCP_BENCH_FLEET_INTERVAL", 10)
WINDOW = env_int("HCP_BENCH_FLEET_WINDOW", 64)
TIMEOUT = env_int("HCP_BENCH_FLEET_TIMEOUT", 150)
ADVANCE_S = max(60, 3 * INTERVAL)
BASE = 100000


def fleet_codes(n, base=BASE):
    """The county codes bench_fleet gives its n nodes (bench/fleet.c
    county_code): six-digit numbers from base on, skipping those ending in
    00 (a prefecture's code, which a divisions list cannot hold)."""
    out, code = [], base
    while len(out) < n:
        if code % 100 != 0:
            out.append("%06d" % code)
        code += 1
    return out


CODES = fleet_codes(N)


def write_divisions(path, codes):
    """The gateway's --divisions file (format of data/divisions.tsv): one
    row per fleet county, its prefecture the code's first four digits
    then 00."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("# bench/fleet.py: the fleet's invented county codes\n")
        f.write("code\tname\tprefecture_code\tprefecture_name\n")
        for c in codes:
            f.write("%s\t测试县%s\t%s00\t测试州%s\n" % (c, c, c[:4], c[:4]))


def counties(hport, token):
    """{county: (state, applied)} from GET /v1/counties."""
    c = http.client.HTTPConnection("127.0.0.1", hport, timeout=30)
    c.request("GET", "/v1/counties", headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200:
        raise RuntimeError("GET /v1/counties: %d" % r.status)
    return {x["county"]: (x["state"], x["applied"]) for x in json.loads(body)["counties"]}


def status(pid):
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM", "Threads"):
                    out[k] = int(v.split()[0])
        out["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        pass
    return out


class Sampler(threading.Thread):
    """The gateway's memory and descriptors every 0.5 s; peaks kept."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.stop, self.peak, self.last = pid, threading.Event(), {}, {}

    def run(self):
        while not self.stop.is_set():
            s = status(self.pid)
            if s:
                self.last = s
                for k, v in s.items():
                    self.peak[k] = max(self.peak.get(k, 0), v)
            self.stop.wait(0.5)


def wait_healthy(hport, proc, secs=30):
    end = time.monotonic() + secs
    while time.monotonic() < end and proc.poll() is None:
        try:
            c = http.client.HTTPConnection("127.0.0.1", hport, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


def raise_nofile():
    """Soft RLIMIT_NOFILE up to the hard limit (inherited by the gateway)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, min(hard, 65536)) if hard != resource.RLIM_INFINITY else 65536
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):
        pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Fleet:
    def __init__(self, build, out, n=None, work_name="fleet"):
        self.n = n or N
        self.codes = CODES if self.n == N else fleet_codes(self.n)
        self.work = os.path.join(out, "work", work_name)
        self.gw_bin = os.path.join(build, "gateway", "hcp-gateway")
        self.certs_bin = os.path.join(build, "certs", "hcp-certs")
        self.fleet_bin = os.path.join(build, "bench", "bench_fleet")
        self.pki = os.path.join(self.work, "pki")
        self.res = {"settings": {"n": self.n, "interval_s": INTERVAL, "window": WINDOW,
                                 "events_per_batch": 3, "timeout_s": TIMEOUT},
                    "target_VmHWM_kib": TARGET_KIB}
        self.lines = []
        self.cv = threading.Condition()
        self.extra_args = []  # more bench_fleet flags (bench/directive_bench.py: --ping)

    def reader(self, f):
        for line in f:
            try:
                j = json.loads(line)
            except ValueError:
                continue
            with self.cv:
                self.lines.append(j)
                self.cv.notify_all()

    def wait_event(self, name, secs):
        end = time.monotonic() + secs
        with self.cv:
            while True:
                for j in self.lines:
                    if j.get("event") == name:
                        return j
                left = end - time.monotonic()
                if left <= 0 or self.fleet.poll() is not None:
                    return None
                self.cv.wait(min(left, 1.0))

    def start(self):
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        with open(os.path.join(self.work, "certs.log"), "wb") as log:
            for s in (["init", "--dir", self.pki],
                      ["gateway", "--dir", self.pki, "--name", GW_NAME, "--ip", "127.0.0.1"]):
                subprocess.run([self.certs_bin] + s, stdout=log, stderr=log, check=True)
        self.res["rlimit_nofile"] = raise_nofile()
        divisions = os.path.join(self.work, "divisions.tsv")
        write_divisions(divisions, self.codes)
        port, self.hport = free_port(), free_port()
        d = os.path.join(self.work, "gw")
        self.gw_log = os.path.join(self.work, "gw.log")
        with open(self.gw_log, "wb") as err:
            self.gw = subprocess.Popen(
                [self.gw_bin, "--data", d, "--listen", "tls+tcp://127.0.0.1:%d" % port,
                 "--listen-http", "127.0.0.1:%d" % self.hport,
                 "--tls-cert", os.path.join(self.pki, "gateway.crt"),
                 "--tls-key", os.path.join(self.pki, "gateway.key"),
                 "--tls-ca", os.path.join(self.pki, "ca.crt"),
                 "--tls-crl", os.path.join(self.pki, "crl.pem"), "--divisions", divisions],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        if not wait_healthy(self.hport, self.gw):
            raise RuntimeError("gateway did not start (log: %s)" % self.gw_log)
        with open(os.path.join(d, "admin.token")) as f:
            self.token = f.read().strip()
        self.sampler = Sampler(self.gw.pid)
        self.sampler.start()
        self.res["gateway_idle"] = status(self.gw.pid)
        self.fleet_err = os.path.join(self.work, "fleet.log")
        with open(self.fleet_err, "wb") as err:
            self.fleet = subprocess.Popen(
                [self.fleet_bin, "--ca-cert", os.path.join(self.pki, "ca.crt"),
                 "--ca-key", os.path.join(self.pki, "ca.key"),
                 "--url", "tls+tcp://127.0.0.1:%d" % port, "--server-name", GW_NAME,
                 "-n", str(self.n), "--base", str(BASE), "--interval", str(INTERVAL),
                 "--window", str(WINDOW), "--duration", str(TIMEOUT + ADVANCE_S + 60)]
                + self.extra_args,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
        threading.Thread(target=self.reader, args=(self.fleet.stdout,), daemon=True).start()

    def command(self, cmd):
        try:
            self.fleet.stdin.write(cmd + "\n")
            self.fleet.stdin.flush()
        except (OSError, ValueError):
            pass

    def check(self, before=None):
        """(ok, applied) over our counties; ok counts state ok and applied
        > 0 (or > before[c] when given)."""
        a = counties(self.hport, self.token)
        ok, applied = 0, {}
        for c in self.codes:
            st, ap = a.get(c, ("missing", 0))
            applied[c] = ap
            floor = before[c] if before else 0
            ok += st == "ok" and ap > floor
        return ok, applied

    def run(self):
        say("fleet: %d nodes (bench_fleet), one gateway, mutual TLS on loopback" % self.n)
        self.start()
        r = self.res
        ident = self.wait_event("identities", 120)
        if ident is None:
            raise RuntimeError("bench_fleet made no identities (log: %s)" % self.fleet_err)
        r["identities_s"] = round(ident["seconds"], 2)
        say("fleet: %d identities in %.1f s; dialing" % (self.n, ident["seconds"]))
        conn = self.wait_event("connected", TIMEOUT)
        sample = self.sampler.last
        r["gateway_connected"] = {"VmRSS_kib": sample.get("VmRSS"),
                                  "VmHWM_kib": sample.get("VmHWM"), "fds": sample.get("fds"),
                                  "threads": sample.get("Threads")}
        ok1, applied1 = self.check()
        r["counties_ok_after_connect"] = ok1
        if conn is not None:
            r["connect_all_s"] = round(conn["ack_all_s"], 2)
            r["auth_all_s"] = round(conn["auth_all_s"], 2)
            say("fleet: all %d authenticated in %.1f s, acknowledged in %.1f s; gateway RSS "
                "%.1f MB; /v1/counties: %d ok with applied > 0"
                % (self.n, conn["auth_all_s"], conn["ack_all_s"],
                   (sample.get("VmRSS") or 0) / 1024, ok1))
            self.command("mark")
            adv = self.wait_event("advanced", ADVANCE_S)
            ok2, _ = self.check(applied1)
            r["counties_advanced"] = ok2
            r["advanced_s"] = round(adv["seconds"] - conn["seconds"], 2) if adv else None
            say("fleet: next round: %d of %d counties advanced" % (ok2, self.n))
        else:
            say("fleet: not all connected within %d s (%d ok in /v1/counties)" % (TIMEOUT, ok1))
            r["connect_all_s"] = None
            r["counties_advanced"] = None
        self.command("stop")
        summ = self.wait_event("summary", 120)
        self.sampler.stop.set()
        self.sampler.join()
        r["fleet"] = summ
        r["gateway_peak"] = {"VmHWM_kib": self.sampler.peak.get("VmHWM"),
                             "VmRSS_kib": self.sampler.peak.get("VmRSS"),
                             "fds": self.sampler.peak.get("fds"),
                             "threads": self.sampler.peak.get("Threads")}
        time.sleep(2)  # the nodes are gone: does the gateway let go of them?
        r["gateway_after_fleet"] = status(self.gw.pid)
        r["target_met"] = bool(
            r["counties_advanced"] == self.n and (r["gateway_peak"]["VmHWM_kib"] or 0) < TARGET_KIB)
        self.stop()
        return r

    def stop(self):
        if self.fleet.poll() is None:
            self.fleet.kill()
            self.fleet.wait()
        self.gw.send_signal(signal.SIGTERM)
        try:
            self.gw.wait(20)
            self.res["gateway_stop"] = "clean"
        except subprocess.TimeoutExpired:
            # seen with nng 1.5.2 after many handshakes timed out: nng_close hangs
            self.res["gateway_stop"] = "hung in SIGTERM for 20 s; killed"
            self.gw.kill()
            self.gw.wait()


def report(r):
    def row(name, value, note=""):
        print("  %-44s %14s  %s" % (name, value, note))

    f = r.get("fleet") or {}
    print()
    print("hcp fleet benchmark (d): %d nodes, one gateway, nng mutual TLS" % r["settings"]["n"])
    print("  " + "-" * 76)
    row("nodes authenticated", "%s" % f.get("authenticated"), "of %d" % r["settings"]["n"])
    row("nodes whose batches were acknowledged", "%s" % f.get("acked_nodes"))
    row("time to connect all (welcome + first ack) s", "%s" % r.get("connect_all_s"),
        "auth %s s; identities %s s" % (r.get("auth_all_s"), r.get("identities_s")))
    row("counties ok, applied > 0 (/v1/counties)", "%s" % r.get("counties_ok_after_connect"))
    row("counties advanced in the next round", "%s" % r.get("counties_advanced"),
        "%s s after the mark" % r.get("advanced_s"))
    gc, gp = r.get("gateway_connected", {}), r.get("gateway_peak", {})
    row("gateway VmRSS, all connected  MB", "%.1f" % ((gc.get("VmRSS_kib") or 0) / 1024),
        "fds %s" % gc.get("fds"))
    row("gateway peak (VmHWM)  MB", "%.1f" % ((gp.get("VmHWM_kib") or 0) / 1024),
        "target < 1024: %s" % ("met" if r.get("target_met") else "MISSED"))
    row("bench_fleet errors by kind", json.dumps(f.get("errors", {})))
    row("gateway stop", r.get("gateway_stop", "?"),
        "fds after the fleet left: %s" % r.get("gateway_after_fleet", {}).get("fds"))
    print("  " + "-" * 76)


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    build, out = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    b = Fleet(build, out)
    for f in (b.gw_bin, b.certs_bin, b.fleet_bin):
        if not os.access(f, os.X_OK):
            print("bench: %s is missing (build first: make bench)" % f, file=sys.stderr)
            return 1
    try:
        r = b.run()
    finally:
        for p in (getattr(b, "fleet", None), getattr(b, "gw", None)):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()
    path = save_results(out, "fleet", r)
    report(r)
    print("  results: %s (key \"fleet\")" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
