#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Path MTU discovery and ICMP errors (RFC 1191, RFC 1122 4.2.3.9,
RFC 5927, RFC 4821), as Linux TCP handles them.

Three namespaces in a row, a - r - b: a (10.0.1.1) holds the socket
under test, r (10.0.1.254, 10.0.2.254) forwards, b (10.0.2.2) is Linux
TCP. Every device's MTU is 1500; the bottleneck is r's route to b, with
mtu 1280, as behind a tunnel: both ends advertise an MSS of 1460, r
drops a full-sized segment from a and answers it with ICMP
"fragmentation needed". Only segments from a to b are too large.

Cases, each on namespaces of its own:
- mtu_1280: 2 MiB each way at once, the tested socket as server and as
  client; everything arrives, and the tested sockets' TCP_MAXSEG ends at
  1228 (1280 less 40, less 12 for timestamps) and IP_MTU at 1280.
- mtu_lowered_midway: 1 MiB from a at MTU 1500 (MSS 1448), then r's
  route drops to 1280 and 1 MiB more; all of it arrives.
- pmtudisc_dont: IP_MTU_DISCOVER IP_PMTUDISC_DONT: no DF, so r
  fragments; 512 KiB arrive and the MSS stays 1448.
- syn_sent_host_unreachable, syn_sent_port_unreachable: r answers the
  SYN with ICMP host unreachable (an unreachable route) or port
  unreachable (an nftables reject): connect() fails at once with
  EHOSTUNREACH or ECONNREFUSED, a hard error.
- soft_error: established, then r's route to b becomes unreachable; the
  retransmissions draw ICMP host unreachable, a soft error; when
  TCP_USER_TIMEOUT (2 s) ends the connection the error read is
  EHOSTUNREACH, not ETIMEDOUT.
- out_of_window_icmp: a "fragmentation needed" forged in r quoting a
  sequence number already acknowledged is ignored (MSS still 1448,
  OutOfWindowIcmps one higher); the same quoting snd_nxt takes the MSS
  to 1228.
- black_hole, black_hole_probing: r drops its own ICMP errors. Without
  MTU probing 256 KiB from a never get through (TCP_USER_TIMEOUT 4 s:
  ETIMEDOUT); with net.alttcp.mtu_probing=1 (Linux:
  net.ipv4.tcp_mtu_probing=1) the MSS falls to base_mss after a few
  timeouts and all of it arrives (Linux then probes upwards again and
  ends near 1228; alttcp stays at 1024).
