#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""ACKs to invalid segments are rate limited (RFC 5961 7).

A hand-driven peer in namespace b sends bursts of segments that each
deserve an ACK: pure ACKs outside the window, RSTs inside the window but
not at its edge (challenge ACKs), stray segments to a TIME_WAIT entry.
Unlimited, each burst of N segments is answered with N ACKs, making the
receiver an ACK reflector. As Linux TCP, a connection (or TIME_WAIT
entry) answers at most one every 500 ms, segments carrying data are
always answered, and a namespace sends only about its challenge ACK
limit a second in all.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

PORT = 8400
BURST = 40
net = lib.NetPair("ar")
peer = lib.RawPeer(net)
lsk = net.a.socket()
lsk.bind((lib.A_ADDR, PORT))
lsk.listen(32)
lsk.settimeout(lib.scaled(10))
sport = [40400]


def connect():
    sport[0] += 1
    conn = peer.connect(sport[0], PORT)
    app, _ = lsk.accept()
    lib.on_exit(app.close)
    app.settimeout(lib.scaled(5))
    return conn, app


def count_acks(conns, window=0.6):
    """Pure ACKs a sends on conns within window seconds."""
    ports = {c.sport for c in conns}
    n = 0
    end = time.monotonic() + window
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return n
        seg = peer.expect(lambda s: s.dport in ports and s.sport == PORT and
                          s.flags == "A" and not s.load, timeout=left)
        if seg is None:
            return n
        n += 1


def burst(conn, n=BURST, **kw):
    peer.drain()
    for _ in range(n):
        conn.send(**kw)


def oow_ack_limited():
    conn, _ = connect()
    burst(conn, flags="A", seq=(conn.snd_nxt + 1000000) & 0xffffffff)
    n = count_acks([conn])
    lib.check(1 <= n <= 2, "%d ACKs to %d out-of-window ACKs" % (n, BURST))


def oow_data_answered():
    """Old data (our ACK was lost, say) is always acknowledged."""
    conn, app = connect()
    conn.send("PA", b"x" * 100)
    lib.check_eq(app.recv(100), b"x" * 100, "data read")
    lib.check(conn.expect(lambda s: s.ack == conn.snd_nxt) is not None,
              "data not acknowledged")
    burst(conn, 10, flags="PA", load=b"y" * 10,
          seq=(conn.snd_nxt - 100) & 0xffffffff)
    n = count_acks([conn])
    lib.check_eq(n, 10, "ACKs to 10 retransmitted old segments")


def challenge_ack_limited():
    conn, app = connect()
    burst(conn, flags="R", seq=(conn.snd_nxt + 1000) & 0xffffffff, ack=0)
    n = count_acks([conn])
    lib.check(1 <= n <= 2, "%d challenge ACKs to %d RSTs" % (n, BURST))
    # The RSTs reset nothing.
    app.send(b"alive")
    lib.check(conn.expect(lambda s: s.load == b"alive") is not None,
              "the connection did not survive")


def timewait_ack_limited():
    conn, app = connect()
    app.close()
    fin = conn.expect(lambda s: "F" in s.flags)
    lib.check(fin is not None, "no FIN from a")
    conn.rcv_nxt += 1
    conn.send("FA")
    last = conn.expect(lambda s: s.ack == conn.snd_nxt)
    lib.check(last is not None, "FIN not acknowledged")
    lib.check_eq(lib.wait_state(net.a, "TIME_WAIT",
                                remote="%s:%d" % (lib.B_ADDR, conn.sport)),
                 "TIME_WAIT", "state of a")
    burst(conn, flags="A", seq=(conn.snd_nxt + 1000000) & 0xffffffff)
    n = count_acks([conn])
    lib.check(n <= 2, "TIME_WAIT: %d ACKs to %d stray ACKs" % (n, BURST))
    # A retransmitted FIN is always answered.
    peer.drain()
    conn.send("FA", seq=(conn.snd_nxt - 1) & 0xffffffff)
    lib.check(count_acks([conn]) == 1, "retransmitted FIN not acknowledged")


def challenge_ack_namespace_limit():
    """With a limit of 2 a second, 12 connections' RSTs get at most a
    couple of challenge ACKs (more if a second boundary falls inside)."""
    if lib.IS_ALTTCP:
        knob = "/proc/sys/net/alttcp/challenge_ack_limit"
    else:
        knob = "/proc/sys/net/ipv4/tcp_challenge_ack_limit"
    conns = [connect()[0] for _ in range(12)]
    old = net.a.run("cat", knob).strip()
    net.a.run("sh", "-c", "echo 2 > %s" % knob)
    try:
        peer.drain()
        for c in conns:
            c.send("R", seq=(c.snd_nxt + 1000) & 0xffffffff, ack=0)
        n = count_acks(conns)
    finally:
        net.a.run("sh", "-c", "echo %s > %s" % (old, knob))
    lib.check(1 <= n <= 4, "%d challenge ACKs for 12 connections" % n)


lib.run_cases([
    ("oow_ack_limited", oow_ack_limited),
    ("oow_data_answered", oow_data_answered),
    ("challenge_ack_limited", challenge_ack_limited),
    ("timewait_ack_limited", timewait_ack_limited),
    ("challenge_ack_namespace_limit", challenge_ack_namespace_limit),
], timeout=60)
