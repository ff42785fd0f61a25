#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The send path's skbs, as Linux TCP's: many segments each, cut by GSO.

- A bulk sender hands IP skbs of many segments (GSO): a packet socket on
  the sender's veth0, which offloads segmentation, sees IP packets far
  larger than the MTU carry most of the bytes, and the sender's OutSegs
  still counts segments, not skbs.
- A send buffer set with SO_SNDBUF holds about what it says: payload in
  page fragments costs its bytes, not an allocation per segment.
- A retransmission after a timeout is one MSS, starting where the peer's
  acknowledgment (which may end inside a segment) left off.
- The peer's window takes whole segments of an skb, never more.
- A peer whose window stays too small for the next segment does not
  keep the connection past TCP_USER_TIMEOUT.
- sendfile() and splice() deliver a file intact.
"""
import errno
import hashlib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

PORT = 8700
MSS = 1460          # the raw peer's MSS option; no timestamps
ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_RCVBUFFORCE = 33
TCP_USER_TIMEOUT = 18
sport = [42000]


def case_skbs_carry_many_segments():
    """2 MB from a to a Linux TCP reader in b, seen leaving a."""
    size = 2 << 20
    net = lib.NetPair("gso")
    # Only ETH_P_ALL sockets see what a host sends.
    with net.a.enter():
        cap = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                            socket.htons(ETH_P_ALL))
    lib.on_exit(cap.close)
    # Room for every packet of the transfer (SO_RCVBUFFORCE, as root).
    cap.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 32 << 20)
    cap.bind(("veth0", ETH_P_ALL))
    lsk = net.b.socket(lib.LINUX)
    lsk.bind((lib.B_ADDR, PORT))
    lsk.listen(1)
    lsk.settimeout(lib.scaled(10))
    got = []

    def reader():
        srv, _ = lsk.accept()
        srv.settimeout(lib.scaled(30))
        n = 0
        while True:
            b = srv.recv(1 << 16)
            if not b:
                break
            n += len(b)
        got.append(n)
        srv.close()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    before = lib.counters(net.a)
    cli = net.a.socket()
    cli.settimeout(lib.scaled(30))
    cli.connect((lib.B_ADDR, PORT))
    cli.sendall(b"g" * size)
    cli.shutdown(socket.SHUT_WR)
    t.join(lib.scaled(30))
    cli.close()
    out = lib.counters(net.a)["OutSegs"] - before["OutSegs"]
    lib.check_eq(got, [size], "bytes the reader got")

    cap.setblocking(False)
    lengths = []
    try:
        while True:
            data, addr = cap.recvfrom(70000)
            if addr[2] != PACKET_OUTGOING or data[12:14] != b"\x08\x00":
                continue
            seg = lib.Seg.parse(data[14:])
            if seg and seg.dport == PORT and seg.load:
                lengths.append(len(seg.load))
    except BlockingIOError:
        pass
    big = sum(n for n in lengths if n > 1500)
    print("# %d data packets seen leaving a, largest %d bytes, %d%% of "
          "the bytes in packets over the MTU; OutSegs +%d" %
          (len(lengths), max(lengths, default=0),
           100 * big // max(sum(lengths), 1), out))
    lib.check(max(lengths, default=0) > 1500,
              "no packet of more than one segment left a")
    lib.check(2 * big >= sum(lengths),
              "less than half the bytes left in packets over the MTU")
    lib.check(out >= size // 1448, "OutSegs +%d counts skbs, not the "
              "%d segments or more sent" % (out, size // 1448))


class Scripted:
    """A listener in a and the raw peer in b; made once."""
    net = peer = lsk = None

    @classmethod
    def get(cls):
        if not cls.net:
            cls.net = lib.NetPair("sp2")
            cls.peer = lib.RawPeer(cls.net)
            cls.lsk = cls.net.a.socket()
            cls.lsk.bind((lib.A_ADDR, PORT))
            cls.lsk.listen(8)
            cls.lsk.settimeout(lib.scaled(5))
            lib.on_exit(cls.lsk.close)
        return cls


def scripted_conn(window=65535):
    """A connection from the raw peer (MSS 1460, the given window) to the
    listener in a; returns (the peer's side, a's accepted socket)."""
    s = Scripted.get()
    s.peer.drain()
    sport[0] += 1
    isn = 1000
    s.peer.send(lib.Seg(sport[0], PORT, isn, 0, "S", window=window,
                        options=lib.MSS_1460))
    sa = s.peer.expect(lambda g: g.sport == PORT and g.dport == sport[0] and
                       g.flags == "SA")
    lib.check(sa is not None, "no SYN-ACK from a")
    conn = lib.RawConn(s.peer, sport[0], PORT, isn + 1, sa.seq + 1)
    conn.send("A", window=window)
    app, _ = s.lsk.accept()
    lib.on_exit(app.close)
    return conn, app


def case_sndbuf_holds_its_size():
    """The peer never acknowledges: what a takes before EAGAIN is what
    its send buffer holds."""
    conn, app = scripted_conn()
    app.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 42000)
    sndbuf = app.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    taken = 0
    while True:
        try:
            taken += app.send(b"b" * 4096, socket.MSG_DONTWAIT)
        except BlockingIOError:
            break
    print("# SO_SNDBUF reads %d; writes took %d bytes" % (sndbuf, taken))
    lib.check(taken >= sndbuf * 7 // 10,
              "the send buffer held %d of %d bytes" % (taken, sndbuf))
    lib.check(taken <= sndbuf + 65536,
              "the send buffer took %d bytes, far over %d" % (taken, sndbuf))


def case_retransmission_is_one_mss():
    """20 000 bytes go out, more than a segment at once; the peer
    acknowledges 3000 of them (inside the third segment) and nothing
    more: after the timeout a resends at most one MSS from byte 3000."""
    conn, app = scripted_conn()
    base = conn.rcv_nxt
    app.sendall(b"r" * 20000)
    first = conn.expect(lambda g: g.load and g.seq == base,
                        lib.scaled(3))
    lib.check(first is not None, "no data from a")
    print("# first packet: %d bytes" % len(first.load))
    lib.check(len(first.load) > MSS,
              "the first packet held %d bytes: one segment, not an skb of "
              "several" % len(first.load))
    conn.send("A", ack=base + 3000)
    again = conn.expect(lambda g: g.load and
                        (g.seq - base) % 2**32 == 3000, lib.scaled(5))
    lib.check(again is not None, "no retransmission from byte 3000")
    lib.check(0 < len(again.load) <= MSS, "%d bytes retransmitted, more "
              "than one MSS" % len(again.load))


def case_window_takes_whole_segments():
    """A window of 5000 bytes: a sends three full segments (4380 bytes)
    and nothing past the window's edge."""
    conn, app = scripted_conn(window=5000)
    base = conn.rcv_nxt
    app.sendall(b"w" * 20000)
    sent = []
    end = time.monotonic() + lib.scaled(2)
    while time.monotonic() < end:
        g = conn.expect(lambda g: g.load, end - time.monotonic())
        if g is None:
            break
        sent.append(((g.seq - base) % 2**32, len(g.load)))
    print("# sent (offset, length): %s" % sent)
    lib.check(sent, "nothing sent into a 5000-byte window")
    lib.check_eq(max(o + n for o, n in sent), 3 * MSS,
                 "highest byte sent into a 5000-byte window")
    lib.check(all(o % MSS == 0 and n % MSS == 0 for o, n in sent),
              "pieces that are not whole segments: %s" % sent)


