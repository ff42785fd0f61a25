#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Malformed segments sent by a hand-driven peer to an ESTABLISHED connection.

Each case sends a bad segment carrying b"EVIL" where the next in-order
data would go, then the genuine segment b"good" with the same sequence
number. The application must read b"good" (the bad one was dropped), the
genuine segment must be acknowledged, data must still flow the other way
and the connection must stay ESTABLISHED. With alttcp the matching drop
counter of /proc/net/alttcp_stats must grow; with Linux TCP the Tcp:
counters of /proc/net/snmp are checked where Linux counts the drop.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

PORT = 8100
net = lib.NetPair("mf")
# Received segments must have their checksum verified by the stack, not
# vouched for by the veth device.
net.a.run("ethtool", "-K", "veth0", "rx", "off", check=False)
peer = lib.RawPeer(net)
lsk = net.a.socket()
lsk.bind((lib.A_ADDR, PORT))
lsk.listen(4)
lsk.settimeout(10)
conn = peer.connect(40100, PORT)
app, _ = lsk.accept()
app.settimeout(3)
LOCAL, REMOTE = "%s:%d" % (lib.A_ADDR, PORT), "%s:40100" % lib.B_ADDR


def still_works():
    """The genuine data gets through both ways; the connection is intact."""
    conn.send("PA", b"good")
    ack = conn.expect(lambda t: t.ack == conn.snd_nxt)
    lib.check(ack is not None, "genuine segment not acknowledged")
    lib.check_eq(app.recv(100), b"good", "data read by the application")
    app.send(b"pong")
    seg = conn.expect(lambda t: t.load == b"pong")
    lib.check(seg is not None, "no data from the connection")
    lib.check_eq(seg.seq, conn.rcv_nxt, "sequence of our data")
    conn.rcv_nxt += 4
    conn.send("A")
    lib.check_eq(lib.state_of(net.a, LOCAL, REMOTE), "ESTABLISHED", "state")


def dropped(bad, alttcp_counter, linux_counters=()):
    peer.drain()
    before = lib.counters(net.a)
    peer.send(bad)
    time.sleep(0.2)
    still_works()
    after = lib.counters(net.a)
    names = (alttcp_counter,) if lib.IS_ALTTCP else linux_counters
    for name in names:
        lib.check(after.get(name, 0) > before.get(name, 0),
                  "counter %s did not grow (%s -> %s)" %
                  (name, before.get(name), after.get(name)))


def with_bad_checksum():
    seg = conn.seg("PA", b"EVIL", csum=lambda good: (good + 1) & 0xffff)
    dropped(seg, "DropBadCsum", ("InCsumErrors", "InErrs"))


def doff_below_5():
    dropped(conn.seg("PA", b"EVIL", doff=4), "DropBadDoff", ("InErrs",))


def doff_beyond_packet():
    # 60 bytes of header claimed, 24 present.
    dropped(conn.seg("PA", b"EVIL", doff=15), "DropBadDoff")


def truncated_option():
    """A timestamp option (kind 8) claiming 10 bytes where 4 are left.

    Linux TCP stops parsing options there and keeps the segment, so this
    one carries the genuine bytes: either way b"good" must be read once.
    alttcp counts it as a bad-options drop.
    """
    bad = conn.seg("PA", b"good", options=b"\x08\x0a\x00\x00")
    peer.drain()
    before = lib.counters(net.a)
    peer.send(bad)
    time.sleep(0.2)
    still_works()
    if lib.IS_ALTTCP:
        after = lib.counters(net.a)
        lib.check(after.get("DropBadOpts", 0) > before.get("DropBadOpts", 0),
                  "DropBadOpts did not grow")


def syn_fin():
    dropped(conn.seg("SF", b"EVIL"), "DropBadFlags")


def no_flags():
    dropped(conn.seg("", b"EVIL"), "DropBadFlags")


def rst_out_of_window():
    dropped(conn.seg("R", seq=(conn.snd_nxt + (1 << 30)) & 0xffffffff, ack=0),
            "DropOutOfWindow")


def data_beyond_window():
    # Our SYN had no window scale option: a's window is below 64 KiB.
    bad = conn.seg("PA", b"EVIL", seq=(conn.snd_nxt + 200000) & 0xffffffff)
    dropped(bad, "DropOutOfWindow")


def ack_too_old():
    """RFC 5961 5.2: an ACK older than SND.UNA - MAX.SND.WND is not from
    the peer (our SYN offered 65535 unscaled): the data is not taken."""
    bad = conn.seg("PA", b"EVIL", ack=(conn.rcv_nxt - 100000) & 0xffffffff)
    dropped(bad, "DropOldAck")


def ack_unsent():
    """An ACK of data a never sent: answered with an ACK, dropped."""
    bad = conn.seg("PA", b"EVIL", ack=(conn.rcv_nxt + 100000) & 0xffffffff)
    dropped(bad, "DropAckUnsent")


lib.run_cases([
    ("bad_checksum", with_bad_checksum),
    ("doff_below_5", doff_below_5),
    ("doff_beyond_packet", doff_beyond_packet),
    ("truncated_option", truncated_option),
    ("syn_fin", syn_fin),
    ("no_flags", no_flags),
    ("rst_out_of_window", rst_out_of_window),
    ("data_beyond_window", data_beyond_window),
    ("ack_too_old", ack_too_old),
    ("ack_unsent", ack_unsent),
], timeout=30)
