#!/usr/bin/env python3
"""test_node_crash.py — hcp-node keeps every acknowledged write across SIGKILL.

Usage: test_node_crash.py HCP_NODE_BINARY [--kills N] [--clients N] [--seed S]

Many client threads (keep-alive http.client connections) post evaluations
(ratings 1..5, so ratings 1-2 open review cases) and complaints while the
test kills the node with SIGKILL at a random moment 0.2-1.5 s after the load
started, then restarts it on the same --data. Every request answered 201 is
recorded. After each restart (before the load resumes) it checks:

  * every acknowledged case id is listed (GET /v1/cases pages), and every
    case acknowledged since the previous check (plus a sample of older
    ones) reads back with GET /v1/cases/ID -> 200 with the content, kind,
    rating and evaluation number/case pairing that was sent;
  * /metrics hcp_node_evaluations_total >= the highest acknowledged
    evaluation number, and no two acknowledged writes got the same
    evaluation number or case id (a lost commit would hand a number out
    again);
  * `hcp-node verify --data DIR` exits 0 and its head is the node's
    log head (/metrics hcp_node_log_head).

At the end: a final full check of every acknowledged case, the case counts
in /metrics equal the listed cases, and a SIGTERM shutdown exits 0 followed
by one more verify. Connection errors around a kill are expected: those
requests are simply unacknowledged. Python 3 standard library only.
"""
import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import hcptest

COUNTY = "630102"
UNIT = {"code": "U1", "name": "城东区政务服务中心"}
ITEM = {"code": "S1", "name": "营业执照"}
CHANNELS = ["window_device", "web", "app", "kiosk", "qrcode", "wechat"]
CASE_CHANNELS = ["phone", "12345", "visit", "letter", "web"]


def log(msg):
    print("[crash] " + msg, flush=True)


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


class NodeProc(hcptest.Node):
    """The hcp-node process under test, restarted on the same data dir."""

    def __init__(self, tmp):
        super().__init__(county=COUNTY, tmp=tmp)

    def start(self):
        """Start and wait for /healthz (retrying a lost port race)."""
        try:
            return super().start(deadline=20.0, attempts=5)
        except AssertionError as e:
            raise Failure(str(e))

    def term(self):
        """SIGTERM; the exit code ("timeout" after 60 s, then killed)."""
        return self.stop(signal.SIGTERM, timeout=60)

    def verify(self):
        """hcp-node verify: (exit code, head or None, output)."""
        p = subprocess.run([hcptest.binary(), "verify", "--data", self.data],
                           capture_output=True, timeout=120)
        out = (p.stdout + p.stderr).decode("utf-8", "replace")
        m = re.search(r"head=(\d+)", p.stdout.decode("utf-8", "replace"))
        return p.returncode, int(m.group(1)) if m else None, out


class Ledger:
    """What the node acknowledged (201), shared by the client threads."""

    def __init__(self):
        self.mu = threading.Lock()
        self.evals = {}      # evaluation number -> (tag, rating, case id or None)
        self.cases = {}      # case id -> expectation dict
        self.unchecked = []  # case ids acknowledged since the last full read-back
        self.attempts = 0
        self.errors = 0
        self.other_status = {}

    def ack_eval(self, tag, rating, reply):
        no, cid = reply.get("evaluation"), reply.get("case")
        with self.mu:
            check(isinstance(no, int) and no >= 1, "bad evaluation number in %r" % reply)
            check(no not in self.evals,
                  "evaluation number %d acknowledged twice (%r and %r): a committed write was lost"
                  % (no, self.evals.get(no), tag))
            check((cid is not None) == (rating <= 2),
                  "rating %d answered case=%r" % (rating, cid))
            self.evals[no] = (tag, rating, cid)
            if cid is not None:
                self._add_case(cid, {"content": tag, "kind": "review", "rating": rating})

    def ack_case(self, tag, reply):
        cid = reply.get("id")
        with self.mu:
            check(isinstance(cid, str), "201 without a case id: %r" % reply)
            check(reply.get("content") == tag, "complaint reply content %r != %r"
                  % (reply.get("content"), tag))
            self._add_case(cid, {"content": tag, "kind": "complaint", "rating": None})

    def _add_case(self, cid, exp):
        check(cid not in self.cases, "case id %s acknowledged twice: a committed write was lost"
              % cid)
        self.cases[cid] = exp
        self.unchecked.append(cid)


