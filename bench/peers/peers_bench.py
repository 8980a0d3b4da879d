#!/usr/bin/env python3
"""peers_bench.py — hcp beside what a province could deploy instead (issue #18
part 1; docs/bench.md "Peers (issue #18)"): PostgreSQL 15 logical replication
and NATS JetStream with leaf nodes, on the same ~600-byte records, on the same
machine, in the same run as hcp, one after the other.

  peers_bench.py BUILD_DIR OUT_DIR [--quick]
  peers_bench.py BUILD_DIR OUT_DIR --link

  hcp   catch-up of N events from one county node to the gateway, and a live
        trickle from K nodes (node commit -> gateway acknowledgement): the
        replication bench's own code (bench/repl_bench.py: its catch_up,
        fleet and trickle steps, run here with this bench's sizes).
  pg    PostgreSQL 15 (Debian postgresql-15): one server per county
        (publisher) and one for the province (subscriber), each made by
        initdb in a temporary directory and run on 127.0.0.1 as an
        unprivileged user (the `postgres` account Debian's package makes, or
        `nobody`, when this runs as root). fsync=on, synchronous_commit=on on
        both sides and in the subscription (an apply worker's default is off).
        Catch-up: the subscription made disabled without an initial copy (its
        slot on the publisher keeps the WAL), N rows inserted at the publisher
        in transactions of TXN rows, then ENABLE; time until the subscriber's
        max(seq) for the county is N (polled every 100 ms; count(*) checked
        after). Trickle: K publishers, one subscriber with K subscriptions; a
        row per transaction, RATE a second per county; latency = a NOTIFY
        from an ALWAYS trigger on the subscriber's table (sent when the apply
        worker's transaction commits) received by a LISTEN connection, minus
        the moment the INSERT's commit returned at the publisher (one
        monotonic clock, one process).
  nats  NATS JetStream (Debian nats-server 2.9): a hub and one edge server per
        county, each edge a leaf node of the hub with its own JetStream domain;
        the edge stream EDGE_<county>, the hub stream PROV sourcing the edge
        streams over the leaf links, file storage. bench/peers/natspeer (Go,
        Debian's nats.go, built offline) does the client side. Catch-up: N
        records published into the edge stream while the hub stream has no
        source, then the source added; time until PROV holds N. Trickle: as
        for PostgreSQL, latency = delivery from PROV to a consumer minus the
        moment the publish ack came back from the edge.
  floor after hcp's part: the least a live event can take over hcp's
        transport on this disk (bench_nng_raw live; docs/bench.md "The floor
        under the live path"). FLOOR_N requests of one event's size at K x
        RATE a second through nng's mutual TLS req/rep in one process:
        answered at once, after one durable page write, and after LMDB's two
        (data pages, then the meta page); and the two writes alone.

--link (instead of the above; docs/bench.md "Slow links (issue #18)"): the
catch-up of LINK_N records over a slow county link, bench/slowlink.py's
SlowLink proxy at bench/link_bench.py's rate, delay and loss
(HCP_BENCH_LINK_RATE_KBIT, _DELAY_MS, _LOSS_PCT), a new proxy per run, both
directions shaped. hcp: a node filled by wrk and bench/repl.lua (the records
above), its store copied for each run, dialling the gateway through the proxy
(bench/link_bench.py's LinkBench), with HCP_REPL_ZSTD=off and with the default
compression. PostgreSQL: the subscription's conninfo names the proxy, which
forwards to the publisher (the walsender's stream, publisher -> subscriber,
comes back through it). NATS: the edge's leaf remote URL names the proxy,
which forwards to the hub's leaf port (the sourced stream goes edge -> hub).
Rounds of hcp off, hcp on, PostgreSQL, NATS, LINK_REPEAT times; per system:
seconds, records/s, bytes on the link toward the province and toward the
county, and the ratios hcp / peer of the medians. Adds "peers_link" to
OUT_DIR/results.json (also alone in OUT_DIR/peers_link.json). The proxy only:
with netem the servers would have to run inside the namespace.

Environment: HCP_BENCH_PEERS_N (1000000; 20000 with --quick),
HCP_BENCH_PEERS_COUNTIES (4: the trickle's counties), HCP_BENCH_PEERS_RATE
(20 records/s per county), HCP_BENCH_PEERS_TRICKLE_S (20; 5 with --quick),
HCP_BENCH_PEERS_PG_TXN (1000 rows per publisher transaction in the catch-up
fill), HCP_BENCH_PEERS_SKIP (comma list of hcp, pg, nats; bench/run.sh skips the
whole stage when it is 1),
HCP_BENCH_PEERS_FLOOR_N (600 requests a series; 200 with --quick; 0 skips the
floor), HCP_BENCH_PEERS_QUICK=1 (same as --quick); with --link: HCP_BENCH_PEERS_LINK_N
(10000), HCP_BENCH_PEERS_LINK_REPEAT (3), HCP_BENCH_PEERS_LINK_TIMEOUT_S (600
per catch-up). Adds "peers" to OUT_DIR/results.json
(also alone in OUT_DIR/peers.json) and prints a table. No figure is a pass or a
fail: the script fails only when something could not be measured.
"""
import json
import os
import pwd
import random
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

# psycopg2 is Debian's python3-psycopg2: under another Python on PATH (a
# pyenv shim, a venv) it is not importable, so run under Debian's own.
try:
    import psycopg2
except ImportError:
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and \
            os.access("/usr/bin/python3", os.X_OK):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("bench: python3-psycopg2 is missing (scripts/deps.sh bench)", file=sys.stderr)
    sys.exit(1)

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.dirname(HERE)
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)
import repl_bench  # noqa: E402  (the hcp side: the replication bench's own steps)
import link_bench  # noqa: E402  (--link: hcp over the shaped link, its knobs)
from slowlink import SlowLink  # noqa: E402

PG_BIN = "/usr/lib/postgresql/15/bin"
NATS_SERVER = "/usr/sbin/nats-server"
GOPATH = "/usr/share/gocode"
POLL_S = 0.1
PHRASE = "办理很快，工作人员态度很好。"


def env_int(name, default):
    v = os.environ.get(name, "")
    return int(v) if v.strip() else default


