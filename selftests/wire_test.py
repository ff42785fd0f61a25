#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""What the protocol under test puts on the wire: MSS options, segment and
packet sizes, initial sequence numbers, RSTs, and the accept queue limit.

The socket under test lives in namespace a (10.0.1.1, veth0); packets are
captured with a packet socket on veth1 in namespace b (10.0.1.2), where
the peer is Linux TCP or the hand-driven alttcp_test_lib.RawPeer.
Segmentation offloads are off on both ends, so every captured frame is
one segment as it would be on a real wire (with TSO/GSO a veth carries
64 KiB super-packets).
"""
import errno
import os
import random
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

A, B = lib.A_ADDR, lib.B_ADDR
SIZE = 200 * 1024
IO_TIMEOUT = lib.scaled(30)
SOL_PACKET = 263
PACKET_STATISTICS = 6
TCPOPT_MSS = 2

# One namespace pair for all cases: every case uses ports of its own.
net = lib.NetPair("wire")
for _ns, _dev in ((net.a, "veth0"), (net.b, "veth1")):
    _ns.run("ethtool", "-K", _dev, "tso", "off", "gso", "off", "gro", "off")
_peer = []


def raw_peer():
    """The hand-driven peer (its nftables rule drops b's own RSTs), made
    once and drained for each case."""
    if not _peer:
        _peer.append(lib.RawPeer(net))
    _peer[0].drain()
    return _peer[0]


class Pkt:
    """One captured IPv4 packet: ip_len, frag (MF or offset set) and
    seg, the parsed TCP segment (or None)."""

    def __init__(self, ip):
        self.ip_len = struct.unpack("!H", ip[2:4])[0]
        ff = struct.unpack("!H", ip[6:8])[0]
        self.frag = bool(ff & 0x3fff)
        self.src = socket.inet_ntoa(ip[12:16])
        self.seg = lib.Seg.parse(ip) if not self.frag else None

    def __repr__(self):
        return "<ip len %d%s %r>" % (self.ip_len, " FRAG" if self.frag else "",
                                     self.seg)


class Capture:
    """Every IPv4 packet from a arriving on veth1 in b, read by a thread
    from the moment the capture is made until stop()."""

    def __init__(self):
        with net.b.enter():
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                      socket.htons(lib.ETH_P_IP))
        self.sock.setsockopt(socket.SOL_SOCKET, 33, 32 << 20)  # RCVBUFFORCE
        self.sock.bind(("veth1", lib.ETH_P_IP))
        self.sock.settimeout(0.1)
        self.pkts = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        # After stop() it still drains what is queued: on a loaded machine
        # the thread can lag the traffic by more than stop()'s pause.
        while True:
            try:
                data, addr = self.sock.recvfrom(70000)
            except socket.timeout:
                if self.done.is_set():
                    return
                continue
            except OSError:
                return
            if addr[2] == lib.PACKET_OUTGOING:
                continue
            p = Pkt(data[14:])
            if p.src == A:
                self.pkts.append(p)

    def stop(self):
        """Stops capturing; returns the packets and the kernel's drop count."""
        time.sleep(0.2)
        self.done.set()
        self.thread.join(20)
        st = self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8)
        self.sock.close()
        return self.pkts, struct.unpack("II", st)[1]


