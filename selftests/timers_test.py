#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""TCP's timers as seen on the wire: retransmission backoff and the give-up
after the configured retries (data, SYN and SYN-ACK), the persist timer's
zero window probes, TIME_WAIT re-acknowledging a retransmitted FIN,
keepalive probes, and delayed acknowledgements.

The socket under test lives in namespace a (10.0.1.1); its peer is the
hand-driven alttcp_test_lib.RawPeer in b (10.0.1.2), which never answers
unless a case says so, or b's Linux TCP silenced by an nftables rule after
the handshake. A packet socket on veth1 records every segment in
both directions with the kernel's receive timestamp, so the gaps between
retransmissions are measured where a real peer would see them.

Timer parameters are set per namespace: alttcp's sysctls under
/proc/sys/net/alttcp/, or their Linux TCP equivalents (net.ipv4.tcp_*)
when ALTTCP_TEST_PROTO=6.
"""
import errno
import os
import random
import select
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

A, B = lib.A_ADDR, lib.B_ADDR
ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35
SO_RCVBUFFORCE = 33

net = lib.NetPair("tmr")
for _ns, _dev in ((net.a, "veth0"), (net.b, "veth1")):
    # One frame per segment, as on a real wire.
    _ns.run("ethtool", "-K", _dev, "tso", "off", "gso", "off", "gro", "off")
peer = lib.RawPeer(net)


# -- parameters ---------------------------------------------------------------

# alttcp's sysctl -> Linux TCP's. None: Linux has no per-namespace knob (its
# TIME_WAIT is fixed at 60 s, its delayed ACK bounds are compiled in).
LINUX_SYSCTL = {
    "retries": "net/ipv4/tcp_retries2",
    "syn_retries": "net/ipv4/tcp_syn_retries",
    "synack_retries": "net/ipv4/tcp_synack_retries",
    "rto_min_ms": None,
    "msl_ms": None,
    "delack_max_ms": None,
}
DEFAULTS = {"rto_min_ms": 200, "delack_max_ms": 200}


def param_path(name):
    """The file under /proc/sys of a parameter, or None when the protocol
    under test has none."""
    if lib.IS_ALTTCP:
        return "/proc/sys/net/alttcp/" + name
    rel = LINUX_SYSCTL[name]
    return rel and "/proc/sys/" + rel


def get_param(ns, name):
    """A parameter's value in ns; the built-in default when the protocol
    under test has no such sysctl."""
    path = param_path(name)
    with ns.enter():
        if path and os.path.exists(path):
            with open(path) as f:
                return int(f.read())
    return DEFAULTS[name]


def _write(ns, path, value):
    """Writes a sysctl of ns, remembering the old value for
    restore_params(). The thread's namespace at open() picks the copy."""
    with ns.enter():
        with open(path) as f:
            old = f.read().strip()
        with open(path, "w") as f:
            f.write(str(value))
    _saved.append((ns, path, old))


_saved = []


def set_param(ns, name, value):
    """Sets a parameter in ns; False when the protocol under test has no
    such sysctl."""
    path = param_path(name)
    if path:
        _write(ns, path, value)
    return bool(path)


def set_linux_only(ns, path, value):
    """A Linux TCP sysctl with no alttcp counterpart (only under PROTO 6)."""
    if not lib.IS_ALTTCP:
        _write(ns, path, value)


def restore_params():
    while _saved:
        ns, path, old = _saved.pop()
        with ns.enter():
            with open(path, "w") as f:
                f.write(old)


# -- capture ------------------------------------------------------------------

class Rec:
    """One captured segment: t (kernel timestamp, seconds, CLOCK_REALTIME),
    out (sent by b), seg."""

    def __init__(self, t, out, seg):
        self.t, self.out, self.seg = t, out, seg

    def __repr__(self):
        return "%.3f %s %r" % (self.t, "b>" if self.out else "a>", self.seg)