QUICK = os.environ.get("HCP_BENCH_PEERS_QUICK", "") == "1" or "--quick" in sys.argv
N = env_int("HCP_BENCH_PEERS_N", 20000 if QUICK else 1000000)
K = max(1, min(env_int("HCP_BENCH_PEERS_COUNTIES", 4), 44))
RATE = env_int("HCP_BENCH_PEERS_RATE", 20)
TRICKLE_S = env_int("HCP_BENCH_PEERS_TRICKLE_S", 5 if QUICK else 20)
PG_TXN = max(1, env_int("HCP_BENCH_PEERS_PG_TXN", 1000))
FLOOR_N = max(0, env_int("HCP_BENCH_PEERS_FLOOR_N", 200 if QUICK else 600))
SKIP = set(s.strip().lower() for s in os.environ.get("HCP_BENCH_PEERS_SKIP", "").split(",") if s)
# --link: the catch-up over a shaped link (bench/link_bench.py's rate, delay, loss)
LINK = "--link" in sys.argv
LINK_N = env_int("HCP_BENCH_PEERS_LINK_N", 10000)
LINK_REPEAT = max(1, env_int("HCP_BENCH_PEERS_LINK_REPEAT", 3))
LINK_TIMEOUT_S = env_int("HCP_BENCH_PEERS_LINK_TIMEOUT_S", 600)
SHAPER = (os.environ.get("HCP_BENCH_LINK_SHAPER", "") or "auto").strip()
if LINK:
    N = LINK_N
    SKIP = set()  # all three, or no comparison
# hcp's node histogram buckets (node/sync.c lat_bounds), seconds: the peers'
# latencies are also put into them so that the quantiles compare like with like
HCP_BOUNDS = [0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02,
              0.03, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, float("inf")]

say = repl_bench.say
free_port = repl_bench.free_port


def counties():
    """The first K Qinghai counties of data/divisions.tsv (630102 first)."""
    with open(os.path.join(ROOT, "data", "divisions.tsv"), encoding="utf-8") as f:
        codes = [line.split("\t")[0] for line in f if line[:1].isdigit()]
    return codes[:K]


def tree_cpu_seconds(pid):
    """CPU seconds (user + system) of pid and its living children: a
    postmaster and its backends, walsenders and workers."""
    total = repl_bench.cpu_seconds(pid) or 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                total += repl_bench.cpu_seconds(int(d)) or 0.0
        except (OSError, IndexError, ValueError):
            pass
    return total


def quantiles(samples_ms):
    """Exact (nearest-rank) p50/p90/p99/max/mean of samples in ms, and the
    p50/p99 interpolated inside hcp's histogram buckets, as hcp's own are."""
    v = sorted(samples_ms)
    if not v:
        return {}

    def rank(q):
        return v[min(len(v) - 1, max(0, int(q * len(v) + 0.5) - 1))]

    cum, i = [], 0
    for le in HCP_BOUNDS:
        while i < len(v) and v[i] <= le * 1000:
            i += 1
        cum.append(i)
    buckets = list(zip(HCP_BOUNDS, cum))

    def hq(q):
        x, _, _ = repl_bench.hist_quantile(buckets, q)
        return round(1000 * x, 2) if x is not None else None

    return {"n": len(v), "p50_ms": round(rank(0.5), 3), "p90_ms": round(rank(0.9), 3),
            "p99_ms": round(rank(0.99), 3), "max_ms": round(v[-1], 3),
            "min_ms": round(v[0], 3), "mean_ms": round(sum(v) / len(v), 3),
            "p50_ms_hcp_buckets": hq(0.5), "p99_ms_hcp_buckets": hq(0.99)}


def load_note():
    la = os.getloadavg()
    return [round(x, 2) for x in la]


# ---------------------------------------------------------------- hcp ----
def run_hcp(out, work, cs):
    """hcp's catch-up and trickle through bench/repl_bench.py's steps."""
    repl_bench.N = N
    repl_bench.FLEET = K
    repl_bench.FLEET_N = max(100, RATE * 10)
    repl_bench.RATE = RATE
    repl_bench.TRICKLE_S = TRICKLE_S
    b = repl_bench.Bench(BUILD, out)
    b.work = os.path.join(work, "hcp")
    b.pki = os.path.join(b.work, "pki")
    shutil.rmtree(b.work, ignore_errors=True)
    os.makedirs(b.work)
    r = {"load_before": load_note()}
    try:
        b.make_pki(sorted(set(cs + ["630102"])))
        b.catch_up()
        gw, nodes = b.fleet(cs)
        b.trickle(gw, nodes)
    finally:
        b.stop_all()
    cu, t = b.res["catch_up"], b.res["trickle"]
    r["catch_up"] = {"records": cu["events"], "seconds": cu["seconds"],
                     "records_per_s": cu["events_per_s"], "fill_per_s": cu["fill_per_s"],
                     "cpu_s": {"gateway": cu["gateway_cpu_s"], "node": cu["node_cpu_s"]},
                     "bytes_per_record_gateway": round(cu["gateway_bytes_on_disk"] / cu["events"])}
    r["trickle"] = {"counties": t["nodes"], "rate_per_county": t["rate_per_node"],
                    "seconds": t["seconds"], "records": t["events_measured"],
                    "p50_ms": t["p50_ms"], "p90_ms": t["p90_ms"], "p99_ms": t["p99_ms"],
                    "p99_bucket_ms": t["p99_bucket_ms"], "mean_ms": t["mean_ms"],
                    "max_bucket_ms": t["max_bucket_ms"],
                    "p50_ms_hcp_buckets": t["p50_ms"], "p99_ms_hcp_buckets": t["p99_ms"],
                    "cpu_s": t["cpu_s"], "method": t["method"]}
    r["load_after"] = load_note()
    if FLOOR_N > 0:
        r["floor"] = run_floor(b.pki, b.work)
    return r


def run_floor(pki, work):
    """bench_nng_raw live: the floor under a live event over nng's TLS at the
    trickle's total rate (a series each: round trip, one durable write, LMDB's
    two, and the round trip with either in front of its answer)."""
    rate = K * RATE
    say("floor: %d requests a series at %d/s over nng TLS, with and without durable writes"
        % (FLOOR_N, rate))
    exe = os.path.join(BUILD, "bench", "bench_nng_raw")
    out = subprocess.run([exe, "live", str(free_port()), pki + "/ca.crt", pki + "/gateway.crt",
                          pki + "/gateway.key", pki + "/nodes/630102.crt",
                          pki + "/nodes/630102.key", repl_bench.GW_NAME, str(FLOOR_N), str(rate),
                          os.path.join(work, "floor.dat")],
                         check=True, stdout=subprocess.PIPE).stdout
    r = json.loads(out)
    for v in r["series"].values():
        for k in list(v):
            v[k] = round(v[k], 3)
    return r