def options(seg):
    """The TCP options of a segment as {kind: value bytes}."""
    out, o = {}, seg.options
    i = 0
    while i < len(o):
        kind = o[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if i + 1 >= len(o) or o[i + 1] < 2:
            break
        out[kind] = o[i + 2:i + o[i + 1]]
        i += o[i + 1]
    return out


def mss_of(seg):
    """The MSS option's value, or None."""
    v = options(seg).get(TCPOPT_MSS)
    return struct.unpack("!H", v)[0] if v and len(v) == 2 else None


def dev_mtu(ns, dev):
    out = ns.run("ip", "-o", "link", "show", dev)
    return int(out.split(" mtu ")[1].split()[0])


def find(pkts, what, match):
    for p in pkts:
        if p.seg and match(p.seg):
            return p.seg
    raise AssertionError("no %s captured (%d packets from a)" %
                         (what, len(pkts)))


def transfer(sender, receiver, size=SIZE):
    """Sends size random bytes from sender to receiver (connected sockets),
    then closes the sender; checks the receiver read them all, in order."""
    data = random.Random(size).randbytes(size)
    got = bytearray()
    err = []

    def reader():
        try:
            while True:
                chunk = receiver.recv(1 << 16)
                if not chunk:
                    return
                got.extend(chunk)
        except OSError as e:
            err.append(e)

    t = threading.Thread(target=reader, daemon=True)
    receiver.settimeout(IO_TIMEOUT)
    sender.settimeout(IO_TIMEOUT)
    t.start()
    sender.sendall(data)
    sender.shutdown(socket.SHUT_WR)
    t.join(IO_TIMEOUT)
    lib.check(not t.is_alive(), "receiver still reading after %d s (%d of %d "
              "bytes)" % (IO_TIMEOUT, len(got), size))
    lib.check(not err, "receiver: %s" % (err and err[0]))
    lib.check_eq(len(got), size, "bytes received")
    lib.check(bytes(got) == data, "stream corrupted")


def data_segments(pkts, port):
    """Packets from a's port port carrying payload."""
    return [p for p in pkts
            if p.frag or (p.seg and p.seg.sport == port and p.seg.load)]


def check_sizes(pkts, port, max_seg=None, max_ip=None):
    """a's data segments from port: none above the limits, no fragments,
    and the capture saw the whole stream. max_seg bounds payload plus TCP
    options (RFC 6691: the MSS option counts data only, and a sender using
    options, like Linux with timestamps, sends that much less data).
    Returns (largest payload + options, largest IP packet)."""
    segs = data_segments(pkts, port)
    frags = [p for p in segs if p.frag]
    lib.check(not frags, "IP fragments from a: %r" % frags[:3])
    lib.check(segs, "no data segments from port %d captured" % port)
    seen, total = set(), 0
    for p in segs:
        if p.seg.seq not in seen:
            seen.add(p.seg.seq)
            total += len(p.seg.load)
    lib.check(total >= SIZE, "capture saw %d of %d bytes" % (total, SIZE))

    def size(p):
        return len(p.seg.load) + len(p.seg.options)
    if max_seg is not None:
        big = [p for p in segs if size(p) > max_seg]
        lib.check(not big, "%d of %d segments carry more than %d bytes of "
                  "payload + options, e.g. %r" % (len(big), len(segs),
                                                  max_seg, big[:3]))
    if max_ip is not None:
        big = [p for p in segs if p.ip_len > max_ip]
        lib.check(not big, "%d of %d packets longer than %d bytes, e.g. %r" %
                  (len(big), len(segs), max_ip, big[:3]))
    largest = max(segs, key=size)
    print("# %d data segments from port %d, largest payload %d + options %d,"
          " largest packet %d" % (len(segs), port, len(largest.seg.load),
                                  len(largest.seg.options),
                                  max(p.ip_len for p in segs)))
    return size(largest), max(p.ip_len for p in segs)


def linux_server(port, maxseg=None):
    srv = net.b.socket(lib.LINUX)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if maxseg:
        srv.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, maxseg)
    srv.bind((B, port))
    srv.listen(4)
    srv.settimeout(IO_TIMEOUT)
    return srv


def tested_client_to_linux(port, maxseg=None):
    """(tested client in a, Linux server's accepted socket in b)."""
    srv = linux_server(port, maxseg)
    c = net.a.socket()
    c.settimeout(IO_TIMEOUT)
    c.connect((B, port))
    p, _ = srv.accept()
    srv.close()
    return c, p


def linux_client_to_tested(port):
    """(tested socket accepted in a, Linux client in b)."""
    lsk = net.a.socket()
    lsk.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsk.bind((A, port))
    lsk.listen(4)
    lsk.settimeout(IO_TIMEOUT)
    c = net.b.socket(lib.LINUX)
    c.settimeout(IO_TIMEOUT)
    c.connect((A, port))
    s, _ = lsk.accept()
    lsk.close()
    return s, c


# -- 1 -----------------------------------------------------------------------