class Capture:
    """Every TCP segment on veth1 (namespace b), both ways, read by a
    thread with SO_TIMESTAMPNS. next() walks a's segments in order from a
    cursor; mark() moves the cursor to the end."""

    def __init__(self):
        with net.b.enter():
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                      socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 8 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind(("veth1", ETH_P_ALL))
        self.sock.settimeout(0.1)
        self.recs = []
        self.pos = 0
        self.cv = threading.Condition()
        self.done = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        lib.on_exit(self.stop)

    def _run(self):
        while not self.done:
            try:
                data, anc, _, addr = self.sock.recvmsg(70000, 64)
            except socket.timeout:
                continue
            except OSError:
                return
            t = time.time()
            for level, kind, val in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", val[:16])
                    if sec:
                        t = sec + nsec / 1e9
            if data[12:14] != b"\x08\x00":
                continue
            seg = lib.Seg.parse(data[14:])
            if not seg:
                continue
            with self.cv:
                self.recs.append(Rec(t, addr[2] == lib.PACKET_OUTGOING, seg))
                self.cv.notify_all()

    def stop(self):
        self.done = True
        self.thread.join(2)
        self.sock.close()

    def mark(self):
        with self.cv:
            self.pos = len(self.recs)

    def next(self, match, timeout=3.0):
        """The next segment from a after the cursor with match(seg) true
        (the cursor moves past it), or None after timeout seconds."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                while self.pos < len(self.recs):
                    r = self.recs[self.pos]
                    self.pos += 1
                    if not r.out and r.seg.src == A and match(r.seg):
                        return r
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def since(self, t0, match, out=False):
        """Segments at or after time t0 (from a, or from b when out)."""
        with self.cv:
            return [r for r in self.recs if r.t >= t0 and r.out == out and
                    match(r.seg)]

    def sent(self, match, after, timeout=2.0):
        """Time b's first segment since after (time.time() before sending)
        with match(seg) true left veth1."""
        end = time.monotonic() + timeout
        with self.cv:
            while True:
                for r in self.recs:
                    if r.out and r.t >= after and match(r.seg):
                        return r.t
                left = end - time.monotonic()
                lib.check(left > 0, "capture did not see b's segment")
                self.cv.wait(left)

    @staticmethod
    def settle():
        """Lets the capture thread catch up with what is on the wire."""
        time.sleep(0.3)

    def dump(self, t0, limit=60):
        """The segments since t0 as '# ' lines, times relative to t0."""
        with self.cv:
            recs = [r for r in self.recs if r.t >= t0]
        for r in recs[-limit:]:
            print("#   %8.3f %s %r" % (r.t - t0, "b>" if r.out else "a>",
                                      r.seg))


cap = Capture()


# -- helpers ------------------------------------------------------------------

def of(conn, match=lambda s: True):
    """match restricted to a's segments of the hand-driven connection."""
    return lambda s: (s.sport == conn.dport and s.dport == conn.sport and
                      match(s))


def connect_to_peer(port, isn, window=65535, setup=None):
    """A tested socket in a connected to the raw peer's port (which
    answers the SYN at once, so RTT is sampled). Returns (socket, conn,
    time of a's handshake ACK)."""
    c = net.a.socket()
    if setup:
        setup(c)
    c.setblocking(False)
    cap.mark()
    lib.check_eq(errno.errorcode.get(c.connect_ex((B, port))), "EINPROGRESS",
                 "non-blocking connect")
    syn = cap.next(lambda s: s.dport == port and s.flags == "S")
    lib.check(syn is not None, "no SYN to port %d" % port)
    conn = lib.RawConn(peer, port, syn.seg.sport, isn, syn.seg.seq + 1)
    conn.send("SA", options=lib.MSS_1460, window=window)
    ack = cap.next(of(conn, lambda s: "A" in s.flags and s.ack == isn + 1))
    lib.check(ack is not None, "no ACK of the SYN-ACK")
    lib.check(select.select([], [c], [], 5)[1], "connect did not complete")
    lib.check_eq(c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), 0,
                 "SO_ERROR after connect")
    c.setblocking(True)
    return c, conn, ack.t


def gaps(times):
    return [y - x for x, y in zip(times, times[1:])]


def fmt(xs):
    return " ".join("%.3f" % x for x in xs)


def check_doubling(g, what, lo=1.6, hi=2.4):
    """Every gap lo..hi times the one before (exponential backoff)."""
    for i in range(1, len(g)):
        r = g[i] / g[i - 1]
        lib.check(lo <= r <= hi, "%s: gap %d is %.2f times gap %d (%s s), "
                  "want %.1f..%.1f" % (what, i + 1, r, i, fmt(g), lo, hi))


def between(x, lo, hi, what):
    lib.check(lo <= x <= hi, "%s: %.3f s, want %.3f..%.3f" % (what, x, lo, hi))


def row_of(local):
    """alttcp's table row of a local address, or None."""
    for r in lib.conn_table(net.a, lib.PROTO):
        if r["local"] == local:
            return r
    return None


def wait_gone(match, timeout):
    """Polls the table until no row matches; returns the time (time.time())
    the row was first seen gone, or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rows = [r for r in lib.conn_table(net.a, lib.PROTO) if match(r)]
        if not rows:
            return time.time()
        time.sleep(0.01)
    return None


def recv_errno(sock, timeout):
    """Blocks in recv() until it fails; returns (errno, time.time())."""
    sock.settimeout(timeout)
    try:
        got = sock.recv(100)
    except OSError as e:
        return e.errno, time.time()
    raise AssertionError("recv returned %r instead of failing" % got)


# -- 1 ------------------------------------------------------------------------

RETRIES = 4


def stack_rto(sock):
    """The socket's current RTO in seconds: alttcp's rto_ms column, or
    tcpi_rto of Linux's TCP_INFO (microseconds, after 8 bytes of u8s)."""
    if lib.IS_ALTTCP:
        row = row_of("%s:%d" % sock.getsockname())
        lib.check(row is not None, "no table row")
        return int(row["rto_ms"]) / 1000.0
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return struct.unpack_from("I", info, 8)[0] / 1e6


