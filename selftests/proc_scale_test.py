#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""/proc/net/alttcp with more than 10 000 entries in one namespace.

About 5 500 alttcp connections over loopback (both ends alttcp, so two
rows each) and 1 000 TIME_WAIT entries are made in a namespace of their
own, and the file is read in several ways: every entry must appear
exactly once with the state it has (and ca_state "open" for a
connection, "-" for a listener or TIME_WAIT entry), the header first, sl
numbering the rows from 0, every row laid out with proc.c's fixed column widths, and a
read must finish within a bound, whether it resumes every 4 KiB (dd
bs=4096), every 100 bytes or at the kernel's own buffer size.

Then, while another process keeps opening and closing connections (rows
appear and disappear in the connection and TIME_WAIT tables), repeated
reads must still parse and must show every connection opened beforehand
exactly once.

alttcp only: Linux TCP has no such file.
"""
import operator
import os
import re
import resource
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

N_CONN = 5500           # connections made, two rows each
N_TW = 1000             # of them closed to leave a TIME_WAIT entry
N_LISTEN = 4            # listeners the connections are spread over
PORT = 9200             # listeners at PORT..PORT+N_LISTEN-1
CHURN_PORT = 9250
READ_BOUND = 3.0        # seconds for one complete read (TCG: ~0.5)
CHURN_SECS = 15

# proc.c's ALTTCP_ROW_FMT: the columns and their widths, '-' for the
# left-aligned ones. A row is exactly these fields so printed.
COLUMNS = (("sl", 6), ("local_address", -21), ("remote_address", -21),
           ("state", -12), ("snd_una", 10), ("snd_nxt", 10),
           ("rcv_nxt", 10), ("snd_wnd", 8), ("rcv_wnd", 8), ("cwnd", 8),
           ("srtt_ms", 7), ("rto_ms", 7), ("retrans", 7), ("timer", -10),
           ("timer_ms", 8), ("tx_queue", 8), ("rx_queue", 8), ("uid", 5),
           ("inode", 8), ("ca_state", -8), ("ssthresh", 10),
           ("sacked_out", 10), ("lost_out", 8), ("retrans_out", 11),
           ("reordering", 10))
FMT = " ".join("%%%ds" % w for _, w in COLUMNS)
NAMES = tuple(n for n, _ in COLUMNS)
STATES = {"LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1",
          "FIN_WAIT_2", "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT",
          "CLOSED"}
TIMERS = {"-", "retransmit", "persist", "delack", "keepalive", "fin_wait2",
          "time_wait", "synack", "loss_probe", "reorder"}
CA_STATES = {"-", "open", "recovery", "loss"}

if not lib.IS_ALTTCP:
    print("TAP version 13")
    print("1..0 # SKIP /proc/net/alttcp is alttcp's own file")
    sys.exit(lib.KSFT_SKIP)


# ssthresh is -1 until a connection's first reduction.
NUMBERS = operator.itemgetter(*(i for i, n in enumerate(NAMES) if n not in
                                 ("local_address", "remote_address", "state",
                                  "timer", "ca_state", "ssthresh")))
COL = {n: i for i, n in enumerate(NAMES)}
ADDRS_RE = re.compile(r"\d{1,3}(\.\d{1,3}){3}:\d{1,5} "
                      r"\d{1,3}(\.\d{1,3}){3}:\d{1,5}$")


def parse(data, misaligned=None):
    """Rows of one read of the file as dicts; raises on anything
    malformed. Lines not laid out as proc.c's format says go to the list
    misaligned (or raise when it is None). Written to be quick: the VM
    parses 10 000 rows many times."""
    text = data.decode("ascii")
    lib.check(text.endswith("\n"), "file does not end with a newline")
    lines = text[:-1].split("\n")
    head = lines[0].split()
    lib.check_eq(tuple(head[:len(NAMES)]), NAMES, "header columns")
    lib.check(lines[0].startswith(FMT % NAMES),
              "header not laid out as proc.c prints it: %r" % lines[0])
    ncols, width, nnames = len(head), len(lines[0]), len(NAMES)
    rows = []
    for i, line in enumerate(lines[1:]):
        f = line.split()
        if len(f) != ncols or f[0] != str(i) or f[3] not in STATES or \
           f[13] not in TIMERS or not ADDRS_RE.match(f[1] + " " + f[2]) or \
           not "".join(NUMBERS(f)).isdigit() or \
           f[COL["ca_state"]] not in CA_STATES or \
           not f[COL["ssthresh"]].lstrip("-").isdigit():
            raise AssertionError("row %d malformed (%d columns, header "
                                 "%d):\n%r\n%r" % (i, len(f), ncols,
                                                    lines[0], line))
        if len(line) != width or not line.startswith(FMT % tuple(f[:nnames])):
            lib.check(misaligned is not None,
                      "row %d is not aligned with the header:\n%r\n%r" %
                      (i, lines[0], line))
            misaligned.append(line)
        rows.append({"sl": f[0], "key": (f[1], f[2]), "local_address": f[1],
                     "remote_address": f[2], "state": f[3], "timer": f[13],
                     "inode": f[18], "ca_state": f[COL["ca_state"]]})
    return rows


def check_order(rows):
    """Listeners, then connections and request entries, then TIME_WAIT
    entries (proc.c walks the tables in that order; a TIME_WAIT entry has
    inode 0)."""
    part = 0
    for r in rows:
        p = 0 if r["state"] == "LISTEN" else \
            2 if r["timer"] == "time_wait" and r["inode"] == "0" else 1
        lib.check(p >= part, "row out of table order: sl %s %s" %
                  (r["sl"], r["state"]))
        part = p


class World:
    """The namespace, its listeners, connections and TIME_WAIT entries,
    and the rows each must produce: key (local, remote) -> (state, inode)."""

    def __init__(self):
        self.ns = lib.Netns("alttcp-ps-%d" % os.getpid())
        lib.on_exit(self.ns.delete)
        # TIME_WAIT must outlast the test.
        self.ns.run("sysctl", "-qw", "net.alttcp.msl_ms=300000")
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = 2 * N_CONN + 1000
        if hard < want:
            hard = want
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
        self.expect = {}
        self.socks = []
        t0 = time.monotonic()
        with self.ns.enter():
            self._make()
        self.setup_secs = time.monotonic() - t0
        print("# %d rows expected (%d connections, %d TIME_WAIT, %d "
              "listeners); set up in %.1f s" %
              (len(self.expect), N_CONN - N_TW, N_TW, N_LISTEN,
               self.setup_secs))

    def _row(self, s, state, sock=True):
        local = "%s:%d" % s.getsockname()
        remote = "%s:%d" % (s.getpeername() if state != "LISTEN"
                            else ("0.0.0.0", 0))
        inode = str(os.fstat(s.fileno()).st_ino) if sock else "0"
        lib.check((local, remote) not in self.expect,
                  "4-tuple used twice: %s %s" % (local, remote))
        self.expect[(local, remote)] = (state, inode)

    def _make(self):
        lsks = []
        for i in range(N_LISTEN):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, lib.PROTO)
            s.bind(("127.0.0.1", PORT + i))
            s.listen(1024)
            s.settimeout(10)
            lsks.append(s)
            self._row(s, "LISTEN")
        self.socks += lsks
        pairs = []
        batch = 256
        for base in range(0, N_CONN, batch):
            clients = []
            for i in range(base, min(base + batch, N_CONN)):
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM,
                                  lib.PROTO)
                c.settimeout(10)
                c.connect(("127.0.0.1", PORT + i % N_LISTEN))
                clients.append((c, i % N_LISTEN))
            for c, li in clients:
                srv, _ = lsks[li].accept()
                pairs.append((c, srv))
        # Accepts come in queue order: pair each client with its server
        # by address, not by position.
        by_peer = {}
        for c, srv in pairs:
            by_peer[srv.getpeername()] = srv
        pairs = [(c, by_peer[c.getsockname()]) for c, _ in pairs]
        # The client closes first and ends in TIME_WAIT; the server side
        # follows through CLOSE_WAIT and LAST_ACK to CLOSED.
        tw_keys = []
        for c, srv in pairs[:N_TW]:
            tw_keys.append(("%s:%d" % c.getsockname(),
                            "%s:%d" % c.getpeername()))
            c.close()
        for c, srv in pairs[:N_TW]:
            srv.settimeout(10)
            lib.check_eq(srv.recv(1), b"", "server's read after the FIN")
            srv.close()
        for key in tw_keys:
            self.expect[key] = ("TIME_WAIT", "0")
        for c, srv in pairs[N_TW:]:
            self._row(c, "ESTABLISHED")
            self._row(srv, "ESTABLISHED")
            self.socks += [c, srv]

    def settle(self, timeout=30):
        """Waits until the LAST_ACKs of the closed server sides are gone."""
        end = time.monotonic() + timeout
        while True:
            rows = parse(self.read_whole()[0], [])
            if len(rows) == len(self.expect) or time.monotonic() > end:
                return rows
            time.sleep(0.5)

    def read_whole(self):
        """One read through Python's buffered file: (data, seconds)."""
        with self.ns.enter():
            t0 = time.monotonic()
            with open("/proc/thread-self/net/alttcp", "rb") as f:
                data = f.read()
            return data, time.monotonic() - t0

    def read_chunks(self, size):
        """The file read size bytes per read(): (data, seconds)."""
        with self.ns.enter():
            t0 = time.monotonic()
            fd = os.open("/proc/thread-self/net/alttcp", os.O_RDONLY)
            parts = []
            try:
                while True:
                    b = os.read(fd, size)
                    if not b:
                        break
                    parts.append(b)
            finally:
                os.close(fd)
            return b"".join(parts), time.monotonic() - t0

    def read_dd(self, bs):
        """dd bs=N in the namespace: (data, seconds dd reports)."""
        r = subprocess.run(["ip", "netns", "exec", self.ns.name, "dd",
                            "if=/proc/net/alttcp", "bs=%d" % bs],
                           capture_output=True)
        lib.check(r.returncode == 0, "dd: %s" % r.stderr.decode())
        m = re.search(r"copied, ([0-9.e-]+) s", r.stderr.decode())
        lib.check(m is not None, "dd's summary: %r" % r.stderr.decode())
        return r.stdout, float(m.group(1))


