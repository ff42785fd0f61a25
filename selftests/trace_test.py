#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""alttcp's tracepoints (events/alttcp/ in tracefs), recorded in a trace
instance of the test's own so other tracing is left alone.

An alttcp server in namespace a (10.0.1.1) talks to Linux TCP clients in
b (10.0.1.2); each case runs one scripted connection and checks the
events it must produce, matched by the connection's 4-tuple (local side
first, as the events print it):

- alttcp_state_change: the listener's CLOSED -> LISTEN and LISTEN ->
  CLOSED, and a connection the server closes first going exactly LISTEN
  -> SYN_RECEIVED -> ESTABLISHED -> FIN_WAIT_1 -> FIN_WAIT_2 -> TIME_WAIT,
  then alttcp_tw_expire and TIME_WAIT -> CLOSED after 2 * msl_ms;
- alttcp_retransmit for a data segment an nftables rule in b dropped;
- alttcp_rst_send for a close with SO_LINGER 0 and for a SYN to a port
  alttcp holds without a listener (with alttcp_drop reason=NoSocket);
- alttcp_rst_recv when the Linux client aborts with SO_LINGER 0;
- alttcp_drop reason=BadCsum for a segment with a bad checksum from the
  hand-driven peer (alttcp_test_lib.RawPeer).