def linux_retransmissions(rto, retries, rto_base=0.2):
    """How many retransmissions Linux TCP makes before giving up, for a
    first RTO of rto seconds doubling each time. tcp_retries2 is a time
    budget there, not a count: the connection dies at the first RTO
    expiry at least (2^(retries+1) - 1) * 200 ms after the original
    transmission (tcp_model_timeout, retransmits_timed_out)."""
    budget = ((2 << retries) - 1) * rto_base
    n, t = 0, 0.0
    while True:
        t += rto * (1 << n)
        if t >= budget:
            return n
        n += 1


def case_rto_backoff_then_etimedout():
    set_param(net.a, "retries", RETRIES)
    # A tail loss probe (RFC 8985) would retransmit the tail once at
    # about one RTO without backing off, before the RTO proper; the
    # backoff is what this case measures. Both stacks follow this sysctl.
    _write(net.a, "/proc/sys/net/ipv4/tcp_early_retrans", 0)
    rto_min = get_param(net.a, "rto_min_ms") / 1000.0
    # The peer is b's Linux TCP, silenced after the handshake by a rule
    # (the capture sees packets before netfilter does): a kernel answers
    # the SYN faster than the hand-driven peer, whose tens of milliseconds
    # in the VM Linux TCP (RTO = SRTT + max(4 * RTTVAR, 200 ms)) would
    # carry into the RTO.
    port = 9101
    srv = net.b.socket(lib.LINUX)
    srv.bind((B, port))
    srv.listen(1)
    c = net.a.socket()
    c.settimeout(10)
    c.connect((B, port))
    p, _ = srv.accept()
    srv.close()
    local = c.getsockname()
    rto = stack_rto(c)
    net.b.nft("input", "ip saddr %s tcp sport %d drop" % (A, local[1]))

    def ours(s):
        return s.sport == local[1] and s.dport == port
    t0 = time.time()
    c.send(b"x" * 100)
    err, t_err = recv_errno(c, 30)
    cap.settle()
    data = cap.since(t0, lambda s: ours(s) and s.load)
    rsts = cap.since(t0, lambda s: ours(s) and "R" in s.flags)
    times = [r.t for r in data]
    g = gaps(times)
    end = rsts[0].t if rsts else t_err
    print("# RTO after the handshake %.3f s; backoff (s): %s; then %s after "
          "%.3f s" % (rto, fmt(g), "RST" if rsts else "ETIMEDOUT, no RST",
                      end - times[-1]))
    lib.check_eq(errno.errorcode.get(err, err), "ETIMEDOUT", "recv errno")
    lib.check(len(times) >= 3, "%d transmissions of the data" % len(times))
    lib.check_eq(len({r.seg.seq for r in data}), 1, "distinct seqs of the "
                 "data (one segment, sent again)")
    # The handshake's RTT sample set the RTO: below the initial 1 s (the
    # VM's RTT is some ms on the wire, tens to a hundred or so inside the
    # stacks), not below rto_min; the first retransmission comes then.
    between(rto, rto_min, 0.9, "RTO the stack reports after the handshake")
    between(g[0], rto * 0.95, rto + 0.1, "first retransmission")
    if lib.IS_ALTTCP:
        want = {RETRIES}
    else:
        # At the budget's edge timer slack can tip it either way.
        want = {linux_retransmissions(g[0] * f, RETRIES) for f in (0.97, 1.03)}
    lib.check(len(times) - 1 in want, "%d retransmissions before giving up, "
              "want %s (gaps %s)" % (len(times) - 1,
                                     " or ".join(map(str, sorted(want))),
                                     fmt(g)))
    check_doubling(g + [end - times[-1]], "RTO backoff")
    if lib.IS_ALTTCP:
        # Linux TCP gives up silently; alttcp tells the peer.
        lib.check_eq(len(rsts), 1, "RSTs after the last retransmission")
        lib.check_eq(rsts[0].seg.seq, (data[0].seg.seq + 100) & 0xffffffff,
                     "RST seq")
    else:
        lib.check_eq(len(rsts), 0, "RSTs from Linux TCP")
    between(t_err - end, -0.05, 0.5, "ETIMEDOUT after the give-up")
    c.close()
    p.close()


# -- 2 ------------------------------------------------------------------------

SYN_RETRIES = 2