def case_syn_carries_mss_option():
    want = dev_mtu(net.a, "veth0") - 40
    lib.check_eq(want, 1460, "veth0 MTU - 40")
    cap = Capture()
    c, p = tested_client_to_linux(8201)
    s, lc = linux_client_to_tested(8202)
    pkts, _ = cap.stop()
    syn = find(pkts, "SYN from a", lambda t: t.dport == 8201 and t.flags == "S")
    lib.check_eq(mss_of(syn), want, "MSS option of the SYN %r (options %s)" %
                 (syn, syn.options.hex()))
    sa = find(pkts, "SYN-ACK from a",
              lambda t: t.sport == 8202 and t.flags == "SA")
    lib.check_eq(mss_of(sa), want, "MSS option of the SYN-ACK %r (options %s)"
                 % (sa, sa.options.hex()))
    for sk in (c, p, s, lc):
        sk.close()


# -- 2 -----------------------------------------------------------------------

def case_segments_respect_peer_mss():
    cap = Capture()
    c, p = tested_client_to_linux(8211, maxseg=536)
    transfer(c, p)
    pkts, drops = cap.stop()
    largest, _ = check_sizes(pkts, c.getsockname()[1], max_seg=536)
    # Full-sized segments: the limit is the peer's MSS, not something lower.
    lib.check_eq(largest, 536, "largest payload + options")
    print("# capture drops: %d" % drops)
    c.close()
    p.close()


# -- 3 -----------------------------------------------------------------------

MTU = 1000


def with_mtu(fn):
    """Runs fn with veth0 (a's side) at MTU 1000. b's side stays at 1500,
    so b's Linux TCP advertises MSS 1460: only a's own route MTU limits
    what a sends."""
    def run():
        old = dev_mtu(net.a, "veth0")
        net.a.run("ip", "link", "set", "veth0", "mtu", str(MTU))
        try:
            fn()
        finally:
            net.a.run("ip", "link", "set", "veth0", "mtu", str(old))
    return run


def case_segments_respect_route_mtu():
    cap = Capture()
    c, p = tested_client_to_linux(8221)
    transfer(c, p)
    s, lc = linux_client_to_tested(8222)
    transfer(s, lc)
    pkts, drops = cap.stop()
    print("# capture drops: %d" % drops)
    for port in (c.getsockname()[1], 8222):
        _, largest = check_sizes(pkts, port, max_ip=MTU)
        # Full-sized packets: the limit is the MTU, not something lower.
        lib.check_eq(largest, MTU, "largest packet from port %d" % port)
    for sk in (c, p, s, lc):
        sk.close()


def case_mss_option_follows_route_mtu():
    cap = Capture()
    c, p = tested_client_to_linux(8231)
    s, lc = linux_client_to_tested(8232)
    pkts, _ = cap.stop()
    syn = find(pkts, "SYN from a", lambda t: t.dport == 8231 and t.flags == "S")
    lib.check_eq(mss_of(syn), MTU - 40, "MSS option of the SYN %r" % syn)
    sa = find(pkts, "SYN-ACK from a",
              lambda t: t.sport == 8232 and t.flags == "SA")
    lib.check_eq(mss_of(sa), MTU - 40, "MSS option of the SYN-ACK %r" % sa)
    for sk in (c, p, s, lc):
        sk.close()


# -- 4 -----------------------------------------------------------------------

def syn_isn(peer, lport, rport):
    """ISN of the SYN a tested socket bound to lport sends to B:rport (b
    does not answer: the peer's rule drops b's RST)."""
    c = net.a.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    c.bind((A, lport))
    c.setblocking(False)
    lib.check_eq(errno.errorcode.get(c.connect_ex((B, rport))), "EINPROGRESS",
                 "non-blocking connect")
    syn = peer.expect(lambda t: t.sport == lport and t.dport == rport and
                      t.flags == "S")
    c.close()
    lib.check(syn is not None, "no SYN from port %d" % lport)
    return syn.seq


def dist(x, y):
    """Distance between two sequence numbers, either way round."""
    d = (y - x) & 0xffffffff
    return min(d, (1 << 32) - d)