# ----------------------------------------------------------- postgres ----
class Pg:
    """One PostgreSQL 15 server in dir, on 127.0.0.1:port, run as user."""

    def __init__(self, base, name, user, workers):
        self.dir = os.path.join(base, name)
        self.log = os.path.join(base, name + ".log")
        self.port = free_port()
        self.user = user
        self.run(["initdb", "-D", self.dir, "-U", "bench", "--auth=trust", "-E", "UTF8",
                  "--locale=C", "--no-instructions"])
        with open(os.path.join(self.dir, "postgresql.conf"), "a") as f:
            f.write("\n# bench/peers/peers_bench.py\n"
                    "listen_addresses = '127.0.0.1'\nport = %d\n"
                    "unix_socket_directories = '%s'\n"
                    "wal_level = logical\nfsync = on\nsynchronous_commit = on\n"
                    "full_page_writes = on\nmax_wal_size = 4GB\n"
                    "max_wal_senders = %d\nmax_replication_slots = %d\n"
                    "max_logical_replication_workers = %d\nmax_worker_processes = %d\n"
                    % (self.port, self.dir, workers + 4, workers + 4, workers + 4,
                       workers + 12))
        self.run(["pg_ctl", "-D", self.dir, "-l", self.log, "-w", "-t", "60", "start"])
        with open(os.path.join(self.dir, "postmaster.pid")) as f:
            self.pid = int(f.readline())

    def run(self, argv):
        cmd = [os.path.join(PG_BIN, argv[0])] + argv[1:]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--"] + cmd
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if p.returncode != 0:
            raise RuntimeError("%s: exit %d\n%s%s" % (" ".join(argv[:2]), p.returncode,
                                                      p.stdout[-2000:], p.stderr[-2000:]))

    def dsn(self):
        return "host=127.0.0.1 port=%d user=bench dbname=postgres" % self.port

    def connect(self):
        c = psycopg2.connect(self.dsn())
        c.autocommit = True
        return c

    def sql(self, q, args=None):
        c = self.connect()
        try:
            cur = c.cursor()
            cur.execute(q, args)
            return cur.fetchall() if cur.description else None
        finally:
            c.close()

    def cpu(self):
        return tree_cpu_seconds(self.pid)

    def stop(self):
        try:
            self.run(["pg_ctl", "-D", self.dir, "-m", "fast", "-w", "-t", "60", "stop"])
        except RuntimeError as e:
            say("pg: stop of %s: %s" % (self.dir, e))


TABLE = """CREATE TABLE ev (county text NOT NULL, seq bigint NOT NULL,
  created timestamptz NOT NULL, unit_code text, unit_name text, item_code text,
  item_name text, channel text, rating smallint, content text,
  PRIMARY KEY (county, seq))"""

INSERT_ONE = """INSERT INTO ev VALUES (%s, %s, now(), 'U1', '城东区政务服务中心', 'S1', '营业执照',
  'web', %s, %s)"""