def case_tiny_window_keeps_user_timeout():
    """The peer acknowledges two segments with a window of 100 bytes,
    then answers everything with that same ACK and window: what waits
    gets no further, and TCP_USER_TIMEOUT (2 s) ends the connection
    (ETIMEDOUT), as Linux's, whose probes send what the window takes.
    A tiny window must not keep the probing from counting."""
    conn, app = scripted_conn()
    app.setsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT, 2000)
    base = conn.rcv_nxt
    app.sendall(b"u" * 20000)
    lib.check(conn.expect(lambda g: g.load, lib.scaled(3)) is not None,
              "no data from a")
    ack = base + 2 * MSS
    stop = threading.Event()

    def answer():
        while not stop.is_set():
            g = conn.expect(lambda g: True, 0.2)
            if g is not None and "R" not in g.flags:
                conn.send("A", ack=ack, window=100)

    conn.send("A", ack=ack, window=100)
    t = threading.Thread(target=answer, daemon=True)
    t.start()
    t0 = time.monotonic()
    app.settimeout(lib.scaled(10))
    err = None
    try:
        app.recv(1)
    except OSError as e:
        err = e.errno
    took = time.monotonic() - t0
    stop.set()
    t.join(2)
    print("# errno %s after %.1f s" % (err, took))
    lib.check_eq(err, errno.ETIMEDOUT, "recv()'s error")
    lib.check(1.5 <= took <= lib.scaled(8), "ETIMEDOUT after %.1f s" % took)