def case_isn_unpredictable():
    peer = raw_peer()
    n = 20
    isns = [syn_isn(peer, 42000 + i, 8241) for i in range(n)]
    print("# ISNs: %s" % " ".join("%08x" % i for i in isns))
    lib.check_eq(len(set(isns)), n, "distinct ISNs")
    diffs = [(y - x) & 0xffffffff for x, y in zip(isns, isns[1:])]
    lib.check(len(set(diffs)) > 1, "ISNs step by a constant %d" % diffs[0])
    # RFC 6528: a keyed hash of the 4-tuple. Two random 32-bit numbers are
    # within 2^24 of each other with probability 1/128; a clock or counter
    # puts consecutive ISNs close together every time.
    far = sum(dist(x, y) >= 1 << 24 for x, y in zip(isns, isns[1:]))
    lib.check(far >= (n - 1) // 2, "only %d of %d consecutive ISNs are 2^24 "
              "or more apart" % (far, n - 1))
    # The same 4-tuple again: the clock part moves the ISN forward.
    first = syn_isn(peer, 42100, 8241)
    time.sleep(0.05)
    second = syn_isn(peer, 42100, 8241)
    step = (second - first) & 0xffffffff
    print("# same 4-tuple 50 ms apart: %08x then %08x" % (first, second))
    lib.check(0 < step < 1 << 31, "ISN for the same 4-tuple went from %08x "
              "to %08x: not forward" % (first, second))


def tsval_of(seg):
    v = options(seg).get(8)
    lib.check(v is not None and len(v) == 8, "no timestamps in %r" % seg)
    return struct.unpack("!I", v[:4])[0]


def case_tsval_hides_uptime():
    """TSvals are the clock plus a secret offset (as Linux's tsoffset):
    they do not tell the uptime. alttcp keys the offset by the two
    addresses, so two connections between the same hosts share one clock
    (PAWS across successive connections relies on it); Linux 6.1 draws
    one per connection, so that part is checked on alttcp only."""
    with open("/proc/uptime") as f:
        uptime_ms = int(float(f.read().split()[0]) * 1000)
    cap = Capture()
    c1, p1 = tested_client_to_linux(8261)
    time.sleep(0.2)
    c2, p2 = tested_client_to_linux(8262)
    s, lc = linux_client_to_tested(8263)
    pkts, _ = cap.stop()
    syn1 = find(pkts, "first SYN", lambda t: t.dport == 8261 and
                t.flags == "S")
    syn2 = find(pkts, "second SYN", lambda t: t.dport == 8262 and
                t.flags == "S")
    sa = find(pkts, "SYN-ACK", lambda t: t.sport == 8263 and
              t.flags == "SA")
    ts1, ts2, ts3 = tsval_of(syn1), tsval_of(syn2), tsval_of(sa)
    print("# uptime %d ms; TSvals %d, %d (0.2 s later), SYN-ACK %d" %
          (uptime_ms, ts1, ts2, ts3))
    for ts in (ts1, ts3):
        lib.check(dist(ts, uptime_ms) > 10000, "TSval %d is the uptime "
                  "(%d ms)" % (ts, uptime_ms))
    step = (ts2 - ts1) & 0xffffffff
    if lib.IS_ALTTCP:
        lib.check(150 <= step <= 5000, "TSvals of two connections between "
                  "the same hosts are %d ms apart, 0.2 s later" % step)
    for sk in (c1, p1, c2, p2, s, lc):
        sk.close()


# -- 5 -----------------------------------------------------------------------

def case_rst_for_unmatched_segment():
    peer = raw_peer()
    bound = net.a.socket()
    bound.bind((A, 8251))           # bound, never listening
    isn = 0x12345678
    peer.send(lib.Seg(40250, 8251, seq=isn, flags="S", options=lib.MSS_1460))
    r = peer.expect(lambda t: t.sport == 8251 and t.dport == 40250)
    lib.check(r is not None, "no answer to a SYN for a bound, not listening "
              "port")
    lib.check_eq(r.flags, "RA", "flags answering the SYN %r" % r)
    lib.check_eq(r.seq, 0, "RST seq")
    lib.check_eq(r.ack, isn + 1, "RST ack")
    seq, ack = 0x2468ace0, 0x13579bdf
    peer.send(lib.Seg(40251, 8251, seq=seq, ack=ack, flags="A"))
    r = peer.expect(lambda t: t.sport == 8251 and t.dport == 40251)
    lib.check(r is not None, "no answer to an ACK for a bound, not listening "
              "port")
    lib.check_eq(r.flags, "R", "flags answering the ACK %r" % r)
    lib.check_eq(r.seq, ack, "RST seq (the ACK's ack number)")
    # Neither left anything behind.
    lib.check_eq(lib.state_of(net.a, "%s:8251" % A), None,
                 "table row for the bound port")
    bound.close()


# -- 6 -----------------------------------------------------------------------

# Linux: listen(fd, 1) queues 2 (full when it holds more than the backlog);
# the connects are spaced, so exactly 2 complete and the rest wait.
BACKLOG_MAX = 2