_world = []


def world():
    if not _world:
        _world.append(World())
    return _world[0]


def diff(rows, expect, extra_ok=lambda r: False):
    """What is wrong with rows against expect: a list of strings."""
    seen = {}
    states = {}
    bad = []
    for r in rows:
        k = r["key"]
        if k in expect:
            seen[k] = seen.get(k, 0) + 1
            states.setdefault(k, []).append("sl %s %s" % (r["sl"],
                                                          r["state"]))
            state, inode = expect[k]
            # Idle connections over loopback lose nothing; listeners and
            # TIME_WAIT entries have no loss-recovery state.
            ca = "-" if state in ("LISTEN", "TIME_WAIT") else "open"
            if r["state"] != state or r["inode"] != inode or \
               r["ca_state"] != ca:
                bad.append("%s %s: %s inode %s ca_state %s, want %s inode "
                           "%s ca_state %s" %
                           (k[0], k[1], r["state"], r["inode"],
                            r["ca_state"], state, inode, ca))
        elif not extra_ok(r):
            bad.append("unexpected row: sl %s %s %s %s" %
                       (r["sl"], k[0], k[1], r["state"]))
    for k, n in seen.items():
        if n > 1:
            bad.append("%s %s listed %d times (%s)" %
                       (k[0], k[1], n, ", ".join(states[k])))
    missing = [k for k in expect if k not in seen]
    for k in missing[:10]:
        bad.append("%s %s (%s) missing" % (k[0], k[1], expect[k][0]))
    if len(missing) > 10:
        bad.append("... %d missing in all" % len(missing))
    return bad


