#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""When segments and ACKs go out: Linux TCP's policy, checked on the wire.

A hand-driven peer in namespace b talks to the tested socket in a and
records what it sends: ACKs every second full-sized segment (the
receiver learns the peer's segment size), a request's ACK riding on the
response once the connection is interactive, PSH only where a write ends,
no window update for a read that found nothing, Minshall's Nagle,
MSG_MORE and TCP_CORK holding a partial segment (sent by TCP_NODELAY,
the next write, or an RTO later), and a congestion window that grows only
while it is used and restarts after idle (RFC 7661, RFC 5681 4.1), the
latter two against Linux TCP in b.
"""
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

PORT = 8600
TCP_CORK = 3
MSS = 1460
sport = [41000]


def tcp_info(sock, offset):
    """One u32 of struct tcp_info (rcv_mss at 20, snd_cwnd at 80)."""
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    return struct.unpack_from("I", info, offset)[0]


class Scripted:
    """A listener in a, and the raw peer in b that connects to it; made
    once, as namespaces and rules take seconds under emulation."""
    net = peer = lsk = None

    @classmethod
    def get(cls):
        if not cls.net:
            cls.net = lib.NetPair("sp")
            # One segment per skb, so Linux's segments are seen as sent.
            cls.net.a.run("ethtool", "-K", "veth0", "tso", "off",
                          "gso", "off")
            cls.net.a.run("ip", "link", "set", "dev", "veth0",
                          "gso_max_segs", "1")
            cls.peer = lib.RawPeer(cls.net)
            cls.lsk = cls.net.a.socket()
            cls.lsk.bind((lib.A_ADDR, PORT))
            cls.lsk.listen(8)
            cls.lsk.settimeout(lib.scaled(5))
            lib.on_exit(cls.lsk.close)
        return cls


class Server:
    """One connection from the raw peer in b to the listener in a."""

    def __init__(self, wscale=False):
        s = Scripted.get()
        self.peer = s.peer
        self.peer.drain()
        sport[0] += 1
        if wscale:
            self.conn = self.connect_scaled(sport[0])
        else:
            self.conn = self.peer.connect(sport[0], PORT)
        self.app, _ = s.lsk.accept()
        lib.on_exit(self.app.close)

    def connect_scaled(self, port, isn=1000):
        """As RawPeer.connect, offering window scaling (shift 7), so a's
        window may grow past 64 KiB after the handshake."""
        self.peer.send(lib.Seg(port, PORT, isn, 0, "S",
                               options=lib.MSS_1460 + b"\x01\x03\x03\x07"))
        sa = self.peer.expect(lambda s: s.sport == PORT and
                              s.dport == port and s.flags == "SA")
        lib.check(sa is not None, "no SYN-ACK from a")
        conn = lib.RawConn(self.peer, port, PORT, isn + 1, sa.seq + 1)
        conn.send("A")
        return conn

    def collect(self, want, ack=True, timeout=3.0):
        """Data segments from a until want new bytes came; ACKs each
        (window 65535) when ack. Returns those that carried new data
        in order (not retransmissions)."""
        segs, got = [], 0
        end = time.monotonic() + lib.scaled(timeout)
        while got < want and time.monotonic() < end:
            s = self.conn.expect(lambda s: s.load,
                                 end - time.monotonic())
            if s is None:
                break
            if s.seq == self.conn.rcv_nxt:
                segs.append(s)
                self.conn.rcv_nxt += len(s.load)
                got += len(s.load)
            if ack:
                self.conn.send("A")
        return segs

    def quiet(self, seconds):
        """Whether a sends no new data for that long (a retransmission
        of what was collected does not count). Not scaled on a slow
        kernel: what may end the quiet is a timer (the cork's ceiling),
        and timers run on the clock."""
        nxt = self.conn.rcv_nxt
        return self.conn.expect(
            lambda s: s.load and (s.seq + len(s.load) - nxt) % 2**32 < 2**31
            and s.seq + len(s.load) != nxt, seconds) is None


def case_acks_every_second_full_segment():
    """60 full segments: one ACK for each two once quick ACKs are over,
    and TCP_INFO's rcv_mss is the segments' size. alttcp took rcv_mss
    for 536 and ACKed every segment of 1072 bytes or more."""
    srv = Server()
    got = bytearray()
    done = threading.Event()

    def reader():
        while len(got) < 60 * MSS:
            chunk = srv.app.recv(1 << 16)
            if not chunk:
                break
            got.extend(chunk)
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    acks = []
    for i in range(60):
        srv.conn.send("A", os.urandom(MSS))
        # Paced, so the reader keeps up and the window is never the
        # reason for an ACK; ACKs are read as they come.
        time.sleep(0.002)
    end = time.monotonic() + lib.scaled(2)
    while time.monotonic() < end:
        a = srv.conn.expect(lambda s: not s.load and "A" in s.flags,
                            end - time.monotonic())
        if a is None:
            break
        acks.append(a.ack)
    done.wait(lib.scaled(3))
    last = srv.conn.snd_nxt
    print("# %d ACKs for 60 segments; rcv_mss %d" %
          (len(acks), tcp_info(srv.app, 20)))
    lib.check_eq(len(got), 60 * MSS, "bytes read")
    lib.check_eq(tcp_info(srv.app, 20), MSS, "TCP_INFO rcv_mss")
    lib.check(acks and acks[-1] == last, "last ACK %r, want %d" %
              (acks[-1:] or None, last))
    # 16 quick ACKs, then about one per two segments (Linux sends 45
    # or so: some window updates as the reader frees space).
    lib.check(len(acks) <= 50, "%d ACKs for 60 segments" % len(acks))


def case_request_ack_rides_on_response():
    """Request and response: once the application has answered a request
    within the delayed-ACK time, the connection is interactive (Linux's
    pingpong mode). The next request is not acknowledged alone at once
    (a quick ACK): its ACK waits, and rides on the response. alttcp
    acknowledged each of a connection's first 16 requests at once, one
    segment more per exchange."""
    srv = Server()

    def echo():
        for _ in range(2):
            srv.app.sendall(srv.app.recv(100))
    threading.Thread(target=echo, daemon=True).start()
    firsts = []
    for i in range(2):
        srv.peer.drain()
        t0 = time.monotonic()
        srv.conn.send("A", b"%d" % i * 64)
        first = srv.conn.expect(lambda s: "A" in s.flags, lib.scaled(2))
        lib.check(first is not None, "request %d: nothing from a" % i)
        firsts.append((first, time.monotonic() - t0))
        resp = first if first.load else \
            srv.conn.expect(lambda s: s.load, lib.scaled(2))
        lib.check(resp is not None, "request %d: no response" % i)
        srv.conn.rcv_nxt += len(resp.load)
        srv.conn.send("A")
        time.sleep(0.1)
    for i, (first, dt) in enumerate(firsts):
        print("# request %d: first answer %s, %d bytes, after %.1f ms" %
              (i, first.flags, len(first.load), dt * 1000))
    # A pure ACK within 30 ms is a quick one; the delayed ACK would come
    # after 40 ms, if the application were slower than that.
    second, dt = firsts[1]
    lib.check(second.load or dt >= 0.03, "the second request was "
              "acknowledged alone after %.1f ms, before its response" %
              (dt * 1000))


def case_psh_where_a_write_ends():
    """A 40 KiB write in 1460-byte segments: PSH on its last segment and,
    within it, at most once more (half the peer's 65535-byte window, as
    Linux's forced push). alttcp set PSH on every data segment."""
    srv = Server()
    # Room for all of it unacknowledged: the send buffer's start (Linux's
    # tcp_sndbuf_expand(), 2 x 10 segments' truesize) holds it on
    # Debian's kernel, but not where an skb's overhead is larger (the
    # debug kernel), and the peer ACKs only once the write returns.
    print("# SO_SNDBUF at the start: %d" %
          srv.app.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF))
    srv.app.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 18)
    srv.app.sendall(os.urandom(40 << 10))
    segs = srv.collect(40 << 10)
    pushed = [i for i, s in enumerate(segs) if "P" in s.flags]
    print("# %d segments, PSH on %r" % (len(segs), pushed))
    lib.check_eq(sum(len(s.load) for s in segs), 40 << 10, "bytes sent")
    lib.check(len(segs) >= 28, "%d segments" % len(segs))
    lib.check("P" in segs[-1].flags, "no PSH on the last segment")
    lib.check(len(pushed) <= 2, "PSH on segments %r" % pushed)


def case_no_window_update_after_accept():
    """accept() and a read that finds nothing: no segment goes out (the
    window grew past the SYN-ACK's 64 KiB, but only data read is news).
    alttcp sent a window update."""
    srv = Server(wscale=True)
    srv.peer.drain()
    srv.app.setblocking(False)
    try:
        srv.app.recv(100)
        raise AssertionError("read returned data")
    except BlockingIOError:
        pass
    stray = srv.conn.expect(timeout=lib.scaled(0.5))
    lib.check(stray is None, "sent %r after an empty read" % stray)


def case_minshall_nagle():
    """3000 bytes (two full segments and 80) go at once, unacknowledged:
    the 80 is the only small segment out. 100 more wait while it is
    unacknowledged, and go with the ACK. Classic Nagle held the 80."""
    srv = Server()
    srv.app.send(os.urandom(3000))
    segs = srv.collect(3000, ack=False)
    print("# unacknowledged: %r" % [len(s.load) for s in segs])
    lib.check_eq(sum(len(s.load) for s in segs), 3000, "bytes sent")
    srv.app.send(os.urandom(100))
    lib.check(srv.quiet(0.3), "a second small segment went unacknowledged")
    srv.conn.send("A")
    segs = srv.collect(100)
    lib.check_eq(sum(len(s.load) for s in segs), 100, "bytes after the ACK")


def case_msg_more_joins_writes():
    """send(100, MSG_MORE) then send(100): one 200-byte segment, PSH."""
    srv = Server()
    srv.app.send(b"x" * 100, socket.MSG_MORE)
    lib.check(srv.quiet(0.1), "MSG_MORE data went at once")
    srv.app.send(b"y" * 100)
    segs = srv.collect(200)
    lib.check_eq([len(s.load) for s in segs], [200], "segment sizes")
    lib.check("P" in segs[0].flags, "no PSH")


def case_cork_flushed_by_nodelay():
    """TCP_CORK holds 100 bytes; setting TCP_NODELAY sends them."""
    srv = Server()
    srv.app.setsockopt(socket.IPPROTO_TCP, TCP_CORK, 1)
    lib.check_eq(srv.app.getsockopt(socket.IPPROTO_TCP, TCP_CORK), 1,
                 "TCP_CORK read back")
    srv.app.send(b"z" * 100)
    lib.check(srv.quiet(0.1), "corked data went at once")
    srv.app.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    segs = srv.collect(100, timeout=0.1)
    lib.check_eq([len(s.load) for s in segs], [100], "segment sizes")


def case_cork_ceiling():
    """Corked data nobody releases goes an RTO later (the persist timer:
    Linux's 200 ms ceiling), marked PSH."""
    srv = Server()
    srv.app.setsockopt(socket.IPPROTO_TCP, TCP_CORK, 1)
    t0 = time.monotonic()
    srv.app.send(b"c" * 100)
    segs = srv.collect(100, timeout=3)
    took = time.monotonic() - t0
    print("# corked segment after %.3f s" % took)
    lib.check_eq([len(s.load) for s in segs], [100], "segment sizes")
    lib.check(took >= 0.19, "sent after %.3f s" % took)
    lib.check("P" in segs[0].flags, "no PSH")


def case_no_fast_retransmit_after_timeout():
    """Ten segments go unacknowledged until the RTO resends the first;
    three duplicate ACKs for it then are no new loss (RFC 6582 4.2): the
    first segment is not sent a third time before the next RTO. alttcp
    resent it at once (a fast retransmit)."""
    srv = Server()
    srv.app.sendall(os.urandom(10 * MSS))
    first = srv.conn.rcv_nxt
    segs = srv.collect(10 * MSS, ack=False)
    lib.check_eq(len(segs), 10, "segments")
    again = srv.conn.expect(lambda s: s.seq == first and s.load,
                            lib.scaled(3))
    lib.check(again is not None, "no retransmission by the RTO")
    t0 = time.monotonic()
    srv.conn.rcv_nxt = first
    for _ in range(3):
        srv.conn.send("A")
    # Unscaled: the next RTO (twice the first, 400 ms or more) resends it.
    third = srv.conn.expect(lambda s: s.seq == first and s.load, 0.15)
    lib.check(third is None, "resent %.3f s after three duplicate ACKs" %
              (time.monotonic() - t0))


class Echo:
    """A Linux TCP server in b echoing each connection, made once."""
    net = None

    @classmethod
    def connect(cls):
        if not cls.net:
            cls.net = lib.NetPair("se")
            lsk = cls.net.b.socket(socket.IPPROTO_TCP)
            lsk.bind((lib.B_ADDR, PORT))
            lsk.listen(4)
            lib.on_exit(lsk.close)
            threading.Thread(target=cls.serve, args=(lsk,),
                             daemon=True).start()
        c = cls.net.a.socket()
        c.settimeout(lib.scaled(10))
        c.connect((lib.B_ADDR, PORT))
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        lib.on_exit(c.close)
        return c

    @staticmethod
    def serve(lsk):
        while True:
            conn, _ = lsk.accept()
            threading.Thread(target=Echo.echo, args=(conn,),
                             daemon=True).start()

    @staticmethod
    def echo(conn):
        while True:
            data = conn.recv(1 << 16)
            if not data:
                break
            conn.sendall(data)
        conn.close()


def read_n(sock, n):
    got = 0
    while got < n:
        chunk = sock.recv(n - got)
        lib.check(chunk, "EOF after %d of %d bytes" % (got, n))
        got += len(chunk)


def case_cwnd_kept_when_unused():
    """200 request/response exchanges of 100 bytes never fill the initial
    window of 10: cwnd stays 10. alttcp grew it on every ACK."""
    c = Echo.connect()
    for _ in range(200):
        c.sendall(b"q" * 100)
        read_n(c, 100)
    cwnd = tcp_info(c, 80)
    print("# cwnd %d after 200 exchanges" % cwnd)
    lib.check_eq(cwnd, 10, "snd_cwnd")


def case_cwnd_restarts_after_idle():
    """4 MiB grow cwnd; idle for long enough, the next write finds it
    back at the initial window (RFC 5681 4.1)."""
    c = Echo.connect()
    data = os.urandom(4 << 20)
    t = threading.Thread(target=read_n, args=(c, len(data)), daemon=True)
    t.start()
    c.sendall(data)
    t.join(lib.scaled(20))
    before = tcp_info(c, 80)
    # cwnd halves for each RTO idle (tcpi_rto, microseconds): idle long
    # enough for it to reach 10 from where it is, a second at least.
    rtos = before.bit_length() + 2
    time.sleep(max(1.0, rtos * tcp_info(c, 8) / 1e6))
    c.sendall(b"i")
    after = tcp_info(c, 80)
    read_n(c, 1)
    print("# cwnd %d, after a second idle %d" % (before, after))
    lib.check(before > 10, "cwnd %d after 4 MiB" % before)
    lib.check_eq(after, 10, "snd_cwnd after idle")


INFINITE_SSTHRESH = 0x7fffffff  # TCP_INFO's, as Linux reports it


def case_handshake_retransmit_keeps_ssthresh():
    """A SYN lost, then (a listening) a SYN-ACK lost: each handshake
    completes after one retransmission, and the connection starts with
    the initial window and no ssthresh (Linux: more than one
    retransmission cuts cwnd to 1; ssthresh is never set by it)."""
    lib._modprobe("nft_quota")     # a module in Debian's kernel
    with open("/proc/kallsyms") as f:
        if not any("nft_quota" in line for line in f):
            raise lib.Skip("no nft quota in this kernel (CONFIG_NFT_QUOTA)")
    Echo.connect()
    net = Echo.net
    first = "tcp flags & (syn | ack) == %s quota until 1 bytes drop"
    net.b.nft("input", "tcp dport %d " % PORT + first % "syn")
    try:
        c = Echo.connect()
    finally:
        net.b.nft_flush()
    ssthresh, cwnd = tcp_info(c, 76), tcp_info(c, 80)
    print("# client after a lost SYN: ssthresh %d, cwnd %d" %
          (ssthresh, cwnd))
    lib.check_eq((ssthresh, cwnd), (INFINITE_SSTHRESH, 10),
                 "client's (snd_ssthresh, snd_cwnd)")

    lsk = net.a.socket()
    lsk.bind((lib.A_ADDR, PORT + 1))
    lsk.listen(1)
    lsk.settimeout(lib.scaled(10))
    lib.on_exit(lsk.close)
    net.a.nft("output", "tcp sport %d " % (PORT + 1) + first % "syn | ack")
    try:
        cli = net.b.socket(socket.IPPROTO_TCP)
        cli.settimeout(lib.scaled(10))
        cli.connect((lib.A_ADDR, PORT + 1))
        lib.on_exit(cli.close)
        srv, _ = lsk.accept()
        lib.on_exit(srv.close)
    finally:
        net.a.nft_flush()
    ssthresh, cwnd = tcp_info(srv, 76), tcp_info(srv, 80)
    print("# server after a lost SYN-ACK: ssthresh %d, cwnd %d" %
          (ssthresh, cwnd))
    lib.check_eq((ssthresh, cwnd), (INFINITE_SSTHRESH, 10),
                 "server's (snd_ssthresh, snd_cwnd)")


lib.run_cases([
    ("acks_every_second_full_segment", case_acks_every_second_full_segment),
    ("request_ack_rides_on_response", case_request_ack_rides_on_response),
    ("psh_where_a_write_ends", case_psh_where_a_write_ends),
    ("no_window_update_after_accept", case_no_window_update_after_accept),
    ("minshall_nagle", case_minshall_nagle),
    ("msg_more_joins_writes", case_msg_more_joins_writes),
    ("cork_flushed_by_nodelay", case_cork_flushed_by_nodelay),
    ("cork_ceiling", case_cork_ceiling),
    ("no_fast_retransmit_after_timeout",
     case_no_fast_retransmit_after_timeout),
    ("cwnd_kept_when_unused", case_cwnd_kept_when_unused),
    ("cwnd_restarts_after_idle", case_cwnd_restarts_after_idle),
    ("handshake_retransmit_keeps_ssthresh",
     case_handshake_retransmit_keeps_ssthresh),
], timeout=30)
