#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Connection states, read from the state table (/proc/net/alttcp, or
/proc/net/tcp under ALTTCP_TEST_PROTO=6).

The socket under test lives in namespace a (10.0.1.1); its peer in b
(10.0.1.2) is Linux TCP, held back where needed by an nftables rule, or a
hand-driven peer for the orders Linux would not produce by itself
(crossed FINs, crossed SYNs, a withheld final ACK, an RST); see
alttcp_test_lib.RawPeer.
"""
import errno
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

A, B = lib.A_ADDR, lib.B_ADDR
# One namespace pair for all cases (setting one up is slow in the VM):
# every case uses ports of its own and drops its nftables rules.
net = lib.NetPair("st")
_peer = []


def raw_peer():
    """The hand-driven peer, made once and drained for each case."""
    if not _peer:
        _peer.append(lib.RawPeer(net))
    _peer[0].drain()
    return _peer[0]


def expect_state(ns, want, local=None, remote=None, timeout=5.0):
    got = lib.wait_state(ns, want, local, remote, timeout)
    lib.check_eq(got, want, "state of %s -> %s" % (local, remote))


def stays(ns, want, local=None, remote=None, secs=0.3):
    """The state holds for a while (no ACK is coming)."""
    time.sleep(secs)
    lib.check_eq(lib.state_of(ns, local, remote), want,
                 "state after %.1f s" % secs)


def established_with_linux(port):
    """A tested client in a connected to a Linux server in b."""
    srv = net.b.socket(lib.LINUX)
    srv.bind((B, port))
    srv.listen(4)
    c = net.a.socket()
    c.settimeout(10)
    c.connect((B, port))
    p, _ = srv.accept()
    p.settimeout(10)
    srv.close()
    local = "%s:%d" % c.getsockname()
    return c, p, local


def nonblocking_connect(sock, addr):
    sock.setblocking(False)
    lib.check_eq(errno.errorcode.get(sock.connect_ex(addr)), "EINPROGRESS",
                 "non-blocking connect")


def case_listen():
    lsk = net.a.socket()
    lsk.bind((A, 8001))
    lsk.listen(4)
    expect_state(net.a, "LISTEN", "%s:%d" % (A, 8001), "0.0.0.0:0")
    lsk.close()
    lib.check_eq(lib.state_of(net.a, "%s:%d" % (A, 8001)), None,
                 "listener row after close")


def case_syn_sent():
    net.b.nft("input", "tcp dport %d drop" % 8002)
    c = net.a.socket()
    nonblocking_connect(c, (B, 8002))
    expect_state(net.a, "SYN_SENT", remote="%s:%d" % (B, 8002))
    stays(net.a, "SYN_SENT", remote="%s:%d" % (B, 8002))
    c.close()


def case_syn_received_then_established():
    peer = raw_peer()
    lsk = net.a.socket()
    lsk.bind((A, 8003))
    lsk.listen(4)
    peer.send(lib.Seg(40000, 8003, seq=1000, flags="S", options=lib.MSS_1460))
    sa = peer.expect(lambda s: s.flags == "SA" and s.dport == 40000)
    lib.check(sa is not None, "no SYN-ACK")
    remote = "%s:40000" % B
    expect_state(net.a, "SYN_RECEIVED", remote=remote)
    # Not acceptable yet: the final ACK is still withheld.
    lsk.setblocking(False)
    lib.check(not select.select([lsk], [], [], 0.3)[0],
              "listener readable before the final ACK")
    peer.send(lib.Seg(40000, 8003, seq=1001, ack=sa.seq + 1, flags="A"))
    expect_state(net.a, "ESTABLISHED", remote=remote)
    lsk.settimeout(5)
    a, addr = lsk.accept()
    lib.check_eq(addr, (B, 40000), "accepted peer")
    a.close()
    lsk.close()


def case_established_active():
    c, p, local = established_with_linux(8004)
    expect_state(net.a, "ESTABLISHED", local, "%s:%d" % (B, 8004))
    c.close()
    p.close()


def case_fin_wait_1():
    c, p, local = established_with_linux(8005)
    net.b.nft("input", "tcp flags & fin == fin drop")  # our FIN is never ACKed
    c.shutdown(socket.SHUT_WR)
    expect_state(net.a, "FIN_WAIT_1", local)
    stays(net.a, "FIN_WAIT_1", local)


def case_fin_wait_2_then_time_wait():
    c, p, local = established_with_linux(8006)
    c.shutdown(socket.SHUT_WR)
    lib.check_eq(p.recv(10), b"", "peer read after our FIN")
    expect_state(net.a, "FIN_WAIT_2", local)
    stays(net.a, "FIN_WAIT_2", local)
    p.close()
    expect_state(net.a, "TIME_WAIT", local)
    lib.check_eq(c.recv(10), b"", "our read after the peer's FIN")


def case_close_wait_then_last_ack():
    c, p, local = established_with_linux(8007)
    p.shutdown(socket.SHUT_WR)
    lib.check_eq(c.recv(10), b"", "read after the peer's FIN")
    expect_state(net.a, "CLOSE_WAIT", local)
    stays(net.a, "CLOSE_WAIT", local)
    net.b.nft("input", "tcp flags & fin == fin drop")  # our FIN is never ACKed
    c.close()
    expect_state(net.a, "LAST_ACK", local)
    stays(net.a, "LAST_ACK", local)


def raw_established_then_our_fin(port, isn):
    """A tested client connected to the hand-driven peer on port, which
    answers with ISN isn; the client then sends its FIN. Returns the
    connection, our local address and that FIN."""
    peer = raw_peer()
    c = net.a.socket()
    nonblocking_connect(c, (B, port))
    syn = peer.expect(lambda p: p.dport == port and p.flags == "S")
    lib.check(syn is not None, "no SYN")
    conn = lib.RawConn(peer, port, syn.sport, isn, syn.seq + 1)
    conn.send("SA", options=lib.MSS_1460)
    lib.check(conn.expect(lambda t: t.flags == "A" and t.ack == isn + 1)
              is not None, "no ACK of our SYN-ACK")
    local = "%s:%d" % (A, syn.sport)
    expect_state(net.a, "ESTABLISHED", local)
    c.shutdown(socket.SHUT_WR)
    fin = conn.expect(lambda t: "F" in t.flags)
    lib.check(fin is not None, "no FIN")
    return c, conn, local, fin


def case_closing_simultaneous_close():
    c, conn, local, fin = raw_established_then_our_fin(9000, 5000)
    # Our FIN crosses theirs: it does not acknowledge their FIN.
    conn.send("FA", ack=fin.seq)
    expect_state(net.a, "CLOSING", local)
    ack = conn.expect(lambda t: t.ack == conn.snd_nxt)
    lib.check(ack is not None, "our FIN was not acknowledged")
    conn.rcv_nxt = fin.seq + 1
    conn.send("A")
    expect_state(net.a, "TIME_WAIT", local)


def case_fin_wait_1_fin_ack_to_time_wait():
    c, conn, local, fin = raw_established_then_our_fin(9002, 6000)
    expect_state(net.a, "FIN_WAIT_1", local)
    # One segment carries their FIN and the ACK of ours: straight on to
    # TIME_WAIT, never FIN_WAIT_2.
    conn.send("FA", ack=fin.seq + 1)
    expect_state(net.a, "TIME_WAIT", local)
    ack = conn.expect(lambda t: t.flags == "A" and t.ack == conn.snd_nxt)
    lib.check(ack is not None, "their FIN was not acknowledged")


def case_simultaneous_open():
    peer = raw_peer()
    c = net.a.socket()
    c.bind((A, 41000))
    nonblocking_connect(c, (B, 9001))
    syn = peer.expect(lambda p: p.dport == 9001 and p.flags == "S")
    lib.check(syn is not None, "no SYN")
    # Crossed SYNs: ours is a plain SYN, not a SYN-ACK.
    conn = lib.RawConn(peer, 9001, 41000, 7000, syn.seq + 1)
    conn.send("S", ack=0, options=lib.MSS_1460)
    sa = conn.expect(lambda t: t.flags == "SA")
    lib.check(sa is not None, "no SYN-ACK after crossed SYNs")
    lib.check_eq(sa.seq, syn.seq, "SYN-ACK repeats the ISN")
    lib.check_eq(sa.ack, 7001, "SYN-ACK acknowledges our SYN")
    local = "%s:41000" % A
    expect_state(net.a, "SYN_RECEIVED", local)
    conn.send("A")
    expect_state(net.a, "ESTABLISHED", local)
    lib.check(select.select([], [c], [], 5)[1], "connect did not complete")
    lib.check_eq(c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), 0,
                 "SO_ERROR")


def case_rst_in_established():
    peer = raw_peer()
    lsk = net.a.socket()
    lsk.bind((A, 8008))
    lsk.listen(4)
    conn = peer.connect(40001, 8008)
    lsk.settimeout(5)
    a, _ = lsk.accept()
    local, remote = "%s:%d" % (A, 8008), "%s:40001" % B
    expect_state(net.a, "ESTABLISHED", local, remote)
    conn.send("R", ack=0)
    a.settimeout(5)
    try:
        a.recv(10)
        raise AssertionError("recv after RST did not fail")
    except ConnectionResetError:
        pass
    st = lib.state_of(net.a, local, remote)
    lib.check(st in (None, "CLOSED"), "row after RST: %s" % st)


def case_close_unread_resets_peer():
    """RFC 2525 2.17: a client that closes with data unread resets the
    connection; the RST must carry the connection's ports, though closing
    gives the client's automatic port back (the Linux peer sees
    ECONNRESET, not a connection left open)."""
    c, p, local = established_with_linux(8010)
    p.sendall(b"unread" * 100)
    time.sleep(0.3)             # in c's receive queue
    c.close()
    try:
        p.settimeout(5)
        got = p.recv(10)
        raise AssertionError("peer read %r, not ECONNRESET" % got)
    except ConnectionResetError:
        pass
    except socket.timeout:
        raise AssertionError("peer saw no RST within 5 s")
    p.close()


def case(fn):
    """Runs fn with the case's nftables rules removed afterwards."""
    def run():
        try:
            fn()
        finally:
            net.b.nft_flush()
    return run


lib.run_cases([
    ("listen", case(case_listen)),
    ("syn_sent", case(case_syn_sent)),
    ("syn_received_then_established", case(case_syn_received_then_established)),
    ("established_active_open", case(case_established_active)),
    ("fin_wait_1", case(case_fin_wait_1)),
    ("fin_wait_2_then_time_wait", case(case_fin_wait_2_then_time_wait)),
    ("close_wait_then_last_ack", case(case_close_wait_then_last_ack)),
    ("closing_simultaneous_close", case(case_closing_simultaneous_close)),
    ("fin_wait_1_fin_ack_to_time_wait",
     case(case_fin_wait_1_fin_ack_to_time_wait)),
    ("simultaneous_open", case(case_simultaneous_open)),
    ("rst_in_established_econnreset", case(case_rst_in_established)),
    ("close_with_unread_data_resets_peer",
     case(case_close_unread_resets_peer)),
], timeout=60)