def case_syn_retries_etimedout():
    set_param(net.a, "syn_retries", SYN_RETRIES)
    c = net.a.socket()
    cap.mark()
    t0 = time.time()
    c.settimeout(30)
    try:
        c.connect((B, 9201))        # the raw peer never answers
        raise AssertionError("connect succeeded")
    except OSError as e:
        err, t_err = e.errno, time.time()
    cap.settle()
    syns = cap.since(t0 - 0.01, lambda s: s.dport == 9201 and s.flags == "S")
    times = [r.t for r in syns]
    g = gaps(times)
    print("# SYN gaps (s): %s; connect failed %.3f s after the last" %
          (fmt(g), t_err - times[-1]))
    lib.check_eq(errno.errorcode.get(err, err), "ETIMEDOUT", "connect errno")
    lib.check_eq(len(syns), 1 + SYN_RETRIES, "SYNs sent (gaps %s)" % fmt(g))
    lib.check_eq(len({r.seg.seq for r in syns}), 1, "distinct SYN ISNs")
    between(g[0], 0.95, 1.5, "first SYN retransmission (initial RTO 1 s)")
    check_doubling(g + [t_err - times[-1]], "SYN backoff")
    c.close()


# -- 3 ------------------------------------------------------------------------

SYNACK_RETRIES = 2


def case_syn_received_timeout():
    set_param(net.a, "synack_retries", SYNACK_RETRIES)
    lsk = net.a.socket()
    lsk.bind((A, 9301))
    lsk.listen(4)
    remote = "%s:40301" % B
    cap.mark()
    t0 = time.time()
    peer.send(lib.Seg(40301, 9301, seq=5000, flags="S", options=lib.MSS_1460))
    sa = cap.next(lambda s: s.dport == 40301 and s.flags == "SA")
    lib.check(sa is not None, "no SYN-ACK")
    lib.check_eq(lib.wait_state(net.a, "SYN_RECEIVED", remote=remote),
                 "SYN_RECEIVED", "state of the half-open connection")
    t_gone = wait_gone(lambda r: r["remote"] == remote, 20)
    lib.check(t_gone is not None, "half-open connection still in the table "
              "after 20 s")
    cap.settle()
    sas = cap.since(t0 - 0.01, lambda s: s.dport == 40301 and s.flags == "SA")
    rsts = cap.since(t0 - 0.01, lambda s: s.dport == 40301 and "R" in s.flags)
    times = [r.t for r in sas]
    g = gaps(times)
    print("# SYN-ACK gaps (s): %s; entry gone %.3f s after the last%s" %
          (fmt(g), t_gone - times[-1],
           "; then an RST" if rsts else ", no RST"))
    lib.check_eq(len(sas), 1 + SYNACK_RETRIES, "SYN-ACKs sent (gaps %s)" %
                 fmt(g))
    lib.check_eq(len({r.seg.seq for r in sas}), 1, "distinct SYN-ACK ISNs")
    between(g[0], 0.95, 1.5, "first SYN-ACK retransmission (RTO 1 s)")
    check_doubling(g + [t_gone - times[-1]], "SYN-ACK backoff", hi=2.6)
    lsk.setblocking(False)
    try:
        lsk.accept()
        raise AssertionError("accept() returned the timed out connection")
    except BlockingIOError:
        pass
    lsk.close()


# -- 4 ------------------------------------------------------------------------

def take(conn, got, seg, edge):
    """Appends the new in-order bytes of seg below the window's right edge
    to got; returns how many."""
    off = (conn.rcv_nxt - seg.seq) & 0xffffffff
    if off >= 1 << 31 or off >= len(seg.load):
        return 0                    # ahead of rcv_nxt, or all old
    room = (edge - conn.rcv_nxt) & 0xffffffff
    new = seg.load[off:off + room]
    got.extend(new)
    conn.rcv_nxt = (conn.rcv_nxt + len(new)) & 0xffffffff
    return len(new)