"""
import errno
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

A, R_A, R_B, B = "10.0.1.1", "10.0.1.254", "10.0.2.254", "10.0.2.2"
IP_MTU_DISCOVER, IP_PMTUDISC_DONT, IP_MTU = 10, 0, 14
TCP_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", 18)
MSS_1500, MSS_1280 = 1448, 1228      # with timestamps
LIMIT = lib.scaled(30)               # s for one transfer
port = [9500]
count = [0]


def ip_batch(ns, cmds):
    """ip commands in ns, one process: ip netns exec is slow in the VM."""
    lib.sh("ip", "-n", ns.name, "-batch", "-", input="\n".join(cmds) + "\n")


def sysctl(ns, name, value):
    with ns.enter():
        with open("/proc/sys/" + name.replace(".", "/"), "w") as f:
            f.write(str(value))


lib.sh("modprobe", "veth", check=False)    # ip does not always load it


def new_ns(name):
    """A lib.Netns made with ip -n rather than ip netns exec."""
    lib.sh("ip", "netns", "add", name)
    ns = object.__new__(lib.Netns)
    ns.name, ns.tables = name, set()
    return ns


class Chain:
    """Namespaces a - r - b, r forwarding; all MTUs 1500."""

    def __init__(self):
        count[0] += 1
        base = "alttcp-pmtu-%d-%d" % (os.getpid(), count[0])
        self.a = self.r = self.b = None
        lib.on_exit(self.delete)
        self.a, self.r, self.b = (new_ns(base + x) for x in ("-a", "-r", "-b"))
        rcmds = ["link set lo up"]
        for ns, rdev, addr, raddr in ((self.a, "to_a", A, R_A),
                                      (self.b, "to_b", B, R_B)):
            lib.sh("ip", "link", "add", "to_r", "netns", ns.name, "type",
                   "veth", "peer", "name", rdev, "netns", self.r.name)
            ip_batch(ns, ["link set lo up",
                          "addr add %s/24 dev to_r" % addr,
                          "link set to_r up",
                          "route add default via %s" % raddr])
            rcmds += ["addr add %s/24 dev %s" % (raddr, rdev),
                      "link set %s up" % rdev]
        ip_batch(self.r, rcmds)
        sysctl(self.r, "net.ipv4.ip_forward", 1)

    def bottleneck(self, mtu=1280):
        """r's route to b says mtu: r answers larger packets with DF
        with ICMP fragmentation needed, fragments those without."""
        ip_batch(self.r, ["route replace 10.0.2.0/24 dev to_b src %s mtu %d"
                          % (R_B, mtu)])

    def delete(self):
        for ns in (self.a, self.r, self.b):
            if ns:
                ns.delete()
        self.a = self.r = self.b = None


def set_probing(ns, mode):
    sysctl(ns, "net.alttcp.mtu_probing" if lib.IS_ALTTCP else
           "net.ipv4.tcp_mtu_probing", mode)


def expect_error(fn, want, lo, hi):
    """fn() fails with errno want between lo and hi seconds."""
    t0 = time.monotonic()
    try:
        got = fn()
        raise AssertionError("returned %r" % (got,))
    except OSError as e:
        took = time.monotonic() - t0
        # socket.timeout is a TimeoutError, as ETIMEDOUT is, but no errno.
        lib.check(e.errno is not None, "no error within %.1f s" % took)
        print("# %s after %.2f s" % (errno.errorcode.get(e.errno), took))
        lib.check_eq(errno.errorcode.get(e.errno, e.errno), want, "errno")
        lib.check(lo <= took <= hi, "after %.2f s, want %.1f-%.1f s" %
                  (took, lo, hi))


def connect(net, tested_server=False, setup=None):
    """(tested socket in a, Linux TCP socket in b), connected."""
    port[0] += 1
    if tested_server:
        lsk = net.a.socket()
        lsk.bind((A, port[0]))
        peer = net.b.socket(lib.LINUX)
    else:
        lsk = net.b.socket(lib.LINUX)
        lsk.bind((B, port[0]))
        peer = net.a.socket()
    if setup:
        setup(lsk if tested_server else peer)
    lsk.listen(1)
    lsk.settimeout(LIMIT)
    peer.settimeout(LIMIT)
    peer.connect((A if tested_server else B, port[0]))
    c, _ = lsk.accept()
    lsk.close()
    for s in (c, peer):
        lib.on_exit(s.close)
        s.settimeout(LIMIT)
    return (c, peer) if tested_server else (peer, c)


def mss(s):
    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)


def both_ways(t, p, size):
    """size random bytes each way at once; checks they arrive intact.
    The sockets stay open: Linux reports TCP_MAXSEG after close too, but
    alttcp then reports the default."""
    data = {"t": os.urandom(size), "p": os.urandom(size)}
    got = {"t": bytearray(), "p": bytearray()}
    err = []

    def run(k, s):
        def reader():
            try:
                while len(got[k]) < size:
                    chunk = s.recv(1 << 16)
                    if not chunk:
                        break
                    got[k].extend(chunk)
            except OSError as e:
                err.append("recv: %s" % e)
        r = threading.Thread(target=reader, daemon=True)
        r.start()
        try:
            s.sendall(data[k])
        except OSError as e:
            err.append("send: %s" % e)
        r.join(LIMIT)

    th = [threading.Thread(target=run, args=(k, s), daemon=True)
          for k, s in (("t", t), ("p", p))]
    t0 = time.monotonic()
    for x in th:
        x.start()
    for x in th:
        x.join(LIMIT + 2)
    print("# %d bytes each way in %.2f s" % (size, time.monotonic() - t0))
    lib.check(not err, "; ".join(err))
    for k, other, what in (("t", "p", "tested end"), ("p", "t", "Linux end")):
        lib.check_eq(len(got[k]), size, "%s received bytes" % what)
        lib.check(bytes(got[k]) == data[other], "%s received other bytes" %
                  what)


def send_recv(t, p, size):
    """size bytes from the tested socket t to p; checks them."""
    data = os.urandom(size)
    got = bytearray()
    t0 = time.monotonic()

    def reader():
        try:
            while len(got) < size:
                chunk = p.recv(1 << 16)
                if not chunk:
                    break
                got.extend(chunk)
        except OSError:
            pass

    r = threading.Thread(target=reader, daemon=True)
    r.start()
    t.sendall(data)
    r.join(LIMIT)
    print("# %d bytes from a in %.2f s" % (len(got), time.monotonic() - t0))
    lib.check_eq(len(got), size, "bytes received")
    lib.check(bytes(got) == data, "received bytes differ")


def counter(ns, name):
    """An alttcp counter, or Linux's TcpExt one of that name."""
    if lib.IS_ALTTCP:
        return lib.counters(ns).get(name, 0)
    lines = [ln.split() for ln in ns.read("netstat").splitlines()
             if ln.startswith("TcpExt:")]
    return int(dict(zip(lines[0][1:], lines[1][1:]))[name])