class Load:
    """The client threads: each posts while `go` is set, on its own connection."""

    def __init__(self, node, ledger, clients, seed):
        self.node = node
        self.ledger = ledger
        self.go = threading.Event()
        self.stop = False
        self.idle = threading.Semaphore(0)
        self.failures = []
        self.threads = [threading.Thread(target=self.run, args=(i, seed + i), daemon=True)
                        for i in range(clients)]

    def start(self):
        for t in self.threads:
            t.start()

    def pause_all(self):
        """Clear go and wait until every thread is parked (after a kill)."""
        self.go.clear()
        for _ in self.threads:
            if not self.idle.acquire(timeout=60):
                raise Failure("a client thread did not come back within 60 s")

    def resume_all(self):
        self.go.set()

    def finish(self):
        self.stop = True
        self.go.set()
        for t in self.threads:
            t.join(timeout=60)

    def run(self, idx, seed):
        rnd = random.Random(seed)
        conn, port, n = None, None, 0
        parked = True
        self.idle.release()
        try:
            while True:
                self.go.wait()
                if self.stop:
                    return
                parked = False
                while self.go.is_set() and not self.stop:
                    if conn is None or port != self.node.port:
                        if conn is not None:
                            conn.close()
                        port, token = self.node.port, self.node.token
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    n += 1
                    try:
                        self.one(conn, token, rnd, "crash-%02d-%06d" % (idx, n))
                    except (OSError, http.client.HTTPException):
                        with self.ledger.mu:
                            self.ledger.errors += 1
                        conn.close()
                        conn = None
                        time.sleep(0.005)
                if conn is not None:
                    conn.close()
                    conn = None
                parked = True
                self.idle.release()
        except Exception as e:  # a Failure from the ledger, or a bug here
            self.failures.append("client %d: %s" % (idx, e))
            if not parked:
                self.idle.release()

    def one(self, conn, token, rnd, tag):
        """One write; records it when answered 201."""
        pad = "，".join(["窗口办理等候时间较长"] * rnd.randint(0, 6))
        content = tag + " " + pad
        if rnd.random() < 0.2:
            body = {"kind": "complaint", "unit": UNIT, "service_item": ITEM,
                    "channel": rnd.choice(CASE_CHANNELS), "content": content}
            path, rating = "/v1/cases", None
        else:
            rating = rnd.randint(1, 5)
            body = {"unit": UNIT, "service_item": ITEM, "channel": rnd.choice(CHANNELS),
                    "rating": rating, "content": content}
            path = "/v1/evaluations"
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        with self.ledger.mu:
            self.ledger.attempts += 1
        conn.request("POST", path, body=data,
                     headers={"Authorization": "Bearer " + token,
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        raw = r.read()
        if r.status != 201:
            with self.ledger.mu:
                self.ledger.other_status[r.status] = self.ledger.other_status.get(r.status, 0) + 1
            if r.status in (503,):  # shutting down / storage: unacknowledged
                return
            raise Failure("%s %s -> %d %r" % ("POST", path, r.status, raw[:300]))
        reply = json.loads(raw.decode("utf-8"))
        if rating is None:
            self.ledger.ack_case(content, reply)
        else:
            self.ledger.ack_eval(content, rating, reply)


def metrics(client):
    st, body = client.request("GET", "/metrics")
    check(st == 200, "/metrics -> %d" % st)
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = int(float(v))
    return out


def listed_cases(client):
    """Every case id the node lists (GET /v1/cases, pages of 500)."""
    ids, after = set(), None
    while True:
        path = "/v1/cases?limit=500" + ("&after=" + after if after else "")
        st, body = client.request("GET", path)
        check(st == 200, "GET %s -> %d %r" % (path, st, body[:200]))
        j = json.loads(body)
        for c in j["cases"]:
            ids.add(c["id"])
        after = j.get("next")
        if not after:
            return ids


def read_back(client, cid, exp):
    """GET /v1/cases/ID and compare with what was acknowledged."""
    st, body = client.request("GET", "/v1/cases/" + cid)
    check(st == 200, "acknowledged case %s: GET -> %d %r" % (cid, st, body[:200]))
    c = json.loads(body)
    check(c.get("id") == cid, "case %s: id %r" % (cid, c.get("id")))
    check(c.get("content") == exp["content"], "case %s: content %r, acknowledged %r"
          % (cid, c.get("content"), exp["content"]))
    check(c.get("kind") == exp["kind"], "case %s: kind %r != %r" % (cid, c.get("kind"),
                                                                     exp["kind"]))
    check(c.get("rating") == exp["rating"], "case %s: rating %r != %r"
          % (cid, c.get("rating"), exp["rating"]))


def read_back_many(node, cases, ids, workers=8):
    """read_back every id in ids on `workers` connections at once (the node
    commits their access-log entries in shared transactions)."""
    errors, it, mu = [], iter(ids), threading.Lock()

    def work():
        c = hcptest.Client(node, timeout=30, decode=False)
        try:
            while True:
                with mu:
                    cid = next(it, None)
                if cid is None or errors:
                    return
                read_back(c, cid, cases[cid])
        except Exception as e:  # Failure or a connection error: report it
            errors.append(e)
        finally:
            c.close()

    ts = [threading.Thread(target=work) for _ in range(workers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise Failure("read-back: %s" % errors[0])


def check_node(node, ledger, client, rnd, full):
    """The checks after a restart; returns how many individual checks passed."""
    n = 0
    with ledger.mu:
        cases = dict(ledger.cases)
        max_eval = max(ledger.evals) if ledger.evals else 0
        fresh = list(ledger.unchecked)
        ledger.unchecked = []
    m = metrics(client)
    evals = m.get("hcp_node_evaluations_total", -1)
    check(evals >= max_eval, "hcp_node_evaluations_total %d < highest acknowledged %d"
          % (evals, max_eval))
    n += 1
    listed = listed_cases(client)
    missing = [c for c in cases if c not in listed]
    check(not missing, "%d acknowledged cases missing after restart, e.g. %s"
          % (len(missing), missing[:5]))
    n += len(cases)
    if full:
        todo = list(cases)
    else:
        fresh_set = set(fresh)
        old = [c for c in cases if c not in fresh_set]
        todo = fresh + rnd.sample(old, min(len(old), 25))
    read_back_many(node, cases, todo)
    n += len(todo)
    code, head, out = node.verify()
    check(code == 0, "hcp-node verify exited %d:\n%s" % (code, out))
    m2 = metrics(client)
    check(head is not None and head == m2.get("hcp_node_log_head"),
          "verify head %r != node log head %r" % (head, m2.get("hcp_node_log_head")))
    n += 2
    if full:
        total = sum(v for k, v in m2.items() if k.startswith("hcp_node_cases{"))
        check(total == len(listed), "/metrics counts %d cases, the list has %d"
              % (total, len(listed)))
        n += 1
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--kills", type=int, default=int(os.environ.get("HCP_CRASH_KILLS", "24")))
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("HCP_CRASH_SEED",
                                                                   str(int(time.time())))))
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    check(os.access(binary, os.X_OK), "not an executable: %s" % binary)
    hcptest.BINARY = binary
    log("seed %d (HCP_CRASH_SEED=%d reproduces the kill times), %d clients, %d kills"
        % (a.seed, a.seed, a.clients, a.kills))
    rnd = random.Random(a.seed)
    tmp = tempfile.mkdtemp(prefix="hcp-crash-")
    node = NodeProc(tmp)
    ledger = Ledger()
    load = Load(node, ledger, a.clients, a.seed * 1000)
    client = hcptest.Client(node, timeout=30, decode=False)
    checks, t0, ok = 0, time.monotonic(), False
    try:
        node.start()
        load.start()
        load.pause_all()  # every thread parked before the first round
        for k in range(1, a.kills + 1):
            tc = time.monotonic()
            checks += check_node(node, ledger, client, rnd, full=False)
            tc = time.monotonic() - tc
            delay = rnd.uniform(0.2, 1.5)
            load.resume_all()
            time.sleep(delay)
            node.kill()
            load.pause_all()
            if load.failures:
                raise Failure("client failure: %s" % load.failures[0])
            with ledger.mu:
                log("kill %2d after %.2f s: %d evaluations, %d cases acknowledged so far"
                    " (checks before it took %.1f s)"
                    % (k, delay, len(ledger.evals), len(ledger.cases), tc))
            client.close()
            node.start()
        tc = time.monotonic()
        checks += check_node(node, ledger, client, rnd, full=True)
        log("final check of %d cases took %.1f s" % (len(ledger.cases), time.monotonic() - tc))
        client.close()
        code = node.term()
        check(code == 0, "SIGTERM: hcp-node exited %r" % code)
        code, head, out = node.verify()
        check(code == 0, "final verify exited %d:\n%s" % (code, out))
        checks += 2
        ok = True
    except Failure as e:
        log("FAILED: %s" % e)
        log("node logs kept in %s" % tmp)
    finally:
        load.stop = True
        load.go.set()
        node.kill()
        load.finish()
    with ledger.mu:
        log("summary: %d kills, %d write attempts, %d acknowledged (%d evaluations, %d cases), "
            "%d connection errors, other statuses %r, %d checks passed, %.1f s"
            % (a.kills if ok else node.starts - 1, ledger.attempts,
               len(ledger.evals) + sum(1 for c in ledger.cases.values()
                                       if c["kind"] == "complaint"),
               len(ledger.evals), len(ledger.cases), ledger.errors, ledger.other_status,
               checks, time.monotonic() - t0))
    if ok and not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