def case_zero_window_persist():
    win, size, nprobes = 2920, 20000, 4
    c, conn, _ = connect_to_peer(9401, isn=20000, window=win)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = random.Random(4).randbytes(size)
    edge = (conn.rcv_nxt + win) & 0xffffffff
    err = []

    def writer():
        # Linux's send buffer starts below size: sendall blocks until the
        # peer takes the data.
        try:
            c.sendall(data)
            c.shutdown(socket.SHUT_WR)
        except OSError as e:
            err.append(e)
    wt = threading.Thread(target=writer, daemon=True)
    wt.start()
    got = bytearray()
    # Fill the offered window, then acknowledge it all with window 0: the
    # right edge stays where it was (no shrinking).
    while conn.rcv_nxt != edge:
        r = cap.next(of(conn, lambda s: s.load), timeout=3)
        lib.check(r is not None, "sender stopped at %d of the %d bytes the "
                  "window offers" % (len(got), win))
        take(conn, got, r.seg, edge)
    t = time.time()
    conn.send("A", window=0)
    t_zero = cap.sent(lambda s: s.sport == 9401 and s.window == 0, t)
    probes = []
    while len(probes) < nprobes:
        r = cap.next(of(conn), timeout=8)
        lib.check(r is not None, "no zero window probe %d within 8 s (probes "
                  "at %s s)" % (len(probes) + 1,
                                fmt(p.t - t_zero for p in probes)))
        s = r.seg
        lib.check(len(s.load) <= 1, "%d bytes sent into a zero window: %r" %
                  (len(s.load), s))
        lib.check(s.seq in ((conn.rcv_nxt - 1) & 0xffffffff, conn.rcv_nxt),
                  "probe %r: seq not snd_una-1 or snd_una (%d)" %
                  (s, conn.rcv_nxt))
        probes.append(r)
        conn.send("A", window=0)   # still closed: what a real receiver says
        if lib.IS_ALTTCP and len(probes) == 1:
            row = row_of("%s:%d" % c.getsockname())
            lib.check(row and row["timer"] == "persist",
                      "timer while the window is closed: %r" % row)
    at = [p.t - t_zero for p in probes]
    g = gaps([t_zero] + [p.t for p in probes])
    print("# zero window probes at (s): %s; lengths %s" %
          (fmt(at), " ".join(str(len(p.seg.load)) for p in probes)))
    lib.check(g[0] >= 0.15, "first probe %.3f s after the window closed" %
              g[0])
    check_doubling(g, "persist backoff", lo=1.5, hi=2.5)
    # Open the window: the rest of the stream must follow, intact.
    conn.send("A", window=65535)
    fin = False
    while not fin:
        r = cap.next(of(conn), timeout=5)
        lib.check(r is not None, "transfer stalled after the window opened: "
                  "%d of %d bytes" % (len(got), size))
        take(conn, got, r.seg, conn.rcv_nxt + 65535)
        if "F" in r.seg.flags and \
                (r.seg.seq + len(r.seg.load)) & 0xffffffff == conn.rcv_nxt:
            conn.rcv_nxt += 1
            fin = True
        conn.send("A", window=65535)
    wt.join(5)
    lib.check(not err, "sender: %s" % (err and err[0]))
    lib.check_eq(len(got), size, "bytes received")
    lib.check(bytes(got) == data, "stream corrupted")
    conn.send("FA", window=65535)
    c.close()


# -- 5 ------------------------------------------------------------------------

MSL_MS = 1000


def tw_timer(local):
    r = row_of(local)
    lib.check(r is not None and r["state"] == "TIME_WAIT",
              "row of %s: %r" % (local, r))
    lib.check_eq(r["timer"], "time_wait", "timer column in TIME_WAIT")
    return int(r["timer_ms"])


def case_time_wait_fin_reack():
    msl = set_param(net.a, "msl_ms", MSL_MS) and MSL_MS / 1000.0
    c, conn, _ = connect_to_peer(9501, isn=30000)
    local = "%s:%d" % c.getsockname()
    c.close()
    fin = cap.next(of(conn, lambda s: "F" in s.flags))
    lib.check(fin is not None, "no FIN after close()")
    conn.rcv_nxt = fin.seg.seq + 1
    conn.send("FA")                 # ACKs their FIN, sends ours
    ack1 = cap.next(of(conn, lambda s: s.flags == "A" and
                       s.ack == conn.snd_nxt))
    lib.check(ack1 is not None, "our FIN was not acknowledged")
    lib.check_eq(lib.wait_state(net.a, "TIME_WAIT", local), "TIME_WAIT",
                 "state after the FINs crossed")
    if msl:
        left1 = tw_timer(local)
        lib.check(2 * msl * 1000 - 400 <= left1 <= 2 * msl * 1000,
                  "time_wait timer_ms %d right after entering TIME_WAIT "
                  "(2*MSL = %d)" % (left1, 2 * msl * 1000))
    # Halfway through, our FIN again as if the ACK had been lost.
    time.sleep(max(0, ack1.t + 1.0 - time.time()))
    if msl:
        left2 = tw_timer(local)
        lib.check(left2 < left1 - 500, "time_wait timer not counting down: "
                  "%d ms then %d ms a second later" % (left1, left2))
    t_fin = time.time()
    conn.send("FA", seq=conn.snd_nxt - 1)
    ack2 = cap.next(of(conn, lambda s: s.flags == "A" and
                       s.ack == conn.snd_nxt))
    lib.check(ack2 is not None, "retransmitted FIN not acknowledged again")
    lib.check_eq(ack2.seg.seq, ack1.seg.seq, "re-ACK seq")
    lib.check_eq(lib.state_of(net.a, local), "TIME_WAIT",
                 "state after the re-ACK")
    if not msl:
        # Linux: TIME_WAIT lasts a fixed 60 s; only the re-ACK is checked.
        print("# re-ACK %.3f s after the retransmitted FIN" %
              (ack2.t - cap.sent(lambda s: s.sport == 9501 and
                                 "F" in s.flags, t_fin)))
        return
    left3 = tw_timer(local)
    lib.check(left3 > 2 * msl * 1000 - 400, "time_wait timer not restarted "
              "by the retransmitted FIN: %d ms left (was %d ms)" %
              (left3, left2))
    t_gone = wait_gone(lambda r: r["local"] == local, 4 * msl + 2)
    lib.check(t_gone is not None, "TIME_WAIT entry still there %.1f s after "
              "the re-ACK" % (4 * msl + 2))
    print("# timer_ms %d on entry, %d after 1 s, %d after the re-ACK; entry "
          "gone %.3f s after the re-ACK (2*MSL = %.1f s)" %
          (left1, left2, left3, t_gone - ack2.t, 2 * msl))
    between(t_gone - ack2.t, 2 * msl * 0.9, 2 * msl * 1.1,
            "TIME_WAIT after the re-ACK")