# -- cases ---------------------------------------------------------------------

def mtu_1280():
    net = Chain()
    net.bottleneck()
    pairs = [connect(net, tested_server=True), connect(net)]
    errors = []

    def one(t, p):
        try:
            both_ways(t, p, 2 << 20)
        except Exception as e:      # reported below
            errors.append(str(e))

    th = [threading.Thread(target=one, args=pr, daemon=True) for pr in pairs]
    for x in th:
        x.start()
    for x in th:
        x.join(LIMIT + 5)
    lib.check(not errors, "; ".join(errors))
    for role, (t, _) in zip(("server", "client"), pairs):
        lib.check_eq(mss(t), MSS_1280, "tested %s's TCP_MAXSEG" % role)
        lib.check_eq(t.getsockopt(socket.IPPROTO_IP, IP_MTU), 1280,
                     "tested %s's IP_MTU" % role)
    if lib.IS_ALTTCP:
        lib.check(counter(net.a, "PmtuUpdates") >= 1, "no PmtuUpdates")


def mtu_lowered_midway():
    net = Chain()
    t, p = connect(net)
    send_recv(t, p, 1 << 20)
    lib.check_eq(mss(t), MSS_1500, "TCP_MAXSEG at MTU 1500")
    net.bottleneck()
    send_recv(t, p, 1 << 20)
    lib.check_eq(mss(t), MSS_1280, "TCP_MAXSEG after the MTU fell")


def pmtudisc_dont():
    net = Chain()
    net.bottleneck()
    t, p = connect(net, setup=lambda s: s.setsockopt(
        socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT))
    send_recv(t, p, 512 << 10)
    lib.check_eq(mss(t), MSS_1500, "TCP_MAXSEG without DF")


def syn_sent_error(block, want):
    net = Chain()
    block(net)
    port[0] += 1
    s = net.a.socket()
    lib.on_exit(s.close)
    s.settimeout(lib.scaled(5))
    expect_error(lambda: s.connect((B, port[0])), want, 0, lib.scaled(0.5))


def syn_sent_host_unreachable():
    syn_sent_error(lambda net: ip_batch(net.r, ["route add unreachable %s/32"
                                                % B]), "EHOSTUNREACH")


def syn_sent_port_unreachable():
    syn_sent_error(lambda net: net.r.nft(
        "forward", "ip daddr %s tcp dport %d reject with icmp type "
        "port-unreachable" % (B, port[0] + 1)), "ECONNREFUSED")


def soft_error():
    net = Chain()
    t, p = connect(net, setup=lambda s: s.setsockopt(
        socket.IPPROTO_TCP, TCP_USER_TIMEOUT, 2000))
    send_recv(t, p, 1000)
    ip_batch(net.r, ["route add unreachable %s/32" % B])
    t.send(b"x" * 100)
    expect_error(lambda: t.recv(100), "EHOSTUNREACH", 1.5, lib.scaled(8))


def frag_needed(net, sport, dport, seq, mtu=1280):
    """Sends from r to a an ICMP fragmentation needed quoting a segment
    a -> b of 1500 bytes with DF."""
    quoted = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 1500, 0, 0x4000, 63, 6,
                         0, socket.inet_aton(A), socket.inet_aton(B))
    quoted += struct.pack("!HHI", sport, dport, seq & 0xffffffff)
    icmp = struct.pack("!BBHHH", 3, 4, 0, 0, mtu) + quoted
    icmp = icmp[:2] + struct.pack("!H", lib._csum(icmp)) + icmp[4:]
    with net.r.enter():
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW,
                          socket.IPPROTO_ICMP)
    try:
        s.sendto(icmp, (A, 0))
    finally:
        s.close()