def row_content(seq):
    return "%s 第t0组%d批%d号" % (PHRASE * 11, seq // 1000, seq % 1000)


def pg_user():
    """Who runs the servers: this user unless root (PostgreSQL refuses root),
    then Debian's `postgres` account, else `nobody`."""
    if os.geteuid() != 0:
        return None
    for u in ("postgres", "nobody"):
        try:
            pwd.getpwnam(u)
            return u
        except KeyError:
            pass
    raise RuntimeError("running as root and neither a postgres nor a nobody account exists")


class PgBench:
    def __init__(self, work):
        self.work = work
        self.user = pg_user()
        self.base = tempfile.mkdtemp(prefix="hcp-peers-pg-")
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.base, pw.pw_uid, pw.pw_gid)
        self.servers = []

    def server(self, name, workers=1):
        s = Pg(self.base, name, self.user, workers)
        self.servers.append(s)
        return s

    def stop_all(self):
        for s in self.servers:
            s.stop()
            if os.path.exists(s.log):
                shutil.copy(s.log, os.path.join(self.work, os.path.basename(s.log)))
            shutil.rmtree(s.dir, ignore_errors=True)  # the name may be used again
        self.servers = []

    def cleanup(self):
        self.stop_all()
        shutil.rmtree(self.base, ignore_errors=True)

    @staticmethod
    def subscribe(sub, pub, county, enabled, dsn=None):
        sub.sql("CREATE SUBSCRIPTION s_%s CONNECTION '%s' PUBLICATION p WITH (enabled = %s, "
                "copy_data = false, synchronous_commit = 'on')"
                % (county, dsn or pub.dsn(), "true" if enabled else "false"))

    def catch_up(self, county, shape=None, timeout=None):
        """shape: None (loopback), or a function of the publisher's port
        returning a started SlowLink to it; the subscription's conninfo then
        names the link's port, so the walsender's stream (publisher ->
        subscriber) crosses it. Its counters during the catch-up are in the
        result ("link"); the link is closed here."""
        say("(pg) catch-up: publisher %s and the province's subscriber (initdb in %s, run as %s)"
            % (county, self.base, self.user or "this user"))
        pub = self.server("pub-" + county)
        sub = self.server("prov")
        pub.sql(TABLE)
        pub.sql("CREATE PUBLICATION p FOR TABLE ev")
        sub.sql(TABLE)
        link = shape(pub.port) if shape else None
        try:
            return self._catch_up(county, pub, sub, link, timeout)
        finally:
            if link:
                link.close()

    def _catch_up(self, county, pub, sub, link, timeout):
        self.subscribe(sub, pub, county, False, link and
                       "host=127.0.0.1 port=%d user=bench dbname=postgres" % link.port)
        say("(pg) fill the publisher with %s rows, %d per transaction (subscription disabled)"
            % (format(N, ","), PG_TXN))
        t0 = time.monotonic()
        pub.sql("""DO $$ DECLARE i bigint := 0; BEGIN
  WHILE i < %d LOOP
    INSERT INTO ev SELECT %%s, g, now(), 'U1', '城东区政务服务中心', 'S1', '营业执照', 'web',
      3 + g %%%% 3, repeat(%%s, 11) || ' 第t0组' || g / 1000 || '批' || g %%%% 1000 || '号'
      FROM generate_series(i + 1, least(i + %d, %d)) g;
    COMMIT;
    i := i + %d;
  END LOOP; END $$""" % (N, PG_TXN, N, PG_TXN), (county, PHRASE))
        fill_s = time.monotonic() - t0
        have = pub.sql("SELECT count(*) FROM ev")[0][0]
        if have != N:
            raise RuntimeError("pg: the publisher holds %d rows, not %d" % (have, N))
        slot = pub.sql("SELECT slot_name, pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), "
                       "restart_lsn)) FROM pg_replication_slots")
        say("(pg) %s rows in %.1f s (%.0f/s); slot %s behind by %s; ENABLE"
            % (format(N, ","), fill_s, N / fill_s, slot[0][0] if slot else "?",
               slot[0][1] if slot else "?"))
        c = sub.connect()
        cur = c.cursor()
        cpu0 = (pub.cpu(), sub.cpu())
        l0 = link.counters() if link else None
        t0 = time.monotonic()
        cur.execute("ALTER SUBSCRIPTION s_%s ENABLE" % county)
        deadline = t0 + (timeout or max(120, N / 1000))
        got = 0
        while time.monotonic() < deadline:
            cur.execute("SELECT coalesce(max(seq), 0) FROM ev WHERE county = %s", (county,))
            got = cur.fetchone()[0]
            if got >= N:
                break
            time.sleep(POLL_S)
        secs = time.monotonic() - t0
        cpu1 = (pub.cpu(), sub.cpu())
        l1 = link.counters() if link else None
        if got < N:
            raise RuntimeError("pg catch-up: max(seq) %d of %d after %.0f s" % (got, N, secs))
        cur.execute("SELECT count(*), pg_relation_size('ev') FROM ev")
        count, size = cur.fetchone()
        c.close()
        if count != N:
            raise RuntimeError("pg catch-up: %d rows at the subscriber, not %d" % (count, N))
        r = {"records": N, "seconds": round(secs, 3), "records_per_s": round(N / secs, 1),
             "fill_seconds": round(fill_s, 2), "fill_per_s": round(N / fill_s, 1),
             "rows_per_publisher_txn": PG_TXN, "poll_s": POLL_S,
             "bytes_per_record_table": round(size / N),
             "cpu_s": {"publisher": round(cpu1[0] - cpu0[0], 2),
                       "subscriber": round(cpu1[1] - cpu0[1], 2)}}
        if link:
            # the subscriber dialled the publisher: "down" is the walsender's stream
            r["link"] = {"to_province_bytes": l1["down"] - l0["down"],
                         "to_county_bytes": l1["up"] - l0["up"], "conns": l1["conns"],
                         "simulated_losses": l1["stalls"] - l0["stalls"]}
        say("(pg) catch-up: %.1f s, %.0f rows/s" % (secs, N / secs))
        self.stop_all()
        return r

    def trickle(self, cs):
        say("(pg) trickle: %d publishers, one subscriber, %d rows/s each for %d s"
            % (len(cs), RATE, TRICKLE_S))
        sub = self.server("prov-t", workers=len(cs))
        sub.sql(TABLE)
        sub.sql("""CREATE FUNCTION ev_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('ev', NEW.county || ' ' || NEW.seq); RETURN NULL; END $$""")
        sub.sql("CREATE TRIGGER ev_n AFTER INSERT ON ev FOR EACH ROW EXECUTE FUNCTION "
                "ev_notify()")
        sub.sql("ALTER TABLE ev ENABLE ALWAYS TRIGGER ev_n")  # apply workers are replicas
        pubs = {}
        for c in cs:
            p = self.server("pub-t-" + c)
            p.sql(TABLE)
            p.sql("CREATE PUBLICATION p FOR TABLE ev")
            self.subscribe(sub, p, c, True)
            pubs[c] = p
        seen = {}
        stop = threading.Event()
        lc = sub.connect()
        lc.cursor().execute("LISTEN ev")

        def listen():
            while not stop.is_set():
                if select.select([lc], [], [], 0.2)[0]:
                    lc.poll()
                    at = time.monotonic()
                    while lc.notifies:
                        seen[lc.notifies.pop(0).payload] = at

        lt = threading.Thread(target=listen, daemon=True)
        lt.start()
        # every apply worker streaming, then one warm-up row per county
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            n = sub.sql("SELECT count(*) FROM pg_stat_subscription WHERE relid IS NULL AND "
                        "pid IS NOT NULL")[0][0]
            if n >= len(cs):
                break
            time.sleep(0.1)
        for c, p in pubs.items():
            p.sql(INSERT_ONE, (c, 0, 3, row_content(0)))
        while time.monotonic() < deadline and not all("%s 0" % c in seen for c in cs):
            time.sleep(0.02)
        if not all("%s 0" % c in seen for c in cs):
            stop.set()
            raise RuntimeError("pg trickle: the warm-up rows did not all reach the subscriber")
        committed, sent, errors = {}, {}, [0]
        rng = random.Random(4)
        period = 1.0 / RATE
        start = time.monotonic() + 0.2
        end = start + TRICKLE_S

        def post(c, phase):
            conn = pubs[c].connect()
            cur = conn.cursor()
            due = start + phase
            seq = 0
            while True:
                seq += 1
                d = due - time.monotonic()
                if d > 0:
                    time.sleep(d)
                if time.monotonic() >= end:
                    break
                t0 = time.monotonic()
                try:
                    cur.execute(INSERT_ONE, (c, seq, 3 + seq % 3, row_content(seq)))
                    t1 = time.monotonic()
                    sent["%s %d" % (c, seq)] = t0
                    committed["%s %d" % (c, seq)] = t1
                except psycopg2.Error:
                    errors[0] += 1
                due += period
            conn.close()

        cpu0 = [p.cpu() for p in pubs.values()] + [sub.cpu()]
        posters = [threading.Thread(target=post, args=(c, rng.uniform(0, period))) for c in cs]
        for t in posters:
            t.start()
        for t in posters:
            t.join()
        cpu1 = [p.cpu() for p in pubs.values()] + [sub.cpu()]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(k in seen for k in committed):
            time.sleep(0.05)
        stop.set()
        lt.join()
        lc.close()
        lat = [1000 * (seen[k] - t) for k, t in committed.items() if k in seen]
        lat_sent = [1000 * (seen[k] - t) for k, t in sent.items() if k in seen]
        commit_ms = sorted(1000 * (committed[k] - sent[k]) for k in committed)
        r = {"counties": len(cs), "rate_per_county": RATE, "seconds": TRICKLE_S,
             "records": len(committed), "insert_errors": errors[0],
             "not_at_subscriber": sum(1 for k in committed if k not in seen),
             "publisher_commit_p50_ms": round(commit_ms[len(commit_ms) // 2], 3)
             if commit_ms else None,
             "from_insert_sent": quantiles(lat_sent),
             "cpu_s": {"publishers": round(sum(cpu1[:-1]) - sum(cpu0[:-1]), 2),
                       "subscriber": round(cpu1[-1] - cpu0[-1], 2)},
             "method": "publisher INSERT (one row, autocommit) returned -> NOTIFY from an "
                       "ALWAYS trigger on the subscriber's table received by a LISTEN "
                       "connection; one monotonic clock"}
        r.update(quantiles(lat))
        say("(pg) trickle: p50 %s ms, p99 %s ms over %d rows (exact; in hcp's buckets p50 %s, "
            "p99 %s)" % (r.get("p50_ms"), r.get("p99_ms"), len(lat),
                         r.get("p50_ms_hcp_buckets"), r.get("p99_ms_hcp_buckets")))
        self.stop_all()
        return r


def run_pg(work, cs):
    b = PgBench(work)
    r = {"load_before": load_note(), "server_user": b.user or pwd.getpwuid(os.geteuid())[0],
         "version": subprocess.run([os.path.join(PG_BIN, "postgres"), "--version"],
                                   capture_output=True, text=True).stdout.strip(),
         "settings": "fsync=on, synchronous_commit=on (both servers and the subscription), "
                     "wal_level=logical, max_wal_size=4GB, otherwise initdb's defaults"}
    try:
        r["catch_up"] = b.catch_up(cs[0])
        r["trickle"] = b.trickle(cs)
    finally:
        b.cleanup()
    r["load_after"] = load_note()
    return r


# --------------------------------------------------------------- nats ----
def build_natspeer(work):
    """bench/peers/natspeer against Debian's nats.go, GOPATH mode, offline."""
    exe = os.path.join(work, "natspeer")
    env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOFLAGS="", GOPROXY="off",
               GOENV="off", GOTOOLCHAIN="local", CGO_ENABLED="0",
               GOCACHE=os.path.join(work, "gocache"), HOME=work)
    p = subprocess.run(["go", "build", "-o", exe, "."], cwd=os.path.join(HERE, "natspeer"),
                       env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("go build of bench/peers/natspeer failed (scripts/deps.sh bench):\n"
                           + p.stdout + p.stderr)
    return exe


class NatsBench:
    def __init__(self, work):
        self.work = work
        self.procs = []
        self.links = []

    def server(self, name, conf):
        path = os.path.join(self.work, name + ".conf")
        with open(path, "w") as f:
            f.write(conf)
        log = open(os.path.join(self.work, name + ".log"), "wb")
        p = subprocess.Popen([NATS_SERVER, "-c", path], stdin=subprocess.DEVNULL,
                             stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append(p)
        return p

    def wait_port(self, port, p, secs=20):
        end = time.monotonic() + secs
        while time.monotonic() < end:
            if p.poll() is not None:
                raise RuntimeError("nats-server exited (%s)" % self.work)
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not listen on %d" % port)

    def topology(self, tag, cs, shape=None):
        """A hub and an edge per county; returns (hub, [(county, url, domain, proc)]).
        shape: None (loopback), or a function of the hub's leaf port returning
        a started SlowLink to it, which every edge's leaf remote then dials
        (hub["link"]; closed by stop_all)."""
        hp, lp = free_port(), free_port()
        d = os.path.join(self.work, tag)
        os.makedirs(d, exist_ok=True)
        hub = self.server(tag + "-hub", 'server_name: hub\nlisten: "127.0.0.1:%d"\n'
                          'jetstream { store_dir: "%s/hub", domain: hub }\n'
                          'leafnodes { listen: "127.0.0.1:%d" }\n' % (hp, d, lp))
        self.wait_port(hp, hub)
        self.wait_port(lp, hub)
        link = shape(lp) if shape else None
        if link:
            self.links.append(link)
        rp = link.port if link else lp
        edges = []
        for c in cs:
            ep = free_port()
            e = self.server("%s-edge-%s" % (tag, c),
                            'server_name: edge%s\nlisten: "127.0.0.1:%d"\n'
                            'jetstream { store_dir: "%s/edge%s", domain: c%s }\n'
                            'leafnodes { remotes: [ { url: "nats-leaf://127.0.0.1:%d" } ] }\n'
                            % (c, ep, d, c, c, rp))
            self.wait_port(ep, e)
            edges.append((c, "nats://127.0.0.1:%d" % ep, "c" + c, e))
        if link:  # every leaf link dialled through the shaped link
            end = time.monotonic() + 30
            while link.counters()["conns"] < len(cs) and time.monotonic() < end:
                time.sleep(0.05)
        time.sleep(1.0)  # the leaf links come up
        return {"url": "nats://127.0.0.1:%d" % hp, "proc": hub, "link": link}, edges

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        for link in self.links:
            link.close()
        self.links = []

    def catch_up(self, exe, tag, county, shape=None, timeout_s=1800):
        """natspeer catchup on a fresh hub + edge: N records into the edge
        stream, then the hub stream sources them; the result of natspeer with
        the CPU of both servers and, over a shaped link, its counters
        ("link"). The servers are stopped after."""
        hub, edges = self.topology(tag, [county], shape)
        c, url, dom, eproc = edges[0]
        p = subprocess.Popen([exe, "catchup", "-hub", hub["url"], "-edge", url, "-county", c,
                              "-domain", dom, "-n", str(N), "-wait",
                              "-timeout", "%ds" % timeout_s], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        line = p.stdout.readline()
        if not line.startswith("{"):
            p.wait()
            raise RuntimeError("natspeer catchup failed before the fill ended")
        filled = json.loads(line)
        say("(nats) %s records in the edge stream in %.1f s (%.0f/s); source added"
            % (format(N, ","), filled["fill_seconds"], filled["fill_per_s"]))
        link = hub["link"]
        cpu0 = (repl_bench.cpu_seconds(eproc.pid), repl_bench.cpu_seconds(hub["proc"].pid))
        l0 = link.counters() if link else None
        p.stdin.write("go\n")
        p.stdin.flush()
        line = p.stdout.readline()
        p.wait()
        cpu1 = (repl_bench.cpu_seconds(eproc.pid), repl_bench.cpu_seconds(hub["proc"].pid))
        l1 = link.counters() if link else None
        if p.returncode != 0 or not line.startswith("{"):
            raise RuntimeError("natspeer catchup failed (exit %s)" % p.returncode)
        cu = json.loads(line)
        cu.update(filled)
        cu["cpu_s"] = {"edge": round(cpu1[0] - cpu0[0], 2), "hub": round(cpu1[1] - cpu0[1], 2),
                       "natspeer_polls": "not counted"}
        for k in ("seconds", "records_per_s", "fill_seconds", "fill_per_s", "first_at_hub_s",
                  "records_per_s_after_first"):
            cu[k] = round(cu[k], 3 if k.endswith("_s") or k == "seconds" else 1)
        if link:
            # the edge dialled the hub: "up" is the sourced stream
            cu["link"] = {"to_province_bytes": l1["up"] - l0["up"],
                          "to_county_bytes": l1["down"] - l0["down"], "conns": l1["conns"],
                          "simulated_losses": l1["stalls"] - l0["stalls"]}
        say("(nats) catch-up: %.1f s, %.0f records/s (first at the hub after %.2f s)"
            % (cu["seconds"], cu["records_per_s"], cu["first_at_hub_s"]))
        self.stop_all()
        shutil.rmtree(os.path.join(self.work, tag), ignore_errors=True)
        return cu


def run_nats(work, cs):
    nats_work = os.path.join(work, "nats")
    shutil.rmtree(nats_work, ignore_errors=True)
    os.makedirs(nats_work)
    r = {"load_before": load_note(),
         "version": subprocess.run([NATS_SERVER, "--version"], capture_output=True,
                                   text=True).stdout.strip(),
         "durability": "acknowledged once written to the stream's file, before any fsync: "
                       "nats-server 2.9 has no setting for it (sync_interval, with 'always', "
                       "came in 2.10; 2.9.10 refuses the field)"}
    exe = build_natspeer(nats_work)
    b = NatsBench(nats_work)
    try:
        say("(nats) catch-up: hub + edge %s (leaf node, own JetStream domain), file storage; "
            "%s records published into the edge stream, then the hub stream sources it"
            % (cs[0], format(N, ",")))
        r["catch_up"] = b.catch_up(exe, "c", cs[0])

        say("(nats) trickle: %d edges, %d records/s each for %d s" % (len(cs), RATE, TRICKLE_S))
        hub, edges = b.topology("t", cs)
        procs = [hub["proc"]] + [e[3] for e in edges]
        cpu0 = [repl_bench.cpu_seconds(x.pid) or 0 for x in procs]
        p = subprocess.run([exe, "trickle", "-hub", hub["url"],
                            "-edges", ",".join(e[1] for e in edges),
                            "-counties", ",".join(e[0] for e in edges),
                            "-domains", ",".join(e[2] for e in edges),
                            "-rate", str(RATE), "-seconds", str(TRICKLE_S)],
                           stdout=subprocess.PIPE, text=True, timeout=TRICKLE_S + 180)
        cpu1 = [repl_bench.cpu_seconds(x.pid) or 0 for x in procs]
        if p.returncode != 0:
            raise RuntimeError("natspeer trickle failed (exit %d)" % p.returncode)
        t = json.loads(p.stdout)
        lat = t.pop("latency_ms")
        lat_sent = t.pop("latency_from_sent_ms")
        t.update(quantiles(lat))
        t["from_publish_sent"] = quantiles(lat_sent)
        t["records"] = t.pop("published")
        t["cpu_s"] = {"hub": round(cpu1[0] - cpu0[0], 2),
                      "edges": round(sum(cpu1[1:]) - sum(cpu0[1:]), 2)}
        t["method"] = ("publish ack back from the edge -> delivery from the hub stream to a "
                       "push consumer (deliver all, no acks); one monotonic clock")
        r["trickle"] = t
        say("(nats) trickle: p50 %s ms, p99 %s ms over %d records (exact; in hcp's buckets "
            "p50 %s, p99 %s)" % (t.get("p50_ms"), t.get("p99_ms"), len(lat),
                                 t.get("p50_ms_hcp_buckets"), t.get("p99_ms_hcp_buckets")))
    finally:
        b.stop_all()
    shutil.rmtree(os.path.join(nats_work, "t"), ignore_errors=True)
    r["load_after"] = load_note()
    return r


# ------------------------------------------------- the shaped link ----
def shaper(seed):
    """A function of an upstream port returning a started SlowLink to it,
    shaped as bench/link_bench.py shapes hcp's link (its environment)."""
    def shape(port):
        return SlowLink(("127.0.0.1", port), link_bench.RATE_KBIT * 1000,
                        link_bench.DELAY_MS / 1000.0, link_bench.LOSS_PCT / 100.0,
                        seed=seed).start()
    return shape


def link_medians(rows):
    """The median of each figure over a system's repeated runs."""
    out = {"runs": len(rows)}
    for r in rows:
        r["bytes_per_record"] = round(r["to_province_bytes"] / r["records"], 1)
    for k in ("seconds", "records", "records_per_s", "to_province_bytes", "to_county_bytes",
              "bytes_per_record", "simulated_losses", "failures", "redials",
              "frame_bytes_before_zstd", "zstd_ratio"):
        v = sorted(r[k] for r in rows if r.get(k) is not None)
        if v:
            out[k] = v[len(v) // 2]
            out[k + "_range"] = [v[0], v[-1]]
    return out


def run_link(out, work):
    """hcp (compression off and on), PostgreSQL and NATS catching up the same
    LINK_N records, each over its own SlowLink of the same rate, delay and
    loss, LINK_REPEAT rounds alternated; medians and ratios."""
    if SHAPER == "netem":
        raise RuntimeError("HCP_BENCH_LINK_SHAPER=netem: the peers' shaped link is the proxy only")
    lb = link_bench.LinkBench(BUILD, out, os.path.join(work, "hcp"))
    pgb = PgBench(work)
    nats_work = os.path.join(work, "nats")
    os.makedirs(nats_work)
    exe = build_natspeer(nats_work)
    nb = NatsBench(nats_work)
    cs = counties()[:1]
    rows = {"hcp_off": [], "hcp_on": [], "pg": [], "nats": []}
    res = {"settings": {"records": N, "repeat": LINK_REPEAT, "rate_kbit": link_bench.RATE_KBIT,
                        "delay_ms": link_bench.DELAY_MS, "loss_pct": link_bench.LOSS_PCT,
                        "shaper": "proxy (bench/slowlink.py SlowLink), one per run",
                        "order": "per round: hcp off, hcp on, PostgreSQL, NATS",
                        "timeout_s": LINK_TIMEOUT_S},
           "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release},
           "load_before": load_note()}
    try:
        lb.make_pki()
        d, head = lb.fill_r600(N)
        lb.source, lb.head = d, head
        say("(link) hcp: a node filled with %s evaluations (wrk, repl.lua); %s records "
            "for PostgreSQL and NATS; link %d kbit/s, %d ms, %g %% loss each way"
            % (format(head, ","), format(N, ","), link_bench.RATE_KBIT, link_bench.DELAY_MS,
               link_bench.LOSS_PCT))
        for rnd in range(LINK_REPEAT):
            for level in ("off", "default"):
                gw = lb.start_gateway("gw-%s-%d" % (level, rnd), {"HCP_REPL_ZSTD": ""})
                link = shaper(18 + rnd)(gw["port"])
                try:
                    r = lb.catch_up("node-%s-%d" % (level, rnd), level,
                                    "tls+tcp://127.0.0.1:%d" % link.port, gw, LINK_TIMEOUT_S,
                                    link.counters)
                    r["simulated_losses"] = link.counters()["stalls"]
                finally:
                    lb.stop(gw["proc"])
                    link.close()
                    shutil.rmtree(os.path.join(lb.work, "gw-%s-%d" % (level, rnd)),
                                  ignore_errors=True)
                    shutil.rmtree(os.path.join(lb.work, "node-%s-%d" % (level, rnd)),
                                  ignore_errors=True)
                if not r["complete"]:
                    raise RuntimeError("hcp over the link (%s): %d of %d applied after %.0f s"
                                       % (level, r["applied"], r["events"], r["seconds"]))
                # the node dialled the gateway: "up" is the replication stream
                row = {"seconds": r["seconds"], "records": r["events"],
                       "records_per_s": r["events_per_s"],
                       "to_province_bytes": r["wire_up_bytes"],
                       "to_county_bytes": r["wire_down_bytes"],
                       "simulated_losses": r["simulated_losses"], "failures": r["failures"],
                       "redials": r["redials"], "node_cpu_s": r["node_cpu_s"],
                       "gateway_cpu_s": r["gateway_cpu_s"], "zstd_ratio": r.get("ratio"),
                       "frame_bytes_before_zstd": r["raw_bytes"] or None,
                       "frame_bytes_after_zstd": r["compressed_bytes"] or None}
                rows["hcp_" + ("off" if level == "off" else "on")].append(row)
                say("(link) hcp %-3s %6.1f s  %6.0f records/s  to province %s B, to county "
                    "%s B  redials %d" % ("off" if level == "off" else "on", row["seconds"],
                                          row["records_per_s"],
                                          format(row["to_province_bytes"], ","),
                                          format(row["to_county_bytes"], ","), row["redials"]))
            r = pgb.catch_up(cs[0], shaper(18 + rnd), LINK_TIMEOUT_S)
            rows["pg"].append(dict(r.pop("link"), seconds=r["seconds"], records=r["records"],
                                   records_per_s=r["records_per_s"], cpu_s=r["cpu_s"]))
            r = nb.catch_up(exe, "l%d" % rnd, cs[0], shaper(18 + rnd), LINK_TIMEOUT_S)
            rows["nats"].append(dict(r.pop("link"), seconds=r["seconds"], records=r["records"],
                                     records_per_s=r["records_per_s"], cpu_s=r["cpu_s"],
                                     first_at_hub_s=r["first_at_hub_s"]))
            for k in ("pg", "nats"):
                x = rows[k][-1]
                say("(link) %-4s %6.1f s  %6.0f records/s  to province %s B, to county %s B"
                    % (k, x["seconds"], x["records_per_s"], format(x["to_province_bytes"], ","),
                       format(x["to_county_bytes"], ",")))
    finally:
        lb.stop_all()
        pgb.cleanup()
        nb.stop_all()
    res["runs"] = rows
    med = res["median"] = {k: link_medians(v) for k, v in rows.items()}
    res["ratios"] = {}
    for h in ("hcp_off", "hcp_on"):
        for peer in ("pg", "nats"):
            res["ratios"]["%s_over_%s_records_per_s" % (h, peer)] = ratio(
                med[h].get("records_per_s"), med[peer].get("records_per_s"))
            res["ratios"]["%s_over_%s_bytes_to_province" % (h, peer)] = ratio(
                med[h].get("to_province_bytes"), med[peer].get("to_province_bytes"))
    res["ratios"]["note"] = ("hcp / peer, medians; records/s > 1: hcp faster; bytes < 1: hcp "
                             "puts fewer bytes on the link")
    res["load_after"] = load_note()
    path = repl_bench.save_results(out, "peers_link", res, "peers_link.json")
    link_report(res)
    print("  results: %s (key \"peers_link\")" % path)
    return 0


def link_report(res):
    med, ra, st = res["median"], res["ratios"], res["settings"]
    print()
    print("peers over a shaped link: %d kbit/s, %d ms one-way, %g %% loss each way (SlowLink "
          "proxy), %s records, medians of %d rounds"
          % (st["rate_kbit"], st["delay_ms"], st["loss_pct"], format(st["records"], ","),
             st["repeat"]))
    print("  " + "-" * 96)
    print("  %-24s %8s %9s %13s %8s %11s %9s %8s" % ("", "seconds", "records/s",
                                                     "B to province", "B/record", "B to county",
                                                     "hcp off/x", "hcp on/x"))
    for k, name in (("hcp_off", "hcp, compression off"), ("hcp_on", "hcp, compression on"),
                    ("pg", "PostgreSQL 15 logical"), ("nats", "NATS 2.9 leaf + JS")):
        m = med[k]
        r_off = ra.get("hcp_off_over_%s_records_per_s" % k)
        r_on = ra.get("hcp_on_over_%s_records_per_s" % k)
        print("  %-24s %8.1f %9.0f %13s %8.0f %11s %9s %8s"
              % (name, m.get("seconds", 0), m.get("records_per_s", 0),
                 format(m.get("to_province_bytes", 0), ","), m.get("bytes_per_record", 0),
                 format(m.get("to_county_bytes", 0), ","),
                 "%.2f" % r_off if r_off else "", "%.2f" % r_on if r_on else ""))
    print("  " + "-" * 96)
    print("  hcp off/x, hcp on/x: hcp's records/s over that row's (> 1: hcp faster); B/record:"
          " bytes to the province / records")


# ------------------------------------------------------------- report ----
def ratio(x, y):
    return round(x / y, 3) if x is not None and y else None


def report(res):
    def row(name, h, p, n, rp, rn):
        print("  %-30s %12s %12s %12s %8s %8s" % (name, h, p, n, rp, rn))

    def f(v, fmt="%.0f"):
        return "-" if v is None else fmt % v

    hc = res.get("hcp", {})
    pg = res.get("pg", {})
    na = res.get("nats", {})
    g = lambda d, *ks: _get(d, ks)  # noqa: E731
    print()
    print("peers: hcp beside PostgreSQL 15 logical replication and NATS JetStream 2.9 "
          "(one run, %s cores, %s)" % (os.cpu_count(), "quick" if QUICK else "full"))
    print("  " + "-" * 86)
    row("", "hcp", "PostgreSQL", "NATS JS", "hcp/PG", "hcp/NATS")
    ra = res["ratios"]
    row("catch-up %s records  rec/s" % format(N, ","), f(g(hc, "catch_up", "records_per_s")),
        f(g(pg, "catch_up", "records_per_s")), f(g(na, "catch_up", "records_per_s")),
        f(ra["catch_up_hcp_over_pg"], "%.2f"), f(ra["catch_up_hcp_over_nats"], "%.2f"))
    row("  seconds", f(g(hc, "catch_up", "seconds"), "%.1f"),
        f(g(pg, "catch_up", "seconds"), "%.1f"), f(g(na, "catch_up", "seconds"), "%.1f"), "", "")
    row("  CPU us per record, both ends", f(cpu_per_record(hc), "%.1f"),
        f(cpu_per_record(pg), "%.1f"),
        f(cpu_per_record(na), "%.1f"), f(ratio(cpu_per_record(hc), cpu_per_record(pg)), "%.2f"),
        f(ratio(cpu_per_record(hc), cpu_per_record(na)), "%.2f"))
    row("trickle %d x %d/s  p50 ms" % (K, RATE), f(g(hc, "trickle", "p50_ms"), "%.2f"),
        f(g(pg, "trickle", "p50_ms"), "%.2f"), f(g(na, "trickle", "p50_ms"), "%.2f"),
        f(ra["trickle_p50_hcp_over_pg"], "%.2f"), f(ra["trickle_p50_hcp_over_nats"], "%.2f"))
    row("                   p99 ms", f(g(hc, "trickle", "p99_ms"), "%.2f"),
        f(g(pg, "trickle", "p99_ms"), "%.2f"), f(g(na, "trickle", "p99_ms"), "%.2f"),
        f(ra["trickle_p99_hcp_over_pg"], "%.2f"), f(ra["trickle_p99_hcp_over_nats"], "%.2f"))
    row("  in hcp's buckets p50 / p99", "%s / %s" % (f(g(hc, "trickle", "p50_ms"), "%.1f"),
                                                      f(g(hc, "trickle", "p99_ms"), "%.1f")),
        "%s / %s" % (f(g(pg, "trickle", "p50_ms_hcp_buckets"), "%.1f"),
                     f(g(pg, "trickle", "p99_ms_hcp_buckets"), "%.1f")),
        "%s / %s" % (f(g(na, "trickle", "p50_ms_hcp_buckets"), "%.1f"),
                     f(g(na, "trickle", "p99_ms_hcp_buckets"), "%.1f")), "", "")
    row("durable when acknowledged", "fsync", "fsync", "no fsync", "", "")
    fl = g(hc, "floor", "series") or {}
    for key, name in (("rtt", "floor: nng TLS round trip"), ("rtt_flush1", "  + 1 durable write"),
                      ("rtt_flush2", "  + LMDB's 2 writes (hcp's)"), ("flush2", "  LMDB's 2 writes alone")):
        if key in fl:
            row(name, "%.2f / %.2f" % (fl[key]["p50_ms"], fl[key]["p99_ms"]), "", "", "", "")
    if fl:
        print("  (floor: p50 / p99 ms at %s requests/s, one process, no hcp code)" % f(
            g(hc, "floor", "rate")))
    print("  " + "-" * 86)
    print("  catch-up: higher is better (ratio > 1: hcp faster); latency: lower is better "
          "(ratio < 1: hcp faster)")
    print("  load average before each part: hcp %s, pg %s, nats %s"
          % (hc.get("load_before"), pg.get("load_before"), na.get("load_before")))


def cpu_per_record(part):
    """CPU microseconds both ends spent per record during a part's catch-up
    (less sensitive than the rate to what else the machine runs)."""
    cu = part.get("catch_up") if isinstance(part, dict) else None
    if not cu or not cu.get("records"):
        return None
    v = [x for x in cu.get("cpu_s", {}).values() if isinstance(x, (int, float))]
    return round(1e6 * sum(v) / cu["records"], 1) if v else None


def _get(d, ks):
    for k in ks:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    global BUILD
    # a SIGTERM unwinds like an error, so the PostgreSQL and NATS servers
    # (PostgreSQL's under another account) are stopped by the finally blocks
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    BUILD, out = os.path.abspath(args[0]), os.path.abspath(args[1])
    need = []
    if "hcp" not in SKIP:
        need += [os.path.join(BUILD, "node", "hcp-node"), os.path.join(BUILD, "gateway",
                                                                      "hcp-gateway"),
                 os.path.join(BUILD, "certs", "hcp-certs")]
    if "pg" not in SKIP:
        need += [os.path.join(PG_BIN, "initdb"), os.path.join(PG_BIN, "pg_ctl")]
    if "nats" not in SKIP:
        need += [NATS_SERVER]
    missing = [f for f in need if not os.access(f, os.X_OK)]
    if "nats" not in SKIP and not shutil.which("go"):
        missing.append("go")
    if missing:
        print("bench: missing %s (build first, and scripts/deps.sh bench)" % ", ".join(missing),
              file=sys.stderr)
        return 1
    work = os.path.join(out, "work", "peers-link" if LINK else "peers")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    if LINK:
        return run_link(out, work)
    cs = counties()
    res = {"settings": {"records": N, "counties": K, "rate_per_county": RATE,
                        "trickle_s": TRICKLE_S, "pg_rows_per_txn": PG_TXN, "quick": QUICK,
                        "order": "hcp, then PostgreSQL, then NATS, one after the other"},
           "machine": {"cpus": os.cpu_count(), "kernel": os.uname().release}}
    say("peers: %s records catch-up, trickle %d counties x %d/s for %d s%s"
        % (format(N, ","), K, RATE, TRICKLE_S, " (quick)" if QUICK else ""))
    if "hcp" not in SKIP:
        res["hcp"] = run_hcp(out, work, cs)
    if "pg" not in SKIP:
        res["pg"] = run_pg(work, cs)
    if "nats" not in SKIP:
        res["nats"] = run_nats(work, cs)
    g = lambda *ks: _get(res, ks)  # noqa: E731
    res["ratios"] = {
        "catch_up_hcp_over_pg": ratio(g("hcp", "catch_up", "records_per_s"),
                                      g("pg", "catch_up", "records_per_s")),
        "catch_up_hcp_over_nats": ratio(g("hcp", "catch_up", "records_per_s"),
                                        g("nats", "catch_up", "records_per_s")),
        "catch_up_cpu_per_record_hcp_over_pg": ratio(cpu_per_record(res.get("hcp")),
                                                     cpu_per_record(res.get("pg"))),
        "catch_up_cpu_per_record_hcp_over_nats": ratio(cpu_per_record(res.get("hcp")),
                                                       cpu_per_record(res.get("nats"))),
        # the least a durable acknowledgement over nng takes here, against the peers' p99
        "floor_p99_over_pg_trickle_p99": ratio(g("hcp", "floor", "series", "rtt_flush1", "p99_ms"),
                                               g("pg", "trickle", "p99_ms")),
        "trickle_p50_hcp_over_pg": ratio(g("hcp", "trickle", "p50_ms"),
                                         g("pg", "trickle", "p50_ms")),
        "trickle_p99_hcp_over_pg": ratio(g("hcp", "trickle", "p99_ms"),
                                         g("pg", "trickle", "p99_ms")),
        "trickle_p50_hcp_over_nats": ratio(g("hcp", "trickle", "p50_ms"),
                                           g("nats", "trickle", "p50_ms")),
        "trickle_p99_hcp_over_nats": ratio(g("hcp", "trickle", "p99_ms"),
                                           g("nats", "trickle", "p99_ms")),
        "note": "hcp / peer; catch-up: > 1 means hcp is faster; latency: < 1 means hcp is "
                "faster. Latency ratios use each peer's exact quantiles; the quantiles in "
                "hcp's histogram buckets are beside them"}
    path = repl_bench.save_results(out, "peers", res, "peers.json")
    report(res)
    print("  results: %s (key \"peers\")" % path)
    return 0


BUILD = None

if __name__ == "__main__":
    sys.exit(main(sys.argv))