# -- 6 ------------------------------------------------------------------------

# KEEPIDLE differs from KEEPINTVL so the spacing tells which one applies:
# unanswered probes come KEEPINTVL apart, answered ones KEEPIDLE apart (the
# answer makes the connection busy again).
KEEPIDLE, KEEPINTVL, KEEPCNT = 2, 1, 3


def keepalive(c):
    c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPIDLE)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPINTVL)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPCNT)


def is_probe(conn, snd_nxt):
    # RFC 9293 3.8.4: SEG.SEQ = SND.NXT-1, with or without one garbage byte.
    return of(conn, lambda s: s.seq == (snd_nxt - 1) & 0xffffffff and
              len(s.load) <= 1 and s.flags == "A")


def case_keepalive_dead_peer():
    c, conn, t_idle = connect_to_peer(9601, isn=40000, setup=keepalive)
    snd_nxt = conn.rcv_nxt
    err, t_err = recv_errno(c, KEEPIDLE + KEEPINTVL * KEEPCNT + 10)
    cap.settle()
    after = t_idle + 1e-6       # not the handshake ACK itself
    probes = cap.since(after, is_probe(conn, snd_nxt))
    rsts = cap.since(after, of(conn, lambda s: "R" in s.flags))
    others = cap.since(after, of(conn, lambda s: "R" not in s.flags and
                                 not is_probe(conn, snd_nxt)(s)))
    times = [r.t for r in probes]
    print("# keepalive probes at (s after idle): %s; %s at %.3f; recv "
          "failed at %.3f" % (fmt(t - t_idle for t in times),
                              "RST" if rsts else "no RST",
                              rsts[0].t - t_idle if rsts else 0,
                              t_err - t_idle))
    lib.check(not others, "other segments from a: %r" % others[:3])
    lib.check_eq(errno.errorcode.get(err, err), "ETIMEDOUT", "recv errno")
    lib.check_eq(len(probes), KEEPCNT, "unanswered keepalive probes")
    between(times[0] - t_idle, KEEPIDLE * 0.95, KEEPIDLE + 0.6,
            "first probe after idle")
    for x in gaps(times):
        between(x, KEEPINTVL * 0.95, KEEPINTVL + 0.6, "gap between probes")
    lib.check_eq(len(rsts), 1, "RSTs after the last probe")
    between(rsts[0].t - times[-1], KEEPINTVL * 0.95, KEEPINTVL + 0.6,
            "RST after the last probe")
    between(t_err - rsts[0].t, -0.05, 0.5, "ETIMEDOUT after the RST")
    c.close()


def case_keepalive_answered():
    c, conn, t_idle = connect_to_peer(9602, isn=41000, setup=keepalive)
    snd_nxt = conn.rcv_nxt
    if lib.IS_ALTTCP:
        row = row_of("%s:%d" % c.getsockname())
        lib.check(row and row["timer"] == "keepalive" and
                  0 < int(row["timer_ms"]) <= KEEPIDLE * 1000,
                  "timer of an idle connection with SO_KEEPALIVE: %r" % row)
    probes = []
    end = t_idle + 3 * KEEPIDLE + 0.5
    while time.time() < end:
        r = cap.next(of(conn), timeout=max(0.01, end - time.time()))
        if r is None:
            break
        lib.check(is_probe(conn, snd_nxt)(r.seg), "not a keepalive probe: "
                  "%r" % r.seg)
        probes.append(r)
        conn.send("A")
    times = [r.t for r in probes]
    print("# answered keepalive probes at (s after idle): %s" %
          fmt(t - t_idle for t in times))
    lib.check(len(probes) >= 3, "%d keepalive probes in %.1f s" %
              (len(probes), 3 * KEEPIDLE + 0.5))
    between(times[0] - t_idle, KEEPIDLE * 0.95, KEEPIDLE + 0.6,
            "first probe after idle")
    for x in gaps(times):
        between(x, KEEPIDLE * 0.95, KEEPIDLE + 0.6,
                "gap between answered probes")
    local = "%s:%d" % c.getsockname()
    lib.check_eq(lib.state_of(net.a, local), "ESTABLISHED", "state")
    c.setblocking(False)
    try:
        c.recv(100)
        raise AssertionError("recv returned on an idle connection")
    except BlockingIOError:
        pass
    c.close()


