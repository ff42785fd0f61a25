#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Selective acknowledgements: SACK (RFC 2018), D-SACK (RFC 2883) and
SACK-based loss recovery (RFC 6675, with Linux's RACK, RFC 8985), checked
on the wire against a hand-driven peer. Linux TCP is the reference: every
case passes with ALTTCP_TEST_PROTO=6.

The socket under test lives in namespace a (10.0.1.1); the raw peer
(alttcp_test_lib.RawPeer) in b speaks for the other end. Segments are
written as offsets from each side's first data byte; a segment k of the
receiver cases is the 100 bytes [100k, 100k + 100).

syn_options_order: the tested socket's SYN carries Linux's options in
  Linux's order (RFC 2018 2: SACK-permitted only on a SYN): MSS 1460,
  SACK_PERM, TS, NOP, WS (20 bytes, TSecr 0); with the namespace's
  net.ipv4.tcp_timestamps=0 MSS, NOP, NOP, SACK_PERM, NOP, WS (12);
  with net.ipv4.tcp_sack=0 MSS, NOP, NOP, TS, NOP, WS (20); with both
  off MSS, NOP, WS (8).
synack_options_order: a tested listener answers a SYN as Linux does:
  the same layouts, SACK_PERM only when the SYN offered it and tcp_sack
  is on, TS only when offered and tcp_timestamps is on, TSecr the SYN's
  TSval; a SYN without WS gets MSS, SACK_PERM, TS (16 bytes), one with
  only MSS gets MSS alone.
sack_blocks_for_holes: each out-of-order segment draws its own ACK
  (Linux's comes at once; the case waits up to a second for it) with
  SACK blocks (RFC 2018 4): the block holding the segment that triggered
  the ACK first, then the others, most recently reported first; three
  blocks at most beside timestamps, four without; a block is forgotten
  (the oldest) when a fifth would be needed; a segment filling a hole
  between two blocks merges them into one, reported first; blocks the
  cumulative ACK passes disappear. Every ACK's ACK number and block
  edges are checked exactly, and so is the options' layout (NOP, NOP,
  TS, NOP, NOP, SACK).
dsack_for_duplicate: a duplicate segment is reported in the first block
  of the next ACK, once (RFC 2883 4): below the ACK number alone (4.1),
  or before the ordinary blocks; a duplicate of out-of-order data gives
  the D-SACK block, then the block holding it, then the rest (4.2); a
  segment overlapping the ACK number is reported for its old part.
no_sack_without_permission: a connection whose SYN offered no
  SACK-permitted option never carries a SACK option (RFC 2018 2), not
  for holes, not for duplicates.
sender_retransmits_holes: ten segments, the 2nd and 5th lost, the rest
  acknowledged as a receiver would, 10 ms apart (one ACK for the 1st,
  then duplicate ACKs with growing SACK blocks): the sender resends
  exactly the two holes, each once, none of the SACKed data (RFC 6675
  5; Linux finds the losses with RACK, RFC 8985, the 2nd after the
  first duplicate ACK and a reordering window, the 5th at once when
  the 6th is SACKed), and nothing after all is acknowledged. Nor does
  it send RFC 6675's optional rescue retransmission (NextSeg() rule 4)
  of the highest unSACKed segment: that would fail here.
sack_reneging: the peer SACKs segments 3-10, then, having reneged,
  acknowledges the resent 2nd segment without SACK blocks: the sender
  kept the SACKed data and, after a timeout, resends all of it, segments
  3 to 10 in order, each once (RFC 2018 8: SACKed data is kept until
  cumulatively acknowledged, and SACK information is dropped at a
  retransmission timeout; Linux shortens that timeout to half an RTT
  when an ACK stops at SACKed data).
"""
import contextlib
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

A, B = lib.A_ADDR, lib.B_ADDR
PORT = 8700
ISN = 5000
M = 0xffffffff
NOP, MSS, WS, SACK_PERM, SACK, TS = 1, 2, 3, 4, 5, 8
NAMES = {NOP: "NOP", MSS: "MSS", WS: "WS", SACK_PERM: "SACK_PERM",
         SACK: "SACK", TS: "TS"}
VALUE_LEN = {MSS: 2, WS: 1, SACK_PERM: 0, TS: 8}
# Linux's layouts (tcp_options_write()); TS and SACK_PERM share a word.
FULL = ["MSS", "SACK_PERM", "TS", "NOP", "WS"]
NO_TS = ["MSS", "NOP", "NOP", "SACK_PERM", "NOP", "WS"]
NO_SACK = ["MSS", "NOP", "NOP", "TS", "NOP", "WS"]
DATA = bytes((i * 7 + 3) & 0xff for i in range(8192))
# The raw peer holds back the handshake's last ACK this long: the tested
# sender's first RTT sample, so its loss probe (2 RTTs) and RTO (3 RTTs)
# leave the scripted peer, slow under emulation, time to answer.
HANDSHAKE_RTT = min(lib.scaled(0.2), 0.8)
# Between the raw peer's ACKs to a flight (not scaled: it is the time a's
# timers see between them).
PACE = 0.01

net = lib.NetPair("sack")
for _ns, _dev in ((net.a, "veth0"), (net.b, "veth1")):
    _ns.run("ethtool", "-K", _dev, "tso", "off", "gso", "off", "gro", "off")
# One segment per skb: segments are retransmitted as they were sent.
net.a.run("ip", "link", "set", "dev", "veth0", "gso_max_segs", "1")
peer = lib.RawPeer(net)
lsk = net.a.socket()
lsk.bind((A, PORT))
lsk.listen(16)
lsk.settimeout(lib.scaled(5))
lib.on_exit(lsk.close)
sport = [42700]


# -- options ------------------------------------------------------------------

def opt_list(raw):
    """TCP options as [(kind, value bytes)], NOPs included, up to EOL."""
    out, i = [], 0
    while i < len(raw):
        kind = raw[i]
        if kind == 0:
            break
        if kind == NOP:
            out.append((NOP, b""))
            i += 1
            continue
        lib.check(i + 1 < len(raw) and 2 <= raw[i + 1] <= len(raw) - i,
                  "malformed options %s" % raw.hex())
        out.append((kind, raw[i + 2:i + raw[i + 1]]))
        i += raw[i + 1]
    return out


def layout(seg):
    """The option kinds of seg in order, by name; a value of the wrong
    length shows in the name."""
    out = []
    for kind, val in opt_list(seg.options):
        name = NAMES.get(kind, str(kind))
        if VALUE_LEN.get(kind, len(val)) != len(val):
            name += "(len %d)" % (len(val) + 2)
        out.append(name)
    return out


def opt(seg, kind):
    """The value of option kind in seg, or None."""
    for k, v in opt_list(seg.options):
        if k == kind:
            return v
    return None


def syn_options(mss=1460, sack=True, ts=True, ws=7, tsval=0):
    """A SYN's options as Linux lays them out."""
    o = struct.pack("!BBH", MSS, 4, mss)
    if ts:
        o += bytes([SACK_PERM, 2] if sack else [NOP, NOP])
        o += struct.pack("!BBII", TS, 10, tsval, 0)
    elif sack:
        o += bytes([NOP, NOP, SACK_PERM, 2])
    if ws is not None:
        o += bytes([NOP, WS, 3, ws])
    return o


def describe(seg):
    """A SYN's or SYN-ACK's options, for messages and the log."""
    parts = []
    for kind, val in opt_list(seg.options):
        if kind == MSS and len(val) == 2:
            parts.append("MSS %d" % struct.unpack("!H", val)[0])
        elif kind == WS and len(val) == 1:
            parts.append("WS %d" % val[0])
        elif kind == TS and len(val) == 8:
            parts.append("TS %d/%d" % struct.unpack("!II", val))
        else:
            parts.append(NAMES.get(kind, str(kind)))
    return "%s (%d bytes)" % (", ".join(parts), len(seg.options))


def check_syn_options(seg, want, what, tsecr=0):
    """Errors in a SYN's or SYN-ACK's options: the layout want (names),
    Linux's length for it, MSS 1460 and, with TS, TSecr tsecr."""
    errors = []
    got = layout(seg)
    if got != want:
        errors.append("%s: options %s, want %s" % (what, describe(seg),
                                                   ", ".join(want)))
        return errors
    want_len = sum(4 if n == "MSS" else 2 if n == "SACK_PERM" else
                   10 if n == "TS" else 3 if n == "WS" else 1 for n in want)
    if len(seg.options) != want_len:
        errors.append("%s: %d option bytes, want %d" %
                      (what, len(seg.options), want_len))
    mss = struct.unpack("!H", opt(seg, MSS))[0]
    if mss != 1460:
        errors.append("%s: MSS %d, want 1460" % (what, mss))
    if "TS" in want:
        ecr = struct.unpack("!II", opt(seg, TS))[1]
        if ecr != tsecr:
            errors.append("%s: TSecr %d, want %d" % (what, ecr, tsecr))
    return errors


@contextlib.contextmanager
def sysctls(ns, **values):
    """Sets net.ipv4 sysctls of ns for the block, then restores them."""
    old = {}
    try:
        for k, v in values.items():
            path = "/proc/sys/net/ipv4/" + k
            old[path] = ns.run("cat", path).strip()
            ns.run("sh", "-c", "echo %s > %s" % (v, path))
        yield
    finally:
        for path, v in old.items():
            ns.run("sh", "-c", "echo %s > %s" % (v, path))


# -- the raw peer's connections ---------------------------------------------

class Conn:
    """A connection from the raw peer in b to the tested listener in a,
    offering what the arguments say; holding the handshake's ACK for
    delay seconds sets the tested socket's first RTT sample.

    seq and ack are offsets from the first data byte of the peer and of
    a; timestamps (when a granted them) go on every segment, the peer's
    clock counting segments and TSecr echoing a's latest TSval.
    """

    def __init__(self, sack=True, ts=True, ws=7, mss=1460, delay=0.0):
        sport[0] += 1
        self.sport = sport[0]
        self.tsval = 100000
        self.ts_recent = 0
        peer.drain()
        self.offer = syn_options(mss, sack, ts, ws, self.tsval)
        peer.send(lib.Seg(self.sport, PORT, ISN, 0, "S", options=self.offer))
        sa = self.expect(lambda s: s.flags == "SA", lib.scaled(3))
        lib.check(sa is not None, "no SYN-ACK to a SYN offering %s" %
                  describe(lib.Seg(0, 0, options=self.offer)))
        self.synack = sa
        self.ts = opt(sa, TS) is not None
        self.sack = opt(sa, SACK_PERM) is not None
        self.snd_base = ISN + 1
        self.rcv_base = (sa.seq + 1) & M
        if delay:
            time.sleep(delay)
        self.send()
        self.app = accept_from(self.sport)

    def require(self, sack=True, ts=True):
        """Fails unless the handshake granted what the case needs."""
        what = describe(self.synack)
        if sack:
            lib.check(self.sack, "SACK not negotiated: the SYN-ACK to a "
                      "SYN offering SACK_PERM carries %s" % what)
        if ts:
            lib.check(self.ts, "no timestamps: the SYN-ACK carries %s" %
                      what)

    def expect(self, match=lambda s: True, timeout=1.0):
        """The next segment of this connection from a for which match is
        true, within timeout seconds (not scaled), or None."""
        def m(s):
            if s.sport != PORT or s.dport != self.sport:
                return False
            v = opt(s, TS)
            if v is not None and len(v) == 8:
                self.ts_recent = struct.unpack("!I", v[:4])[0]
            return match(s)
        return peer.expect(m, timeout)

    def send(self, flags="A", seq=0, load=b"", ack=0, blocks=()):
        """Sends a segment: NOP, NOP, TS when timestamps were granted,
        then NOP, NOP, SACK with blocks (offsets in a's data)."""
        opts = b""
        if self.ts:
            self.tsval += 1
            opts += struct.pack("!BBBBII", NOP, NOP, TS, 10, self.tsval,
                                self.ts_recent)
        if blocks:
            opts += bytes([NOP, NOP, SACK, 2 + 8 * len(blocks)])
            for s, e in blocks:
                opts += struct.pack("!II", (self.rcv_base + s) & M,
                                    (self.rcv_base + e) & M)
        peer.send(lib.Seg(self.sport, PORT, (self.snd_base + seq) & M,
                          (self.rcv_base + ack) & M, flags, options=opts,
                          load=load))

    def rel(self, seq):
        """A sequence number of a's as an offset in a's data."""
        return (seq - self.rcv_base) & M

    def sacks(self, seg):
        """The SACK blocks of one of a's ACKs, as offsets in the peer's
        data; [] when it carries no SACK option."""
        v = opt(seg, SACK)
        if v is None:
            return []
        lib.check(len(v) % 8 == 0, "SACK option of %d bytes" % (len(v) + 2))
        out = []
        for i in range(0, len(v), 8):
            s, e = struct.unpack("!II", v[i:i + 8])
            out.append(((s - self.snd_base) & M, (e - self.snd_base) & M))
        return out

    def step(self, off, n, ack, blocks, what):
        """Sends the peer's bytes [off, off + n) and checks a's answer:
        an ACK at once, of ack, with exactly blocks."""
        t0 = time.monotonic()
        self.send(seq=off, load=DATA[off:off + n])
        a = self.expect(lambda s: not s.load, lib.scaled(1))
        lib.check(a is not None, "%s: no ACK from a" % what)
        got = ((a.ack - self.snd_base) & M, self.sacks(a))
        print("# %-30s %3.0f ms: ACK %4d, SACK %s" %
              (what, (time.monotonic() - t0) * 1000, got[0],
               " ".join("%d-%d" % b for b in got[1])))
        lib.check_eq(got, (ack, list(blocks)), "%s: (ACK, SACK blocks)" %
                     what)
        if blocks:
            want = ["NOP", "NOP", "SACK"]
            if self.ts:
                want = ["NOP", "NOP", "TS"] + want
            lib.check_eq(layout(a), want, "%s: options of the ACK" % what)
        return a

    def read(self, n):
        """What the tested socket's application reads, n bytes at most."""
        self.app.settimeout(lib.scaled(3))
        got = b""
        while len(got) < n:
            chunk = self.app.recv(n - len(got))
            if not chunk:
                break
            got += chunk
        return got


def accept_from(port):
    """The tested listener's connection from the raw peer's port (one a
    failed case left behind is closed)."""
    while True:
        s, addr = lsk.accept()
        lib.on_exit(s.close)
        if addr[1] == port:
            return s
        s.close()


def seg_k(k):
    """Segment k of the receiver cases: [100k, 100k + 100)."""
    return (100 * k, 100 * k + 100)


# -- 1 ------------------------------------------------------------------------

SYN_VARIANTS = [
    # (tcp_sack, tcp_timestamps, layout)
    (1, 1, FULL),
    (1, 0, NO_TS),
    (0, 1, NO_SACK),
    (0, 0, ["MSS", "NOP", "WS"]),
]


def case_syn_options_order():
    errors = []
    for i, (sack, ts, want) in enumerate(SYN_VARIANTS):
        dport = PORT + 10 + i
        what = "SYN with tcp_sack=%d tcp_timestamps=%d" % (sack, ts)
        with sysctls(net.a, tcp_sack=sack, tcp_timestamps=ts):
            peer.drain()
            c = net.a.socket()
            c.setblocking(False)
            c.connect_ex((B, dport))
            syn = peer.expect(lambda s: s.dport == dport and s.flags == "S",
                              lib.scaled(3))
            c.close()
        if syn is None:
            errors.append("%s: no SYN" % what)
            continue
        print("# %s: %s" % (what, describe(syn)))
        errors += check_syn_options(syn, want, what)
    lib.check(not errors, "; ".join(errors))


# -- 2 ------------------------------------------------------------------------

SYNACK_VARIANTS = [
    # (what, SYN offer, a's sysctls, the SYN-ACK's layout)
    ("SYN offering MSS,SACK_PERM,TS,NOP,WS", {}, {}, FULL),
    ("SYN without SACK_PERM", {"sack": False}, {}, NO_SACK),
    ("SYN without TS", {"ts": False}, {}, NO_TS),
    ("SYN without WS", {"ws": None}, {}, ["MSS", "SACK_PERM", "TS"]),
    ("SYN with MSS only", {"sack": False, "ts": False, "ws": None}, {},
     ["MSS"]),
    ("full SYN, tcp_sack=0 in a", {}, {"tcp_sack": 0}, NO_SACK),
    ("full SYN, tcp_timestamps=0 in a", {}, {"tcp_timestamps": 0}, NO_TS),
]


def case_synack_options_order():
    errors = []
    for what, offer, knobs, want in SYNACK_VARIANTS:
        sport[0] += 1
        port = sport[0]
        tsval = 777000 + port
        with sysctls(net.a, **knobs):
            peer.drain()
            peer.send(lib.Seg(port, PORT, ISN, 0, "S",
                              options=syn_options(tsval=tsval, **offer)))
            sa = peer.expect(lambda s: s.sport == PORT and s.dport == port
                             and s.flags == "SA", lib.scaled(3))
            # Drops the request.
            peer.send(lib.Seg(port, PORT, ISN + 1, 0, "R"))
        if sa is None:
            errors.append("%s: no SYN-ACK" % what)
            continue
        print("# %s: SYN-ACK %s" % (what, describe(sa)))
        errors += check_syn_options(sa, want, what, tsecr=tsval)
    lib.check(not errors, "; ".join(errors))


# -- 3 ------------------------------------------------------------------------

# (segment sent, ACK number, SACK blocks): an int is that segment's range.
HOLES_TS = [
    (0, 100, []),
    (2, 100, [2]),
    (4, 100, [4, 2]),
    (6, 100, [6, 4, 2]),
    (8, 100, [8, 6, 4]),        # three blocks beside timestamps
    (3, 100, [(200, 500), 8, 6]),   # fills 300-400: 2, 3, 4 merge
    (1, 500, [8, 6]),
    (5, 700, [8]),
    (7, 900, []),
    (9, 1000, []),
]
HOLES_NO_TS = [
    (0, 100, []),
    (2, 100, [2]),
    (4, 100, [4, 2]),
    (6, 100, [6, 4, 2]),
    (8, 100, [8, 6, 4, 2]),     # four blocks without timestamps
    (10, 100, [10, 8, 6, 4]),   # a fifth hole: the oldest block goes
    (1, 300, [10, 8, 6, 4]),
    (3, 500, [10, 8, 6]),
    (5, 700, [10, 8]),
    (7, 900, [10]),
    (9, 1100, []),
]


def run_steps(c, steps):
    for k, ack, blocks in steps:
        blocks = [seg_k(b) if isinstance(b, int) else b for b in blocks]
        c.step(100 * k, 100, ack, blocks, "segment %d-%d" % seg_k(k))


def case_sack_blocks_for_holes():
    for ts, steps in ((True, HOLES_TS), (False, HOLES_NO_TS)):
        print("# with%s timestamps" % ("" if ts else "out"))
        c = Conn(ts=ts)
        c.require(ts=ts)
        run_steps(c, steps)
        n = steps[-1][1]
        lib.check(c.read(n) == DATA[:n], "the application read other "
                  "bytes than were sent")


# -- 4 ------------------------------------------------------------------------

def case_dsack_for_duplicate():
    c = Conn()
    c.require()
    c.step(0, 100, 100, [], "segment 0-100")
    c.step(100, 100, 200, [], "segment 100-200")
    # RFC 2883 4.1: the ACK of 0-100 was lost; the resent copy is
    # reported below the ACK number.
    c.step(0, 100, 200, [(0, 100)], "0-100 again")
    c.step(200, 100, 300, [], "segment 200-300 (D-SACK once)")
    c.step(400, 100, 300, [(400, 500)], "segment 400-500")
    c.step(600, 100, 300, [(600, 700), (400, 500)], "segment 600-700")
    # RFC 2883 4.2: a duplicate of out-of-order data: the D-SACK, then
    # the block holding it, then the rest.
    c.step(400, 100, 300, [(400, 500), (400, 500), (600, 700)],
           "400-500 again")
    c.step(300, 100, 500, [(600, 700)], "segment 300-400")
    # Below the ACK number with a block above it: D-SACK first.
    c.step(400, 100, 500, [(400, 500), (600, 700)], "400-500 a third time")
    c.step(500, 100, 700, [], "segment 500-600")
    # Half old, half new: the old half is the duplicate.
    c.step(650, 100, 750, [(650, 700)], "segment 650-750")
    lib.check(c.read(750) == DATA[:750], "the application read other "
              "bytes than were sent")


# -- 5 ------------------------------------------------------------------------

def case_no_sack_without_permission():
    c = Conn(sack=False)
    lib.check(not c.sack, "SYN-ACK %s grants SACK the SYN did not offer" %
              describe(c.synack))
    c.require(sack=False)
    for k, ack, what in ((0, 100, ""), (2, 100, ""), (4, 100, ""),
                         (0, 100, " again"), (1, 300, ""), (3, 500, "")):
        a = c.step(100 * k, 100, ack, [], "segment %d-%d%s" %
                   (seg_k(k) + (what,)))
        lib.check(opt(a, SACK) is None, "a SACK option: %s" % a.options.hex())
    lib.check(c.read(500) == DATA[:500], "the application read other "
              "bytes than were sent")


# -- 6, 7: the tested socket sends -------------------------------------------

class Receiver:
    """The raw peer's receiving side for a's data: what arrived, and the
    ACK it calls for: the cumulative ACK and (with sack) the blocks of
    data above it, the one holding the latest arrival first, then the
    others most recent first. Without sack, data above the cumulative
    ACK is dropped."""

    def __init__(self, sack=True, nxt=0):
        self.sack, self.nxt, self.blocks = sack, nxt, []

    def add(self, s, e):
        if e <= self.nxt:
            return
        s = max(s, self.nxt)
        if s == self.nxt:
            self.nxt = e
            for b in sorted(self.blocks):
                if b[0] <= self.nxt:
                    self.nxt = max(self.nxt, b[1])
                    self.blocks.remove(b)
        elif self.sack:
            new = (s, e)
            for b in list(self.blocks):
                if b[0] <= new[1] and new[0] <= b[1]:
                    new = (min(b[0], new[0]), max(b[1], new[1]))
                    self.blocks.remove(b)
            self.blocks.insert(0, new)

    def ack(self, c):
        """Sends the ACK (three blocks at most: timestamps are on)."""
        c.send(ack=self.nxt, blocks=self.blocks[:3])
        return "ACK %d%s" % (self.nxt, "".join(" SACK %d-%d" % b
                                               for b in self.blocks[:3]))


def sender(nsegs=10):
    """A connection whose tested end sends nsegs full segments to the
    raw peer (MSS 1000, SACK and timestamps); returns it and the
    segments' (start, end) as first sent."""
    c = Conn(mss=1000, delay=HANDSHAKE_RTT)
    c.require()
    mss = c.app.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
    print("# TCP_MAXSEG %d, handshake RTT %.0f ms" %
          (mss, HANDSHAKE_RTT * 1000))
    lib.check(0 < mss <= 1000, "TCP_MAXSEG %d with the peer's MSS 1000" % mss)
    c.total = nsegs * mss
    c.app.sendall(os.urandom(c.total))
    segs = []
    while len(segs) < nsegs:
        s = c.expect(lambda s: s.load, lib.scaled(2))
        if s is None:
            break
        r = c.rel(s.seq)
        segs.append((r, r + len(s.load)))
    print("# first flight: %s" % " ".join("%d-%d" % s for s in segs))
    want = [(i * mss, (i + 1) * mss) for i in range(nsegs)]
    lib.check_eq(segs, want, "the first flight (the initial window is 10)")
    return c, segs


def acknowledge(c, rx, segs):
    """The raw peer's answer to the first flight arriving without some
    segments: one ACK per segment that arrived, PACE apart (as from
    behind a slower link). What a sends meanwhile is noted, and answered
    after the last of these ACKs: a resent segment reaches the receiver
    after the whole first flight. Returns [(start, end, seconds since
    the first ACK)] of what a sent, and when the first ACK went."""
    held = []
    t0 = time.monotonic()
    for s in segs:
        rx.add(*s)
        print("# %5.0f ms: %s" % ((time.monotonic() - t0) * 1000,
                                  rx.ack(c)))
        end = time.monotonic() + PACE
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            d = c.expect(lambda d: d.load, left)
            if d is None:
                break
            r = c.rel(d.seq)
            held.append((r, r + len(d.load), time.monotonic() - t0))
            print("# %5.0f ms: a resent %d-%d" % (held[-1][2] * 1000, r,
                                                  held[-1][1]))
    return held, t0


def recover(c, rx, limit, held=(), t0=None, quiet=0.5):
    """Acknowledges as rx each data segment a sent (held, then what
    comes) until all c.total bytes are, within limit seconds (scaled);
    then watches for quiet seconds more. Returns [(start, end, seconds
    since t0)] of all a sent, and whether all was acknowledged."""
    t0 = t0 or time.monotonic()
    end = time.monotonic() + lib.scaled(limit)
    out, done = [], None
    held = list(held)
    while True:
        now = time.monotonic()
        left = done + quiet - now if done else end - now
        if held:
            out.append(held.pop(0))
        else:
            if left <= 0:
                break
            d = c.expect(lambda d: d.load, left)
            if d is None:
                break
            r = c.rel(d.seq)
            out.append((r, r + len(d.load), time.monotonic() - t0))
        rx.add(*out[-1][:2])
        print("# %5.0f ms: a resent %d-%d; %s" %
              (out[-1][2] * 1000, out[-1][0], out[-1][1], rx.ack(c)))
        if rx.nxt >= c.total and done is None:
            done = time.monotonic()
    return out, done is not None


def case_sender_retransmits_holes():
    c, segs = sender()
    lost = [segs[1], segs[4]]
    rx = Receiver()
    print("# segments 2 and 5 lost; the peer answers the others:")
    held, t0 = acknowledge(c, rx, [s for s in segs if s not in lost])
    out, done = recover(c, rx, 3, held, t0)
    got = [(s, e) for s, e, _ in out]
    lib.check_eq(got, lost, "segments resent (2 and 5, once each)")
    lib.check(done, "not all acknowledged")


def case_sack_reneging():
    c, segs = sender()
    rx = Receiver()
    print("# segment 2 lost; the peer SACKs 3-10:")
    held, _ = acknowledge(c, rx, segs[:1] + segs[2:])
    if not held:
        s = c.expect(lambda s: s.load, lib.scaled(3))
        lib.check(s is not None, "segment 2 not resent")
        held = [(c.rel(s.seq), c.rel(s.seq) + len(s.load))]
    lib.check_eq([h[:2] for h in held], [segs[1]],
                 "segments resent (2, once)")
    # The peer has dropped what it SACKed: it acknowledges segment 2
    # alone, and reports no blocks any more.
    rx = Receiver(sack=False, nxt=segs[1][1])
    print("# segment 2 resent; the peer reneges: %s" % rx.ack(c))
    out, done = recover(c, rx, 5)
    lib.check(out, "nothing resent after the peer reneged")
    resent = [(s, e) for s, e, _ in out]
    lib.check(set(segs[2:]) <= set(resent), "once-SACKed segments never "
              "resent: %s" % " ".join("%d-%d" % s for s in segs[2:]
                                      if s not in resent))
    lib.check_eq(resent, segs[2:], "segments resent after the peer "
                 "reneged (3 to 10, in order, once each)")
    lib.check(done, "not all acknowledged")


lib.run_cases([
    ("syn_options_order", case_syn_options_order),
    ("synack_options_order", case_synack_options_order),
    ("sack_blocks_for_holes", case_sack_blocks_for_holes),
    ("dsack_for_duplicate", case_dsack_for_duplicate),
    ("no_sack_without_permission", case_no_sack_without_permission),
    ("sender_retransmits_holes", case_sender_retransmits_holes),
    ("sack_reneging", case_sack_reneging),
], timeout=60)