def ten_thousand_entries():
    w = world()
    lib.check(len(w.expect) >= 10000, "only %d entries" % len(w.expect))
    rows = w.settle()
    reads = [("python read()", w.read_whole),
             ("read(4096)", lambda: w.read_chunks(4096)),
             ("read(100)", lambda: w.read_chunks(100)),
             ("dd bs=4096", lambda: w.read_dd(4096)),
             ("read(65536)", lambda: w.read_chunks(65536))]
    misaligned = []
    for name, fn in reads:
        data, secs = fn()
        rows = parse(data, misaligned)
        check_order(rows)
        bad = diff(rows, w.expect)
        lib.check(not bad, "%s: %d rows, %d expected:\n  %s" %
                  (name, len(rows), len(w.expect), "\n  ".join(bad[:20])))
        print("# %s: %d rows, %d bytes in %.3f s" %
              (name, len(rows), len(data), secs))
        if name == "dd bs=4096":
            lines = data.decode().split("\n")
            for st in ("LISTEN", "ESTABLISHED", "TIME_WAIT"):
                print("# " + next(ln for ln in lines if " %s " % st in ln))
        lib.check(secs < READ_BOUND, "%s took %.2f s, bound %.1f s" %
                  (name, secs, READ_BOUND))
    # Checked last, so the rest is known whatever this says.
    if misaligned:
        raise AssertionError("%d rows in %d reads not aligned with the "
                             "header, as the last:\n%s\n%s" %
                             (len(misaligned), len(reads), header_line(),
                              misaligned[-1]))