# -- 7 ------------------------------------------------------------------------

def ack_delay(conn, end, what, after, trigger=None):
    """Seconds from b sending the segment that ends at trigger (default:
    end), at or after time after, to a's first ACK of everything below
    end."""
    trigger = end if trigger is None else trigger
    r = cap.next(of(conn, lambda s: "A" in s.flags and
                    ((s.ack - end) & 0xffffffff) < 1 << 31), timeout=3)
    lib.check(r is not None, "no ACK of %s within 3 s" % what)
    sent = cap.sent(lambda s: s.sport == conn.sport and s.load and
                    ((s.seq + len(s.load) - trigger) & 0xffffffff) == 0,
                    after)
    return r.t - sent


def send_data(conn, load, **kw):
    """Sends a data segment; returns time.time() from just before."""
    t = time.time()
    conn.send("PA", load, **kw)
    return t


# Immediate: well below Linux's shortest delay (40 ms), with room for the
# VM's scheduling noise.
IMMEDIATE = 0.025


def case_delayed_ack():
    delack_max = get_param(net.a, "delack_max_ms") / 1000.0
    c, conn, _ = connect_to_peer(9701, isn=50000)
    sent = bytearray()
    # Linux acknowledges the first segments of a connection at once
    # ("quickack", up to 16 ACKs) and goes back to that after a gap longer
    # than the RTO: a run of small segments closely spaced gets past it.
    # Nobody reads yet: Linux acknowledges small pushed segments as soon
    # as the application has read them.
    warm = []
    for i in range(24):
        cap.mark()
        t = send_data(conn, b"w" * 20)
        sent += b"w" * 20
        warm.append(ack_delay(conn, conn.snd_nxt, "warm-up segment %d" % i, t))
    print("# warm-up ACK delays (ms): %s" %
          " ".join("%.0f" % (d * 1000) for d in warm))
    # One small segment: its ACK waits.
    time.sleep(0.05)
    cap.mark()
    t = send_data(conn, b"d" * 20)
    sent += b"d" * 20
    small = ack_delay(conn, conn.snd_nxt, "a small segment", t)
    # From here on the application reads, as a bulk receiver does: Linux
    # delays even the ACK of two full-sized segments while they sit unread
    # (the window it would offer has shrunk).
    got = bytearray()
    c.settimeout(10)

    def reader():
        try:
            while len(got) < len(sent) + 2 * 1460 + 200:
                chunk = c.recv(1 << 16)
                if not chunk:
                    return
                got.extend(chunk)
        except OSError:
            pass
    rt = threading.Thread(target=reader, daemon=True)
    rt.start()
    end = time.monotonic() + 5
    while len(got) < len(sent) and time.monotonic() < end:
        time.sleep(0.01)
    lib.check_eq(len(got), len(sent), "bytes read by the application")
    # Two full-sized segments back to back: at least every second one is
    # acknowledged at once (RFC 1122 4.2.3.2, RFC 5681 4.2).
    time.sleep(0.05)
    cap.mark()
    t = time.time()
    conn.send("A", b"f" * 1460)
    conn.send("A", b"g" * 1460)
    sent += b"f" * 1460 + b"g" * 1460
    full = ack_delay(conn, conn.snd_nxt, "two full-sized segments", t)
    # A segment beyond a hole: an immediate duplicate ACK (RFC 5681 4.2),
    # and another as soon as the hole is filled.
    time.sleep(0.05)
    cap.mark()
    hole = conn.snd_nxt
    t = send_data(conn, b"o" * 100, seq=hole + 100)
    dup = cap.next(of(conn, lambda s: "A" in s.flags), timeout=3)
    lib.check(dup is not None, "no ACK of an out-of-order segment")
    lib.check_eq(dup.seg.ack, hole, "ACK of an out-of-order segment")
    ooo = dup.t - cap.sent(lambda s: s.sport == conn.sport and
                           s.seq == hole + 100, t)
    t = send_data(conn, b"h" * 100)
    conn.snd_nxt += 100
    sent += b"h" * 100 + b"o" * 100
    fill = ack_delay(conn, conn.snd_nxt, "the segment filling the hole", t,
                     trigger=hole + 100)
    print("# ACK delays (ms): small segment %.1f, second full-sized %.1f, "
          "out-of-order %.1f, hole filled %.1f" %
          (small * 1000, full * 1000, ooo * 1000, fill * 1000))
    between(small, 0.010, delack_max + 0.1, "ACK of a small segment")
    between(full, 0, IMMEDIATE, "ACK of the second full-sized segment")
    between(ooo, 0, IMMEDIATE, "duplicate ACK of an out-of-order segment")
    between(fill, 0, IMMEDIATE, "ACK of the segment filling the hole")
    rt.join(5)
    lib.check(bytes(got) == bytes(sent), "stream corrupted (%d of %d bytes)"
              % (len(got), len(sent)))
    c.close()