The captured events are printed as comments. alttcp only.
"""
import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

A, B = lib.A_ADDR, lib.B_ADDR
MSL_MS = 500
TRACEFS = "/sys/kernel/tracing"
LINGER_0 = struct.pack("ii", 1, 0)

if not lib.IS_ALTTCP:
    print("TAP version 13")
    print("1..0 # SKIP the alttcp tracepoints are alttcp's")
    sys.exit(lib.KSFT_SKIP)
if not os.path.isdir(TRACEFS + "/events/alttcp"):
    print("TAP version 13")
    print("1..0 # SKIP no %s/events/alttcp (tracefs not mounted?)" % TRACEFS)
    sys.exit(lib.KSFT_SKIP)


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


# "<task>-<pid> [cpu] <flags> <secs>: <event>: <text>"
LINE_RE = re.compile(r"\s(\d+\.\d+): (alttcp_\w+): (.*)$")
STATE_RE = re.compile(r"^(\S+) (\S+) (\S+) -> (\S+)$")


class Trace:
    """A trace instance with the alttcp events enabled."""

    def __init__(self):
        self.dir = "%s/instances/alttcp-test-%d" % (TRACEFS, os.getpid())
        os.mkdir(self.dir)
        lib.on_exit(self.remove)
        _write(self.dir + "/events/alttcp/enable", "1")

    def remove(self):
        _write(self.dir + "/events/alttcp/enable", "0")
        os.rmdir(self.dir)

    def clear(self):
        _write(self.dir + "/trace", "")

    def events(self):
        """[(seconds, event, text)] recorded since the last clear()."""
        out = []
        with open(self.dir + "/trace") as f:
            for line in f:
                m = LINE_RE.search(line.rstrip("\n"))
                if m:
                    out.append((float(m.group(1)), m.group(2), m.group(3)))
        return out


net = lib.NetPair("tr")
net.a.run("sysctl", "-qw", "net.alttcp.msl_ms=%d" % MSL_MS)
trace = Trace()


def tuple_of(local, remote):
    return "%s:%d %s:%d" % (local + remote)


def of(events, tup, name=None):
    """The events of one 4-tuple (and one event name)."""
    return [e for e in events if (e[2] == tup or e[2].startswith(tup + " "))
            and (name is None or e[1] == name)]


def show(events):
    for ts, name, text in events:
        print("# %12.6f %s: %s" % (ts, name, text))


def wait_for(pred, timeout=5.0):
    """Polls the trace until pred(events) is true; returns the events."""
    end = time.monotonic() + timeout
    while True:
        ev = trace.events()
        if pred(ev) or time.monotonic() > end:
            return ev
        time.sleep(0.05)


def transitions(events, tup):
    out = []
    for ts, name, text in of(events, tup, "alttcp_state_change"):
        m = STATE_RE.match(text)
        lib.check(m is not None, "state_change not parsed: %r" % text)
        out.append("%s -> %s" % (m.group(3), m.group(4)))
    return out


def server(port, backlog=4):
    lsk = net.a.socket()
    lsk.bind((A, port))
    lsk.listen(backlog)
    lsk.settimeout(10)
    return lsk


def connected(port):
    """(alttcp listener in a, its accepted socket, Linux client in b)."""
    lsk = server(port)
    cli = net.b.socket(lib.LINUX)
    cli.settimeout(10)
    cli.connect((A, port))
    srv, _ = lsk.accept()
    srv.settimeout(10)
    return lsk, srv, cli


def state_sequence_server_closes_first():
    trace.clear()
    port = 8300
    lsk, srv, cli = connected(port)
    tup = tuple_of(srv.getsockname(), srv.getpeername())
    cli.sendall(b"ping")
    lib.check_eq(srv.recv(10), b"ping", "data at the server")
    srv.close()
    lib.check_eq(cli.recv(10), b"", "client's read after the server's FIN")
    local, remote = "%s:%d" % (A, port), "%s:%d" % cli.getsockname()
    lib.check_eq(lib.wait_state(net.a, "FIN_WAIT_2", local, remote),
                 "FIN_WAIT_2", "server after the FIN was acknowledged")
    cli.close()
    ev = wait_for(lambda e: of(e, tup, "alttcp_tw_expire") and
                  "TIME_WAIT -> CLOSED" in transitions(e, tup),
                  timeout=4 * MSL_MS / 1000 + 5)
    lsk.close()
    ltup = tuple_of((A, port), ("0.0.0.0", 0))
    ev = wait_for(lambda e: "LISTEN -> CLOSED" in transitions(e, ltup))
    show(of(ev, ltup) + of(ev, tup))
    lib.check_eq(transitions(ev, ltup), ["CLOSED -> LISTEN",
                                         "LISTEN -> CLOSED"],
                 "the listener's state changes")
    lib.check_eq(transitions(ev, tup),
                 ["LISTEN -> SYN_RECEIVED", "SYN_RECEIVED -> ESTABLISHED",
                  "ESTABLISHED -> FIN_WAIT_1", "FIN_WAIT_1 -> FIN_WAIT_2",
                  "FIN_WAIT_2 -> TIME_WAIT", "TIME_WAIT -> CLOSED"],
                 "the connection's state changes")
    mine = of(ev, tup)
    names = [e[1] for e in mine]
    lib.check_eq(names.count("alttcp_tw_expire"), 1, "tw_expire events")
    i = names.index("alttcp_tw_expire")
    lib.check(i + 1 < len(mine) and mine[i + 1][2].endswith(
        "TIME_WAIT -> CLOSED"), "tw_expire not followed by TIME_WAIT -> "
              "CLOSED")
    for n in ("alttcp_retransmit", "alttcp_rst_send", "alttcp_rst_recv",
              "alttcp_drop"):
        lib.check(n not in names, "unexpected %s in a clean exchange" % n)
    t_tw = next(e[0] for e in mine if e[2].endswith("-> TIME_WAIT"))
    held = mine[i][0] - t_tw
    print("# TIME_WAIT held %.3f s, 2 * msl_ms = %.3f s" %
          (held, 2 * MSL_MS / 1000))
    lib.check(2 * MSL_MS / 1000 * 0.95 <= held <= 2 * MSL_MS / 1000 + 2,
              "TIME_WAIT held %.3f s, want 2 * msl_ms = %.3f s" %
              (held, 2 * MSL_MS / 1000))


def retransmit_of_dropped_segment():
    port = 8301
    lsk, srv, cli = connected(port)
    lsk.close()
    tup = tuple_of(srv.getsockname(), srv.getpeername())
    local, remote = "%s:%d" % srv.getsockname(), "%s:%d" % srv.getpeername()
    row = [r for r in lib.conn_table(net.a, lib.PROTO)
           if r["local"] == local and r["remote"] == remote]
    lib.check(len(row) == 1, "no row for %s -> %s" % (local, remote))
    seq = int(row[0]["snd_nxt"])
    trace.clear()
    # Data segments (200 bytes) from the server are lost until one has
    # been retransmitted; ACKs and the handshake are small and pass. No
    # tail loss probe (net.ipv4.tcp_early_retrans 0): the RTO's
    # retransmission is the one traced.
    net.b.nft("input", "ip saddr %s tcp sport %d ip length > 100 drop" %
              (A, port))
    net.a.run("sysctl", "-qw", "net.ipv4.tcp_early_retrans=0")
    try:
        srv.sendall(b"r" * 200)
        ev = wait_for(lambda e: of(e, tup, "alttcp_retransmit"))
    finally:
        net.b.nft_flush()
        net.a.run("sysctl", "-qw", "net.ipv4.tcp_early_retrans=3")
    got = b""
    while len(got) < 200:
        got += cli.recv(200)
    lib.check_eq(got, b"r" * 200, "data after the retransmission")
    show(of(ev, tup))
    rt = of(ev, tup, "alttcp_retransmit")
    lib.check(rt, "no alttcp_retransmit event for %s" % tup)
    want = "%s ESTABLISHED seq=%d len=200 segs=1 retransmits=1" % (tup, seq)
    lib.check_eq(rt[0][2], want, "first retransmit event")
    srv.close()
    cli.close()


def rst_send_on_abort():
    port = 8302
    lsk, srv, cli = connected(port)
    lsk.close()
    tup = tuple_of(srv.getsockname(), srv.getpeername())
    local, remote = "%s:%d" % srv.getsockname(), "%s:%d" % srv.getpeername()
    row = [r for r in lib.conn_table(net.a, lib.PROTO)
           if r["local"] == local and r["remote"] == remote]
    lib.check(len(row) == 1, "no row for %s -> %s" % (local, remote))
    snd_nxt, rcv_nxt = int(row[0]["snd_nxt"]), int(row[0]["rcv_nxt"])
    trace.clear()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_0)
    srv.close()
    try:
        data = cli.recv(10)
        lib.check(False, "client read %r, not a reset" % data)
    except ConnectionResetError:
        pass
    ev = trace.events()
    show(of(ev, tup))
    lib.check_eq([e[2] for e in of(ev, tup, "alttcp_rst_send")],
                 ["%s seq=%d ack=%d" % (tup, snd_nxt, rcv_nxt)],
                 "rst_send events")
    lib.check_eq(transitions(ev, tup), ["ESTABLISHED -> CLOSED"],
                 "state changes")
    cli.close()


def rst_send_for_time_wait_without_listener():
    """A new SYN takes over a TIME_WAIT entry whose listener is gone: no
    socket wants it, and it draws the RFC 9293 reset (a port merely
    bound, with no listener, is Linux TCP's to answer)."""
    port = 8303
    lsk = server(port)
    cli = net.b.socket(lib.LINUX)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    cli.settimeout(10)
    cli.bind((B, 40303))
    cli.connect((A, port))
    srv, _ = lsk.accept()
    srv.close()                 # a closes first: TIME_WAIT is a's
    lib.check_eq(cli.recv(1), b"", "EOF at the client")
    cli.close()
    tup = tuple_of((A, port), (B, 40303))
    lib.check_eq(lib.wait_state(net.a, "TIME_WAIT",
                                local="%s:%d" % (A, port),
                                remote="%s:%d" % (B, 40303)),
                 "TIME_WAIT", "a's state")
    lsk.close()
    trace.clear()
    cli = net.b.socket(lib.LINUX)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    cli.settimeout(10)
    cli.bind((B, 40303))
    try:
        cli.connect((A, port))
        lib.check(False, "connect without a listener succeeded")
    except ConnectionRefusedError:
        pass
    ev = trace.events()
    show(of(ev, tup))
    lib.check_eq([e[2] for e in of(ev, tup, "alttcp_drop")],
                 ["%s reason=NoSocket" % tup], "drop events")
    rst = of(ev, tup, "alttcp_rst_send")
    lib.check_eq(len(rst), 1, "rst_send events")
    lib.check(re.match(r"^%s seq=0 ack=\d+$" % re.escape(tup), rst[0][2]),
              "rst_send: %r, want seq=0 and an ack" % rst[0][2])
    cli.close()


def rst_recv_on_peer_abort():
    port = 8304
    lsk, srv, cli = connected(port)
    lsk.close()
    tup = tuple_of(srv.getsockname(), srv.getpeername())
    trace.clear()
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_0)
    cli.close()
    ev = wait_for(lambda e: of(e, tup, "alttcp_rst_recv") and
                  transitions(e, tup))
    show(of(ev, tup))
    rr = of(ev, tup, "alttcp_rst_recv")
    lib.check_eq(len(rr), 1, "rst_recv events")
    lib.check(re.match(r"^%s seq=\d+ ack=\d+$" % re.escape(tup), rr[0][2]),
              "rst_recv: %r" % rr[0][2])
    lib.check_eq(transitions(ev, tup), ["ESTABLISHED -> CLOSED"],
                 "state changes")
    lib.check(not of(ev, tup, "alttcp_rst_send"), "alttcp answered the RST")
    try:
        data = srv.recv(10)
        lib.check(False, "server read %r, not a reset" % data)
    except ConnectionResetError:
        pass
    srv.close()