def header_line():
    return world().read_chunks(4096)[0].split(b"\n")[0].decode()


CHURN = r"""
import collections, random, socket, sys, time
P = 258
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM, P)
l.bind(("127.0.0.1", %d))
l.listen(64)
live = collections.deque()
ops = 0
end = time.monotonic() + %f
random.seed(1)
print("ready", flush=True)
while time.monotonic() < end:
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, P)
    c.connect(("127.0.0.1", %d))
    s, _ = l.accept()
    live.append((c, s))
    ops += 1
    if len(live) > 40:
        c, s = live.popleft()
        how = random.randrange(3)
        if how == 0:      # the client closes first: a TIME_WAIT entry
            c.close()
            s.close()
        elif how == 1:    # the server closes first
            s.close()
            c.close()
        else:             # abort: RST, no TIME_WAIT
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
            c.close()
            s.close()
print("ops", ops, flush=True)
"""


def consistent_while_churning():
    w = world()
    w.settle()
    # Churned TIME_WAIT entries must come and go; the stable ones were
    # made with the long MSL and keep it.
    w.ns.run("sysctl", "-qw", "net.alttcp.msl_ms=500")
    churn = subprocess.Popen(
        ["ip", "netns", "exec", w.ns.name, "python3", "-c",
         CHURN % (CHURN_PORT, CHURN_SECS, CHURN_PORT)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lib.on_exit(churn.kill)
    lib.check_eq(churn.stdout.readline().strip(), "ready", "churner")
    churn_key = ":%d" % CHURN_PORT

    def churned(r):
        # Any row of a churned connection or the churn listener.
        return r["local_address"].endswith(churn_key) or \
            r["remote_address"].endswith(churn_key)

    stats = {"reads": 0, "secs": [], "churn_rows": 0, "states": set()}
    problems = []
    misaligned = []     # ten_thousand_entries judges the layout
    lock = threading.Lock()

    def reader(fn):
        while churn.poll() is None:
            try:
                data, secs = fn()
                rows = parse(data, misaligned)
                check_order(rows)
                bad = diff(rows, w.expect, churned)
            except Exception as e:      # recorded; the case fails below
                bad = ["read failed: %s" % e]
                secs = 0
                rows = []
            with lock:
                stats["reads"] += 1
                stats["secs"].append(secs)
                ch = [r for r in rows if churned(r)]
                stats["churn_rows"] += len(ch)
                stats["states"].update(r["state"] for r in ch)
                if bad:
                    problems.append((stats["reads"], bad))

    threads = [threading.Thread(target=reader, args=(fn,)) for fn in
               (w.read_whole, lambda: w.read_chunks(100))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out, err = churn.communicate()
    lib.check_eq(churn.returncode, 0, "churner's exit: %s" % err.strip())
    ops = out.split()[-1]
    secs = stats["secs"]
    print("# %d reads during %s connections opened and closed; reads took "
          "%.3f..%.3f s; churned rows seen %d in states %s" %
          (stats["reads"], ops, min(secs), max(secs), stats["churn_rows"],
           " ".join(sorted(stats["states"]))))
    if misaligned:
        print("# %d misaligned rows (ten_thousand_entries fails on them)" %
              len(misaligned))
    for n, bad in problems[:5]:
        print("# read %d:" % n)
        for b in bad[:8]:
            print("#   " + b)
    lib.check(stats["reads"] >= 4, "only %d reads" % stats["reads"])
    lib.check(stats["churn_rows"] > 0, "no churned connection ever seen")
    lib.check(not problems, "%d of %d reads were wrong (above)" %
              (len(problems), stats["reads"]))


lib.run_cases([("ten_thousand_entries", ten_thousand_entries),
               ("consistent_while_churning", consistent_while_churning)],
              timeout=200)