def case_sendfile_and_splice():
    """A 3 MB file through sendfile(), then through a pipe with splice(),
    from a to a Linux TCP reader in b: the bytes arrive as in the file
    (alttcp takes the pages by reference where it can)."""
    size = 3 << 20
    data = os.urandom(size)
    path = "/tmp/alttcp-sendpath-%d" % os.getpid()
    with open(path, "wb") as f:
        f.write(data)
    lib.on_exit(lambda: os.unlink(path))
    net = lib.NetPair("sf")
    lsk = net.b.socket(lib.LINUX)
    lsk.bind((lib.B_ADDR, PORT))
    lsk.listen(2)
    lsk.settimeout(lib.scaled(10))
    digests = []

    def reader():
        for _ in range(2):
            srv, _ = lsk.accept()
            srv.settimeout(lib.scaled(30))
            h, n = hashlib.sha256(), 0
            while True:
                b = srv.recv(1 << 16)
                if not b:
                    break
                h.update(b)
                n += len(b)
            digests.append((n, h.hexdigest()))
            srv.close()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    want = (size, hashlib.sha256(data).hexdigest())
    # Blocking sockets: a timeout makes them non-blocking underneath.
    with open(path, "rb") as f:
        cli = net.a.socket()
        cli.connect((lib.B_ADDR, PORT))
        off = 0
        while off < size:
            off += os.sendfile(cli.fileno(), f.fileno(), off, size - off)
        cli.close()
    r, w = os.pipe()
    cli = net.a.socket()
    cli.connect((lib.B_ADDR, PORT))

    def writer():
        with open(w, "wb") as pw:
            pw.write(data)

    wt = threading.Thread(target=writer, daemon=True)
    wt.start()
    moved = 0
    while moved < size:
        n = os.splice(r, cli.fileno(), size - moved)
        lib.check(n > 0, "splice() returned %d" % n)
        moved += n
    cli.close()
    os.close(r)
    wt.join(10)
    t.join(lib.scaled(30))
    lib.check_eq(digests, [want, want], "bytes and SHA-256 the reader got "
                 "(sendfile, then splice)")


lib.run_cases([
    ("skbs_carry_many_segments", case_skbs_carry_many_segments),
    ("sndbuf_holds_its_size", case_sndbuf_holds_its_size),
    ("retransmission_is_one_mss", case_retransmission_is_one_mss),
    ("window_takes_whole_segments", case_window_takes_whole_segments),
    ("tiny_window_keeps_user_timeout",
     case_tiny_window_keeps_user_timeout),
    ("sendfile_and_splice", case_sendfile_and_splice),
], timeout=120)