# -- 8 ------------------------------------------------------------------------

def close_to_time_wait(port, isn):
    """a closes first against the peer and ends in TIME_WAIT; returns the
    connection and a's local address."""
    c, conn, _ = connect_to_peer(port, isn=isn)
    local = "%s:%d" % c.getsockname()
    c.close()
    fin = cap.next(of(conn, lambda s: "F" in s.flags))
    lib.check(fin is not None, "no FIN after close()")
    conn.rcv_nxt = fin.seg.seq + 1
    conn.send("FA")
    lib.check_eq(lib.wait_state(net.a, "TIME_WAIT", local), "TIME_WAIT",
                 "state after the FINs crossed")
    return conn, local


def case_time_wait_ignores_rst():
    """RFC 1337: a RST does not cut TIME_WAIT short (Linux needs
    tcp_rfc1337 for that), and the entry still re-ACKs a FIN."""
    set_linux_only(net.a, "/proc/sys/net/ipv4/tcp_rfc1337", 1)
    conn, local = close_to_time_wait(9511, 50000)
    conn.send("R")                  # at the sequence number a expects
    time.sleep(0.5)
    lib.check_eq(lib.state_of(net.a, local), "TIME_WAIT",
                 "state half a second after a RST")
    conn.send("FA", seq=conn.snd_nxt - 1)
    lib.check(cap.next(of(conn, lambda s: s.flags == "A" and
                          s.ack == conn.snd_nxt)) is not None,
              "no re-ACK of a FIN after the RST")


# -- 9 ------------------------------------------------------------------------

FIN_TIMEOUT = 1.0


def case_fin_wait2_orphan_timeout():
    """A closed socket whose peer acknowledges its FIN but never sends one
    leaves FIN_WAIT_2 after the FIN timeout."""
    if lib.IS_ALTTCP:
        set_param(net.a, "fin_timeout_ms", int(FIN_TIMEOUT * 1000))
    else:
        set_linux_only(net.a, "/proc/sys/net/ipv4/tcp_fin_timeout",
                       int(FIN_TIMEOUT))
    c, conn, _ = connect_to_peer(9521, isn=60000)
    local = "%s:%d" % c.getsockname()
    c.close()
    fin = cap.next(of(conn, lambda s: "F" in s.flags))
    lib.check(fin is not None, "no FIN after close()")
    conn.rcv_nxt = fin.seg.seq + 1
    t_ack = time.time()
    conn.send("A")                  # its FIN acknowledged; ours never comes
    lib.check_eq(lib.wait_state(net.a, "FIN_WAIT_2", local), "FIN_WAIT_2",
                 "state after the FIN was acknowledged")
    if lib.IS_ALTTCP:
        lib.check_eq(row_of(local)["timer"], "fin_wait2", "timer")
    t_gone = wait_gone(lambda r: r["local"] == local, FIN_TIMEOUT * 4)
    lib.check(t_gone is not None, "still in FIN_WAIT_2 %.1f s after the "
              "ACK" % (FIN_TIMEOUT * 4))
    print("# FIN_WAIT_2 left %.3f s after the ACK (timeout %.1f s)" %
          (t_gone - t_ack, FIN_TIMEOUT))
    between(t_gone - t_ack, FIN_TIMEOUT * 0.9, FIN_TIMEOUT * 2.5,
            "time in FIN_WAIT_2")


def case(fn):
    """Runs fn with the parameters and nftables rules it changed set back
    afterwards; on failure prints what the capture saw."""
    def run():
        peer.drain()
        t0 = time.time()
        try:
            fn()
        except Exception:
            print("# segments on the wire since the case started:")
            cap.dump(t0)
            raise
        finally:
            restore_params()
            net.b.nft_flush()
    return run


lib.run_cases([
    ("rto_backoff_then_etimedout", case(case_rto_backoff_then_etimedout)),
    ("syn_retries_etimedout", case(case_syn_retries_etimedout)),
    ("syn_received_timeout", case(case_syn_received_timeout)),
    ("zero_window_persist", case(case_zero_window_persist)),
    ("time_wait_fin_reack", case(case_time_wait_fin_reack)),
    ("keepalive_probes_and_dead_peer", case(case_keepalive_dead_peer)),
    ("keepalive_answered_stays_up", case(case_keepalive_answered)),
    ("delayed_ack", case(case_delayed_ack)),
    ("time_wait_ignores_rst", case(case_time_wait_ignores_rst)),
    ("fin_wait2_orphan_timeout", case(case_fin_wait2_orphan_timeout)),
], timeout=60)