def established_children(port):
    return [r["remote"] for r in lib.conn_table(net.a, lib.PROTO)
            if r["local"] == "%s:%d" % (A, port) and
            r["state"] == "ESTABLISHED"]


def case_accept_backlog_full_drops_syn():
    port, n = 8261, 5
    lsk = net.a.socket()
    lsk.bind((A, port))
    lsk.listen(1)
    before = lib.counters(net.a)
    clients = []
    for _ in range(n):
        c = net.b.socket(lib.LINUX)
        c.setblocking(False)
        lib.check_eq(errno.errorcode.get(c.connect_ex((A, port))),
                     "EINPROGRESS", "non-blocking connect")
        clients.append(c)
        time.sleep(0.1)
    # Past the clients' first SYN retransmission (1 s).
    time.sleep(1.5)
    done = established_children(port)
    print("# backlog 1: %d of %d completed on the listener side" %
          (len(done), n))
    lib.check_eq(len(done), BACKLOG_MAX, "connections completed on the "
                 "listener with backlog 1")
    for c in clients:
        err = c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        lib.check_eq(errno.errorcode.get(err, err), 0,
                     "SO_ERROR of client %s" % (c.getsockname(),))
        st = lib.state_of(net.b, "%s:%d" % c.getsockname(), proto=6)
        lib.check(st in ("SYN_SENT", "ESTABLISHED"),
                  "client %s in state %s" % (c.getsockname(), st))
    if lib.IS_ALTTCP:
        after = lib.counters(net.a)
        lib.check(after["DropListenOverflow"] > before["DropListenOverflow"],
                  "DropListenOverflow did not grow")
    # Now accept: the waiting clients get through on a retransmission.
    want = {c.getsockname() for c in clients}
    got = []
    end = time.monotonic() + 12
    while len(got) < n and time.monotonic() < end:
        lsk.settimeout(max(0.1, end - time.monotonic()))
        try:
            s, addr = lsk.accept()
        except socket.timeout:
            break
        got.append((s, addr))
    lib.check_eq(len(got), n, "connections accepted within 12 s")
    lib.check_eq({a for _, a in got}, want, "accepted peers")
    byaddr = {c.getsockname(): c for c in clients}
    for s, addr in got:
        s.sendall(b"hello %d" % addr[1])
        c = byaddr[addr]
        c.settimeout(5)
        lib.check_eq(c.recv(100), b"hello %d" % addr[1], "data to client")
        s.close()
        c.close()
    lsk.close()


def case_listen_backlog_zero_accepts():
    """listen(fd, 0) still takes one connection at a time (Linux: the
    queue is full only when it holds more than the backlog; the SYN is
    answered with a syncookie since the SYN queue counts as full)."""
    port = 8271
    lsk = net.a.socket()
    lsk.bind((A, port))
    lsk.listen(0)
    c = net.b.socket(lib.LINUX)
    c.settimeout(5)
    try:
        c.connect((A, port))
    except socket.timeout:
        raise AssertionError("connect to a listen(fd, 0) listener: no "
                             "SYN-ACK within 5 s")
    lsk.settimeout(5)
    try:
        s, addr = lsk.accept()
    except socket.timeout:
        raise AssertionError("accept on listen(fd, 0): nothing within 5 s")
    lib.check_eq(addr, c.getsockname(), "accepted peer")
    s.sendall(b"zero")
    lib.check_eq(c.recv(100), b"zero", "data to client")
    for sk in (s, c, lsk):
        sk.close()


lib.run_cases([
    ("syn_carries_mss_option", case_syn_carries_mss_option),
    ("segments_respect_peer_mss", case_segments_respect_peer_mss),
    ("segments_respect_route_mtu", with_mtu(case_segments_respect_route_mtu)),
    ("mss_option_follows_route_mtu",
     with_mtu(case_mss_option_follows_route_mtu)),
    ("isn_unpredictable", case_isn_unpredictable),
    ("tsval_hides_uptime", case_tsval_hides_uptime),
    ("rst_for_unmatched_segment", case_rst_for_unmatched_segment),
    ("accept_backlog_full_drops_syn", case_accept_backlog_full_drops_syn),
    ("listen_backlog_zero_accepts", case_listen_backlog_zero_accepts),
], timeout=60)