def drop_bad_checksum():
    port, sport = 8305, 40305
    # The stack, not veth, must verify received checksums.
    net.a.run("ethtool", "-K", "veth0", "rx", "off", check=False)
    peer = lib.RawPeer(net)
    try:
        lsk = server(port)
        conn = peer.connect(sport, port)
        srv, _ = lsk.accept()
        lsk.close()
        tup = tuple_of((A, port), (B, sport))
        trace.clear()
        conn.send("PA", b"EVIL", seq=conn.snd_nxt,
                  csum=lambda good: (good + 1) & 0xffff)
        ev = wait_for(lambda e: of(e, tup, "alttcp_drop"), timeout=2)
        show(of(ev, tup))
        lib.check_eq([e[2] for e in of(ev, tup, "alttcp_drop")],
                     ["%s reason=BadCsum" % tup], "drop events")
        lib.check_eq(transitions(ev, tup), [], "state changes")
        # The genuine segment still gets through.
        conn.send("PA", b"good")
        srv.settimeout(3)
        lib.check_eq(srv.recv(10), b"good", "data after the bad segment")
        srv.close()
    finally:
        net.b.nft_flush("alttcp_peer")


lib.run_cases([
    ("state_sequence_server_closes_first", state_sequence_server_closes_first),
    ("retransmit_of_dropped_segment", retransmit_of_dropped_segment),
    ("rst_send_on_abort", rst_send_on_abort),
    ("rst_send_for_time_wait_without_listener",
     rst_send_for_time_wait_without_listener),
    ("rst_recv_on_peer_abort", rst_recv_on_peer_abort),
    ("drop_bad_checksum", drop_bad_checksum),
])