def out_of_window_icmp():
    net = Chain()
    t, p = connect(net)
    with net.b.enter():
        sniff = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                              socket.htons(lib.ETH_P_IP))
    lib.on_exit(sniff.close)
    sniff.bind(("to_r", lib.ETH_P_IP))
    sniff.settimeout(lib.scaled(3))
    sport = t.getsockname()[1]
    t.send(b"hello")
    lib.check_eq(p.recv(5), b"hello", "data")
    seg = None
    while not seg:
        frame = sniff.recv(70000)
        s = lib.Seg.parse(frame[14:])
        if s and s.src == A and s.sport == sport and s.load == b"hello":
            seg = s
    time.sleep(0.2)     # the ACK of hello is in: snd_una is snd_nxt
    before = counter(net.a, "OutOfWindowIcmps")
    frag_needed(net, sport, port[0], seg.seq)       # acknowledged already
    time.sleep(0.3)
    lib.check_eq(mss(t), MSS_1500, "TCP_MAXSEG after an old quote")
    lib.check_eq(counter(net.a, "OutOfWindowIcmps") - before, 1,
                 "OutOfWindowIcmps counted")
    frag_needed(net, sport, port[0], seg.seq + 5)   # snd_nxt
    time.sleep(0.3)
    lib.check_eq(mss(t), MSS_1280, "TCP_MAXSEG after quoting snd_nxt")


def black_hole_setup(net, probing):
    net.bottleneck()
    net.r.nft("output", "icmp type destination-unreachable drop")
    set_probing(net.a, probing)


def black_hole():
    net = Chain()
    black_hole_setup(net, 0)
    t, p = connect(net, setup=lambda s: s.setsockopt(
        socket.IPPROTO_TCP, TCP_USER_TIMEOUT, 4000))
    t.setblocking(False)
    try:
        t.send(os.urandom(256 << 10))
    except BlockingIOError:
        pass
    t.settimeout(LIMIT)
    expect_error(lambda: t.recv(100), "ETIMEDOUT", 3, lib.scaled(10))


def black_hole_probing():
    """ICMP dropped at r and mtu_probing=1: after the timeouts the MSS
    falls to base_mss, then probes find the way back up to the path's."""
    net = Chain()
    black_hole_setup(net, 1)
    t, p = connect(net)
    send_recv(t, p, 1 << 20)
    print("# TCP_MAXSEG %d" % mss(t))
    lib.check(1024 < mss(t) <= MSS_1280, "TCP_MAXSEG %d, want above 1024 "
              "and at most %d" % (mss(t), MSS_1280))
    if lib.IS_ALTTCP:
        for name in ("MtuProbeReductions", "MtuProbeSuccesses",
                     "MtuProbeFailures"):
            lib.check(counter(net.a, name) >= 1, "no %s" % name)


def probing_from_the_start():
    """mtu_probing=2 on a clean 1500-byte path: the MSS starts at
    base_mss and probes climb towards the path's (1441 once the search
    ends after six probes; 1395, three probes, at least). Failed before
    the probe waited for window room and data behind it: a writer that
    keeps pace with the window left fewer than five MSS unsent."""
    net = Chain()
    set_probing(net.a, 2)
    t, p = connect(net)
    first = mss(t)
    send_recv(t, p, 4 << 20)
    print("# TCP_MAXSEG %d, then %d" % (first, mss(t)))
    if lib.IS_ALTTCP:
        print("# probes %d, successes %d, failures %d; %s" % (
            counter(net.a, "MtuProbes"), counter(net.a, "MtuProbeSuccesses"),
            counter(net.a, "MtuProbeFailures"),
            lib.conn_table(net.a, lib.PROTO)))
    lib.check_eq(first, 1024, "TCP_MAXSEG at the start")
    lib.check(mss(t) >= 1395, "TCP_MAXSEG %d after 4 MiB" % mss(t))


lib.run_cases([
    ("mtu_1280", mtu_1280),
    ("mtu_lowered_midway", mtu_lowered_midway),
    ("pmtudisc_dont", pmtudisc_dont),
    ("syn_sent_host_unreachable", syn_sent_host_unreachable),
    ("syn_sent_port_unreachable", syn_sent_port_unreachable),
    ("soft_error", soft_error),
    ("out_of_window_icmp", out_of_window_icmp),
    ("black_hole", black_hole),
    ("black_hole_probing", black_hole_probing),
    ("probing_from_the_start", probing_from_the_start),
], timeout=60)
