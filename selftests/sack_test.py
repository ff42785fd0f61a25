#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Selective acknowledgements: SACK (RFC 2018), D-SACK (RFC 2883) and
SACK-based loss recovery (RFC 6675, with Linux's RACK and tail loss
probe, RFC 8985, and PRR, RFC 6937), with undoing of spurious reductions
(RFC 3522, 3708), checked on the wire against a hand-driven peer. Linux
TCP is the reference: every case passes with ALTTCP_TEST_PROTO=6.

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
receiver_rtt_out_of_order: three full-sized segments after a hole,
  then the hole's: every one arrives out of order or fills a hole, yet
  the receiver measures its round trip (TCP_INFO's tcpi_rcv_rtt, what
  its buffer autotuning goes by) from the timestamp they echo, at least
  the 20 ms the peer waited (Linux's tcp_rcv_rtt_measure_ts() in its
  slow path).
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

The next three cases begin alike: ten segments (MSS 988 with
timestamps), the peer acknowledges the 1st and SACKs the 3rd to 10th,
PACE apart, echoing the 1st segment's TSval (a receiver's TS.Recent,
RFC 7323 4.3), until the sender resends the 2nd (RACK, RFC 8985). The
sender is then in recovery (TCP_INFO ca_state 3, TCP_CA_Recovery) with
ssthresh below the initial window; before, cwnd was 10 and ssthresh
Linux's "infinite" 0x7fffffff. Counters are read in namespace a by
Linux's names: TcpExt in /proc/net/netstat for Linux TCP, the AltTcp
line of /proc/net/alttcp_stats (same names) for alttcp.
undo_after_spurious_retransmit: the 2nd segment was only delayed: it
  arrives and the peer acknowledges all, echoing the TSval of its
  original transmission, older than the retransmission's (checked): the
  retransmission was spurious (Eifel detection, RFC 3522; Linux's
  tcp_try_undo_recovery()/tcp_try_undo_partial()). The sender restores
  what it had (RFC 4015): back in Open with cwnd at least the 10 it had
  and ssthresh as before, and TCPFullUndo + TCPPartialUndo moved by one
  (Linux: TCPFullUndo), TCPDSACKUndo not.
dsack_undo: the same without timestamps (MSS 1000), so only a D-SACK
  can tell: the original fills the hole and the peer acknowledges all,
  and the sender, in Open again, keeps its reduction (ssthresh as in
  recovery); then the resent copy arrives too and the peer reports it
  in a D-SACK block below the ACK number (RFC 2883 4.1). All that was
  resent was duplicated (RFC 3708): the sender undoes the reduction
  (cwnd at least 10, ssthresh as before) and counts TCPDSACKUndo, not
  TCPFullUndo.
genuine_loss_keeps_reduction: only the resent copy arrives, and the
  ACK of all echoes its TSval, with no D-SACK: the loss was real. The
  reduction stays: ssthresh is beta times the cwnd the loss was found
  at (10, or 11 after the 1st segment's ACK in slow start), from
  rounded down to rounded up: 7 to 8 with cubic (beta 717/1024; Linux:
  7), 5 to 6 with reno; 200 ms later the sender is in Open with that
  ssthresh, cwnd no more than one above it, and no undo counter
  (TCPFullUndo, TCPPartialUndo, TCPDSACKUndo, TCPLossUndo) moved.
scoreboard_in_proc: in that recovery TCP_INFO has the scoreboard in
  segments: 8 SACKed, 1 lost, 1 resent (tcpi_sacked, tcpi_lost,
  tcpi_retrans); with alttcp the connection's row of /proc/net/alttcp
  shows the same: ca_state "recovery", ssthresh (bytes) over tcpi_snd_mss
  as TCP_INFO's, sacked_out 8, lost_out 1, retrans_out 1 and
  tcpi_reordering. When the resent 2nd is acknowledged, both show Open
  and an empty scoreboard.
tail_loss_probe: the peer sends the handshake's ACK, then an ACK for
  each of segments 1-8, TLP_RTT (50 ms) after what they answer, so
  SRTT is about that; the last two segments are lost. Nothing may come
  while the peer acknowledges; then, with no ACK to come, the sender
  sends a tail loss probe (RFC 8985 7) within PTO = 2 SRTT: the last
  segment again (it has no new data). Its time after
  the last ACK is held to [2 SRTT - 10 ms, 2 SRTT + 40 ms] (SRTT is
  TCP_INFO's, read after the probe: no ACK came between; Linux adds
  two jiffies, 8 ms at HZ=250, and its timer wheel up to one more
  jiffy; the 40 ms, scaled on a slow kernel, are for the peer's
  scheduling) and must be below TCP_INFO's RTO (200 ms or more, 256 ms
  on Linux here). TCPLossProbes moved. The peer SACKs the probe after
  TLP_RTT and everything is then recovered.
prr_sending_pattern: 48 segments to send. The peer acknowledges the
  first flight one segment per ACK a handshake RTT after it came (so
  the RTO stays far above the rest of the case), and slow start sends
  a second flight of 20. Its 1st segment is lost; the peer SACKs the
  next three in one ACK (the sender finds the loss: RFC 6675 DupThresh,
  RACK), then two more per ACK, collecting what the sender sends after
  each until PACE (scaled) passes without a segment; the new data sent
  in recovery is held (in flight) to the end. The peer counts as the
  sender does (RFC 6937): DeliveredData per ACK, prr_delivered and
  prr_out since the ACK the retransmission followed, RecoverFS the
  flight then (20), pipe the segments sent and not acknowledged, the
  lost one left out until resent; ssthresh is TCP_INFO's in recovery.
  While pipe after an ACK is above ssthresh, prr_out must be within
  one of [floor, ceil] of prr_delivered * ssthresh / RecoverFS (one
  for the rounding of whole segments and a stack taking RecoverFS
  from cwnd, as Linux does, rather than the flight); after no ACK may
  more than DeliveredData + 1 segments go (no burst); nothing but the
  lost segment is resent, and that once; ssthresh is beta times the
  cwnd (0.7 x 20 = 14 with cubic); and after the last SACK the pipe
  is ssthresh within one. Linux sends 3, 1, 1, 2, 1 while pipe is above
  ssthresh 14, then 0, 2, 2, 2, ending with 14 in flight.
rack_lost_retransmission: 30 segments to send, the 2nd lost; the peer
  acknowledges the first flight as in sender_retransmits_holes, then
  drops the 2nd's retransmission too and acknowledges (SACKs) all else
  a sends, at once. A segment sent after that retransmission arriving
  shows it lost (RACK, RFC 8985 6.2: duplicate ACKs cannot): the 2nd
  goes a third time, still in recovery (TCP_INFO ca_state 3, no
  timeout: tcpi_retransmits 0), TCPLostRetransmit moves, no other
  segment is resent and all is acknowledged.
rack_time_based_tail: ten segments, the 9th lost: the peer acknowledges
  the 1st to 8th, PACE apart, and SACKs the 10th. One segment SACKed
  above the hole is fewer than DupThresh (3): only RACK's reorder timer
  finds the loss, a reordering window (a quarter of the minimum RTT)
  after the SACK. The 9th alone is resent, once, before the RTO, in
  recovery (ca_state 3, tcpi_retransmits 0), and no loss probe is sent
  (the reorder timer comes first). With the namespace's
  net.ipv4.tcp_recovery=0 (no RACK) the same loss waits for the
  retransmission timeout: at the 9th's resend ca_state is 4 (Loss);
  before it only the probe armed at the 8th's ACK may go (the 10th
  again, TCP_INFO's ca_state 1, Disorder, as with Linux: SACKed data is
  out).
slow_start_stretch_ack: not SACK, but the raw peer this file has: the
  first flight of ten (of 40 queued) is acknowledged by one ACK, as a
  receiver that coalesces (GRO) or answers on its own data does. Slow
  start counts all ten segments (Linux's tcp_slow_start(), RFC 3465
  with no limit L): cwnd is 20 (TCP_INFO), and the next flight is 20
  segments at once, new data in order.
rack_window_widens_after_dsack: RACK's reordering window is a quarter
  of the minimum RTT, and on a path seen to reorder a D-SACK widens it
  by another quarter (RFC 8985 6.2 step 4; Linux's tcp_dsack_seen() and
  tcp_rack_update_reo_wnd()). The peer answers every flight REO_RTT
  (200 ms) after it was sent, its handshake ACK too, so the minimum RTT
  is that: a flight, all but its second-last segment acknowledged or
  SACKed in one ACK; that one is resent a window (REO_RTT / 4) later.
  The peer then acknowledges everything, REO_RTT later again, and
  reports the resent copy in a D-SACK (the original had arrived), and
  six more segments go the same way: the 5th is resent as late as the
  first loss was when no reordering was seen, more than REO_RTT / 8
  later when the peer had first acknowledged a flight out of order (the
  10th SACKed, then the 9th), and as late again with
  net.ipv4.tcp_recovery=3 (the static-window bit).
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
    clock counting segments and TSecr echoing a's latest TSval, or echo
    when set. tsvals holds the TSval each of a's data segments (by
    offset) last came with.
    """

    def __init__(self, sack=True, ts=True, ws=7, mss=1460, delay=0.0):
        sport[0] += 1
        self.sport = sport[0]
        self.tsval = 100000
        self.ts_recent = 0
        self.echo = None
        self.tsvals = {}
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
                if s.load:
                    self.tsvals[self.rel(s.seq)] = self.ts_recent
            return match(s)
        return peer.expect(m, timeout)

    def send(self, flags="A", seq=0, load=b"", ack=0, blocks=(),
             tsecr=None):
        """Sends a segment: NOP, NOP, TS when timestamps were granted
        (TSecr tsecr if given), then NOP, NOP, SACK with blocks (offsets
        in a's data)."""
        opts = b""
        if self.ts:
            self.tsval += 1
            if tsecr is None:
                tsecr = self.ts_recent if self.echo is None else self.echo
            opts += struct.pack("!BBBBII", NOP, NOP, TS, 10, self.tsval,
                                tsecr)
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


def case_receiver_rtt_out_of_order():
    c = Conn()
    c.require(sack=False)
    # The echo is then at least this old: a's TSval is from its SYN-ACK.
    time.sleep(0.02)
    n = 1448
    for k in (1, 2, 3, 0):
        c.send(seq=k * n, load=DATA[k * n:(k + 1) * n])
    a = c.expect(lambda s: (s.ack - c.snd_base) & M == 4 * n, lib.scaled(1))
    lib.check(a is not None, "the hole filled, but no ACK of all 4 segments")
    raw = c.app.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    rcv_rtt = struct.unpack_from("I", raw, 92)[0]
    print("# tcpi_rcv_rtt %d us" % rcv_rtt)
    lib.check(rcv_rtt >= 20000, "tcpi_rcv_rtt %d us: the echoes of "
              "segments out of order or filling a hole not measured" %
              rcv_rtt)
    lib.check_eq(c.read(4 * n), DATA[:4 * n], "data read")


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


def sender(nsegs=10, total=None, ts=True, delay=HANDSHAKE_RTT):
    """A connection whose tested end sends total (default nsegs) full
    segments to the raw peer (MSS 1000, SACK, timestamps when ts), the
    peer holding the handshake's ACK for delay seconds; returns it and
    the segments' (start, end) of the first flight, nsegs of them (when
    they came: c.arrivals; their TSvals: c.first_ts)."""
    c = Conn(mss=1000, ts=ts, delay=delay)
    c.require(ts=ts)
    mss = c.app.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
    print("# TCP_MAXSEG %d, handshake RTT %.0f ms" % (mss, delay * 1000))
    lib.check(0 < mss <= 1000, "TCP_MAXSEG %d with the peer's MSS 1000" % mss)
    c.mss = mss
    c.total = (total or nsegs) * mss
    if total:
        # All of it queued at once: the peer, in this thread, cannot
        # acknowledge while a write blocks.
        c.app.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        c.app.setblocking(False)
        n = c.app.send(os.urandom(c.total))
        c.app.setblocking(True)
        lib.check_eq(n, c.total, "bytes taken by one send()")
    else:
        c.app.sendall(os.urandom(c.total))
    segs, c.arrivals = [], []
    while len(segs) < nsegs:
        s = c.expect(lambda s: s.load, lib.scaled(2))
        if s is None:
            break
        r = c.rel(s.seq)
        segs.append((r, r + len(s.load)))
        c.arrivals.append(time.monotonic())
    c.first_ts = dict(c.tsvals)
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


def lose_segment_2(c, rx, segs):
    """The first flight arrives without its 2nd segment, acknowledged as
    rx does; a must resend that segment, once. Returns what a sent
    meanwhile, as acknowledge() does."""
    held, _ = acknowledge(c, rx, segs[:1] + segs[2:])
    if not held:
        s = c.expect(lambda s: s.load, lib.scaled(3))
        lib.check(s is not None, "segment 2 not resent")
        held = [(c.rel(s.seq), c.rel(s.seq) + len(s.load))]
    lib.check_eq([h[:2] for h in held], [segs[1]],
                 "segments resent (2, once)")
    return held


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
    lose_segment_2(c, rx, segs)
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



# -- 8-12: undoing a reduction, loss probes, PRR ------------------------------

TCP_CA_OPEN, TCP_CA_RECOVERY = 0, 3
INFINITE_SSTHRESH = 0x7fffffff
# Congestion control: the multiplicative decrease (beta).
BETA = {"cubic": 717 / 1024, "reno": 0.5}
UNDO = ("TCPFullUndo", "TCPPartialUndo", "TCPDSACKUndo", "TCPLossUndo")


def tcp_info(sock):
    """The fields of TCP_INFO these cases read (times in seconds; the
    scoreboard, sacked, lost and retrans, in segments)."""
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    rto, rtt = struct.unpack_from("I", raw, 8)[0], \
        struct.unpack_from("I", raw, 68)[0]
    ssthresh, cwnd = struct.unpack_from("II", raw, 76)
    sacked, lost, retrans = struct.unpack_from("III", raw, 28)
    return {"ca_state": raw[1], "rto": rto / 1e6, "rtt": rtt / 1e6,
            "ssthresh": ssthresh, "cwnd": cwnd,
            "snd_mss": struct.unpack_from("I", raw, 16)[0],
            "sacked": sacked, "lost": lost, "retrans": retrans,
            "reordering": struct.unpack_from("I", raw, 88)[0]}


def show(info):
    return "ca_state %d, cwnd %d, ssthresh %s, srtt %.1f ms, rto %.0f ms" % (
        info["ca_state"], info["cwnd"],
        "inf" if info["ssthresh"] >= INFINITE_SSTHRESH else
        str(info["ssthresh"]), info["rtt"] * 1000, info["rto"] * 1000)


def wait_info(c, cond, timeout=1.0):
    """TCP_INFO once cond(info) holds, or the last one after timeout
    seconds (scaled)."""
    end = time.monotonic() + lib.scaled(timeout)
    while True:
        info = tcp_info(c.app)
        if cond(info) or time.monotonic() > end:
            return info
        time.sleep(0.01)


def ext_counters():
    """Namespace a's loss-recovery counters: Linux's TcpExt line of
    /proc/net/netstat, or alttcp's AltTcp line of /proc/net/alttcp_stats
    (which uses the same names)."""
    if lib.IS_ALTTCP:
        text, prefix = net.a.read("alttcp_stats"), "AltTcp:"
    else:
        text, prefix = net.a.read("netstat"), "TcpExt:"
    pairs = [ln.split()[1:] for ln in text.splitlines()
             if ln.startswith(prefix)]
    return {k: int(v) for k, v in zip(pairs[0], pairs[1])}


def moved(before, names):
    """{name: how far it moved since before (None: no such counter)}."""
    now = ext_counters()
    return {n: now[n] - before.get(n, 0) if n in now else None
            for n in names}


def check_moved(delta, name, want=True):
    """Checks counter name moved (want) or did not."""
    where = "alttcp_stats" if lib.IS_ALTTCP else "netstat"
    lib.check(delta[name] is not None, "no counter %s in /proc/net/%s" %
              (name, where))
    if want:
        lib.check(delta[name] > 0, "%s did not move: %s" % (name, delta))
    else:
        lib.check(delta[name] == 0, "%s moved: %s" % (name, delta))


def beta(c):
    name = c.app.getsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, 16)
    name = name.rstrip(b"\0").decode()
    lib.check(name in BETA, "congestion control %s: no beta known" % name)
    return name, BETA[name]


def seq_after(a, b):
    return 0 < (a - b) & M < 0x80000000


def spurious_start(ts=True):
    """Ten segments, the 2nd held back: the peer acknowledges the 1st
    and SACKs the 3rd to 10th, PACE apart, until a resends the 2nd.
    Returns the connection, the segments, the receiver, TCP_INFO before
    the loss and in recovery, and the counters before."""
    c, segs = sender(ts=ts)
    info0 = tcp_info(c.app)
    ext0 = ext_counters()
    print("# before: %s" % show(info0))
    if ts:
        # What a receiver echoes: the TSval of the last in-order segment.
        c.echo = c.first_ts[segs[0][0]]
    rx = Receiver()
    lose_segment_2(c, rx, segs)
    info1 = tcp_info(c.app)
    print("# in recovery: %s" % show(info1))
    lib.check_eq(info1["ca_state"], TCP_CA_RECOVERY,
                 "TCP_INFO ca_state after the fast retransmit")
    lib.check(info1["ssthresh"] < info0["cwnd"], "no reduction: %s" %
              show(info1))
    return c, segs, rx, info0, info1, ext0


def check_restored(c, info0, what):
    """Waits for the sender to be Open with cwnd and ssthresh back at
    least where they were before the loss; returns the TCP_INFO."""
    def restored(i):
        return (i["ca_state"] == TCP_CA_OPEN and
                i["cwnd"] >= info0["cwnd"] and
                i["ssthresh"] >= info0["ssthresh"])
    info = wait_info(c, restored)
    print("# after %s: %s" % (what, show(info)))
    lib.check(restored(info), "after %s: %s, want Open, cwnd >= %d, "
              "ssthresh as before (%s)" % (what, show(info), info0["cwnd"],
                                           show(info0)))
    return info


def case_undo_after_spurious_retransmit():
    c, segs, rx, info0, info1, ext0 = spurious_start()
    orig = c.first_ts[segs[1][0]]
    again = c.tsvals[segs[1][0]]
    print("# segment 2 sent with TSval %d, resent with %d" % (orig, again))
    lib.check(seq_after(again, orig), "the resent segment 2 carries TSval "
              "%d, not after the original's %d" % (again, orig))
    # The original arrives: all acknowledged, echoing its TSval.
    rx.add(*segs[1])
    c.send(ack=rx.nxt, tsecr=orig)
    print("# ACK %d echoing TSval %d (the original's)" % (rx.nxt, orig))
    check_restored(c, info0, "the ACK echoing the original")
    delta = moved(ext0, UNDO)
    print("# counters moved: %s" % delta)
    ts_undo = [delta[n] for n in UNDO[:2] if delta[n] is not None]
    lib.check(ts_undo, "neither TCPFullUndo nor TCPPartialUndo counted")
    lib.check_eq(sum(ts_undo), 1, "TCPFullUndo + TCPPartialUndo moved")
    check_moved(delta, "TCPDSACKUndo", False)


def case_dsack_undo():
    c, segs, rx, info0, info1, ext0 = spurious_start(ts=False)
    # The original fills the hole: all acknowledged. Without timestamps
    # the sender cannot tell which copy arrived: the reduction stays...
    rx.add(*segs[1])
    c.send(ack=rx.nxt)
    info2 = wait_info(c, lambda i: i["ca_state"] == TCP_CA_OPEN)
    print("# after ACK %d: %s" % (rx.nxt, show(info2)))
    lib.check_eq(info2["ca_state"], TCP_CA_OPEN, "ca_state after all was "
                 "acknowledged")
    lib.check_eq(info2["ssthresh"], info1["ssthresh"],
                 "ssthresh after all was acknowledged")
    # ... until the resent copy arrives too, and is reported below the
    # ACK number (RFC 2883 4.1).
    c.send(ack=rx.nxt, blocks=[segs[1]])
    print("# ACK %d, D-SACK %d-%d" % ((rx.nxt,) + segs[1]))
    check_restored(c, info0, "the D-SACK")
    delta = moved(ext0, UNDO + ("TCPDSACKRecv",))
    print("# counters moved: %s" % delta)
    check_moved(delta, "TCPDSACKUndo")
    check_moved(delta, "TCPFullUndo", False)


def case_genuine_loss_keeps_reduction():
    c, segs, rx, info0, info1, ext0 = spurious_start()
    again = c.tsvals[segs[1][0]]
    name, b = beta(c)
    # The cwnd the loss was found at: the initial window, or one more
    # after the 1st segment's ACK in slow start.
    lo, hi = int(b * info0["cwnd"]), -int(-b * (info0["cwnd"] + 1))
    lib.check(lo <= info1["ssthresh"] <= hi, "ssthresh %d in recovery; "
              "want %d to %d (%s, beta %.2f, cwnd %d)" %
              (info1["ssthresh"], lo, hi, name, b, info0["cwnd"]))
    # Only the resent copy arrives: the ACK echoes its TSval.
    rx.add(*segs[1])
    c.send(ack=rx.nxt, tsecr=again)
    print("# ACK %d echoing TSval %d (the resent copy's)" % (rx.nxt, again))
    info = wait_info(c, lambda i: i["ca_state"] == TCP_CA_OPEN)
    time.sleep(lib.scaled(0.2))
    info = tcp_info(c.app)
    print("# after: %s" % show(info))
    lib.check_eq(info["ca_state"], TCP_CA_OPEN, "ca_state after recovery")
    lib.check_eq(info["ssthresh"], info1["ssthresh"],
                 "ssthresh after recovery")
    lib.check(info["cwnd"] <= info["ssthresh"] + 1, "cwnd %d after "
              "recovery, above ssthresh %d" % (info["cwnd"],
                                               info["ssthresh"]))
    delta = moved(ext0, UNDO)
    print("# counters moved: %s" % delta)
    for n in UNDO:
        if delta[n] is not None:
            check_moved(delta, n, False)


CA_NAMES = {TCP_CA_OPEN: "open", TCP_CA_RECOVERY: "recovery"}


def proc_recovery(c, info):
    """Checks the connection's row of /proc/net/alttcp against TCP_INFO
    (read before it): congestion state, ssthresh, the scoreboard and the
    reordering degree. Returns the row."""
    lines = net.a.read("alttcp").splitlines()
    names = lines[0].split()
    mine = [ln for ln in lines[1:]
            if ln.split()[2] == "%s:%d" % (B, c.sport)]
    lib.check_eq(len(mine), 1, "rows of the connection")
    print("# /proc/net/alttcp:\n# %s\n# %s" % (lines[0], mine[0]))
    row = dict(zip(names, mine[0].split()))
    cols = ("ca_state", "ssthresh", "sacked_out", "lost_out",
            "retrans_out", "reordering")
    got = [row.get(k) for k in cols]
    # ssthresh: bytes in the row, -1 for none; segments in TCP_INFO.
    if got[1] and got[1] != "-1":
        got[1] = "%d MSS" % (int(got[1]) // info["snd_mss"])
    want = [CA_NAMES.get(info["ca_state"]),
            "-1" if info["ssthresh"] >= INFINITE_SSTHRESH else
            "%d MSS" % info["ssthresh"]] + \
        [str(info[k]) for k in ("sacked", "lost", "retrans", "reordering")]
    lib.check_eq(got, want, "the row's %s against TCP_INFO" % " ".join(cols))
    return row


def case_scoreboard_in_proc():
    c, segs, rx, info0, info1, ext0 = spurious_start()
    info = tcp_info(c.app)
    print("# scoreboard: sacked %d, lost %d, retrans %d, reordering %d" %
          (info["sacked"], info["lost"], info["retrans"],
           info["reordering"]))
    # The 1st acknowledged, 3rd to 10th SACKed, the 2nd lost and resent.
    lib.check_eq((info["ca_state"], info["sacked"], info["lost"],
                  info["retrans"]), (TCP_CA_RECOVERY, 8, 1, 1),
                 "TCP_INFO (ca_state, sacked, lost, retrans) in recovery")
    if lib.IS_ALTTCP:
        proc_recovery(c, info)
    # The resent 2nd arrives: all acknowledged, recovery ends.
    rx.add(*segs[1])
    c.send(ack=rx.nxt, tsecr=c.tsvals[segs[1][0]])
    info = wait_info(c, lambda i: i["ca_state"] == TCP_CA_OPEN)
    print("# after: %s" % show(info))
    lib.check_eq((info["ca_state"], info["sacked"], info["lost"],
                  info["retrans"]), (TCP_CA_OPEN, 0, 0, 0),
                 "TCP_INFO (ca_state, sacked, lost, retrans) after recovery")
    if lib.IS_ALTTCP:
        proc_recovery(c, info)


# The tail-loss case's path: the peer answers each segment this long
# after it came.
TLP_RTT = min(lib.scaled(0.05), 0.1)


def case_tail_loss_probe():
    c, segs = sender(delay=TLP_RTT)
    ext0 = ext_counters()
    rx = Receiver()
    early = []
    print("# the peer acknowledges segments 1-8 %.0f ms after each came; "
          "9 and 10 are lost" % (TLP_RTT * 1000))
    for s, t in list(zip(segs, c.arrivals))[:8]:
        while True:
            left = t + TLP_RTT - time.monotonic()
            if left <= 0:
                break
            d = c.expect(lambda d: d.load, left)
            if d is not None:
                early.append((c.rel(d.seq), c.rel(d.seq) + len(d.load)))
        rx.add(*s)
        t_last = time.monotonic()
        rx.ack(c)
    lib.check(not early, "a sent %s before the tail was left unacknowledged"
              % " ".join("%d-%d" % e for e in early))
    d = c.expect(lambda d: d.load, lib.scaled(3))
    t_probe = time.monotonic()
    lib.check(d is not None, "nothing sent after the last ACK")
    probe = (c.rel(d.seq), c.rel(d.seq) + len(d.load))
    info = tcp_info(c.app)
    after = t_probe - t_last
    print("# %s sent %.0f ms after the last ACK; %s" %
          ("%d-%d" % probe, after * 1000, show(info)))
    # The probe reaches the peer, which answers it after the path's RTT.
    time.sleep(max(0, t_probe + TLP_RTT - time.monotonic()))
    out, done = recover(c, rx, 3, [probe + (after,)], t_last)
    delta = moved(ext0, ("TCPLossProbes", "TCPLossProbeRecovery"))
    print("# counters moved: %s" % delta)
    lib.check(probe == segs[-1] or probe[0] == c.total,
              "the probe is %d-%d: neither the last segment (%d-%d) nor "
              "new data" % (probe + segs[-1]))
    srtt = info["rtt"]
    lo, hi = 2 * srtt - 0.01, 2 * srtt + lib.scaled(0.04)
    lib.check(lo <= after <= hi, "the probe went %.0f ms after the last "
              "ACK; want 2 * SRTT (%.0f ms), %.0f to %.0f ms" %
              (after * 1000, 2 * srtt * 1000, lo * 1000, hi * 1000))
    lib.check(after < info["rto"], "the probe went %.0f ms after the last "
              "ACK, not before the RTO (%.0f ms)" % (after * 1000,
                                                   info["rto"] * 1000))
    check_moved(delta, "TCPLossProbes")
    lib.check(done, "not all acknowledged")


def gather(c, quiet):
    """a's data segments until none came for quiet seconds."""
    out = []
    while True:
        d = c.expect(lambda d: d.load, quiet)
        if d is None:
            return out
        out.append((c.rel(d.seq), c.rel(d.seq) + len(d.load),
                    time.monotonic()))


def case_prr_sending_pattern():
    # 48 segments to send; the first flight (10) is acknowledged, one
    # ACK each, after a handshake RTT: slow start doubles cwnd to 20.
    c, segs = sender(total=48)
    quiet = lib.scaled(PACE)
    rx = Receiver()
    lib.check(c.arrivals, "no first flight")
    time.sleep(max(0, c.arrivals[0] + HANDSHAKE_RTT - time.monotonic()))
    flight = []
    for s in segs:
        rx.add(*s)
        rx.ack(c)
        flight += gather(c, 0.001)
    flight += gather(c, quiet)
    flight = [f[:2] for f in flight]
    info0 = tcp_info(c.app)
    name, b = beta(c)
    mss = c.mss
    want = [(segs[-1][1] + i * mss, segs[-1][1] + (i + 1) * mss)
            for i in range(len(flight))]
    lib.check_eq(flight, want, "the second flight (new data, in order)")
    print("# second flight: %d segments; %s" % (len(flight), show(info0)))
    lib.check(len(flight) >= 16, "a second flight of %d segments: PRR's "
              "proportional part needs 16" % len(flight))
    # Its 1st segment is lost; the peer SACKs the next three, then two
    # more per ACK.
    lost = flight[0]
    sent = {f: 1 for f in flight}     # each segment: copies sent
    recover_fs = len(flight)
    started = False
    ssthresh = None
    prr_delivered = prr_out = 0
    held = []
    errors = []

    def covered(f):
        return f[1] <= rx.nxt or any(s <= f[0] and f[1] <= e
                                     for s, e in rx.blocks)

    def pipe():
        return sum(1 for f in sent if not covered(f) and
                   (f != lost or sent[f] > 1))

    steps = [flight[1:4]] + [flight[i:i + 2]
                             for i in range(4, len(flight), 2)]
    print("#  ACK  deliv  sent  pipe  prr_del  prr_out  bound")
    for n, step in enumerate(steps, 1):
        before = pipe()
        for f in step:
            rx.add(*f)
        rx.ack(c)
        delivered = before - pipe()
        got = gather(c, quiet)
        for g in got:
            g = g[:2]
            if g != lost and g in sent:
                errors.append("ACK %d: %d-%d resent" % ((n,) + g))
            sent[g] = sent.get(g, 0) + 1
            if g != lost:
                held.append(g + (0,))
        if not started and sent[lost] > 1:
            started = True
            ssthresh = tcp_info(c.app)["ssthresh"]
            print("# recovery from ACK %d: ssthresh %d, RecoverFS %d" %
                  (n, ssthresh, recover_fs))
        bound = ""
        if started:
            prr_delivered += delivered
            prr_out += len(got)
            if before - delivered > ssthresh:
                # RFC 6937: ceil(prr_delivered * ssthresh / RecoverFS)
                # - prr_out while pipe > ssthresh.
                hi = -(-prr_delivered * ssthresh // recover_fs)
                lo = prr_delivered * ssthresh // recover_fs
                bound = "%d-%d" % (lo - 1, hi + 1)
                if not lo - 1 <= prr_out <= hi + 1:
                    errors.append("ACK %d: %d sent in recovery after %d "
                                  "delivered; PRR allows %d to %d" %
                                  (n, prr_out, prr_delivered, lo, hi))
            if len(got) > delivered + 1:
                errors.append("ACK %d: %d sent for %d delivered" %
                              (n, len(got), delivered))
        print("#  %2d    %d     %d    %2d     %2d       %2d     %s" %
              (n, delivered, len(got), pipe(), prr_delivered, prr_out,
               bound))
    lib.check(started, "segment %d-%d never resent" % lost)
    lib.check(sent[lost] == 2, "segment %d-%d sent %d times" %
              (lost + (sent[lost],)))
    lib.check(not errors, "; ".join(errors))
    end = pipe()
    lo, hi = int(b * info0["cwnd"]), -int(-b * info0["cwnd"])
    lib.check(lo <= ssthresh <= hi, "ssthresh %d; want %d to %d (%s, "
              "beta %.2f, cwnd %d)" % (ssthresh, lo, hi, name, b,
                                       info0["cwnd"]))
    lib.check(ssthresh - 1 <= end <= ssthresh + 1, "%d segments in flight "
              "at the end of recovery; want ssthresh %d" % (end, ssthresh))
    # The resent segment arrives: recovery ends.
    rx.add(*lost)
    rx.ack(c)
    info = wait_info(c, lambda i: i["ca_state"] == TCP_CA_OPEN)
    print("# after ACK %d: %s" % (rx.nxt, show(info)))
    lib.check_eq(info["ca_state"], TCP_CA_OPEN, "ca_state after recovery")
    out, done = recover(c, rx, 5, held)
    lib.check(done, "not all acknowledged")


# -- 13-14: RACK --------------------------------------------------------------

def resend_state(c, what):
    """TCP_INFO's congestion state and RTO count when a resent segment
    came, with the check that it came in recovery, not by a timeout."""
    raw = c.app.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    state, retransmits = raw[1], raw[2]
    print("# %s: ca_state %d, tcpi_retransmits %d" % (what, state,
                                                      retransmits))
    return state, retransmits


def case_rack_lost_retransmission():
    c, segs = sender(total=30)
    ext0 = ext_counters()
    rx = Receiver()
    lost = segs[1]
    print("# segment 2 lost; the peer answers the others:")
    held, t0 = acknowledge(c, rx, segs[:1] + segs[2:])
    end = time.monotonic() + lib.scaled(5)
    copies, state, others = 0, None, []
    while rx.nxt < c.total and time.monotonic() < end:
        if held:
            d = held.pop(0)[:2]
        else:
            s = c.expect(lambda s: s.load, end - time.monotonic())
            if s is None:
                break
            d = (c.rel(s.seq), c.rel(s.seq) + len(s.load))
        if d == lost:
            copies += 1
            if copies == 1:
                print("# %d-%d resent: dropped again" % d)
                continue
            if copies == 2:
                state = resend_state(c, "%d-%d resent again" % d)
        elif d[1] <= rx.nxt or any(b[0] <= d[0] and d[1] <= b[1]
                                   for b in rx.blocks):
            others.append(d)
        rx.add(*d)
        rx.ack(c)
    delta = moved(ext0, ("TCPLostRetransmit",))
    print("# counters moved: %s" % delta)
    lib.check(copies >= 2, "segment %d-%d resent %d times: its lost "
              "retransmission never found" % (lost + (copies,)))
    lib.check_eq(copies, 2, "retransmissions of segment %d-%d" % lost)
    lib.check_eq(state, (TCP_CA_RECOVERY, 0), "TCP_INFO (ca_state, "
                 "retransmits) when the lost retransmission was resent")
    check_moved(delta, "TCPLostRetransmit")
    lib.check(not others, "segments resent needlessly: %s" %
              " ".join("%d-%d" % o for o in others))
    lib.check(rx.nxt >= c.total, "not all acknowledged")


def tail_loss(c, segs):
    """Acknowledges segments 1-8 PACE apart, then SACKs the 10th, and
    answers what a sends. Returns what it sent before the 9th, what it
    sent from the 9th on, as recover() does, TCP_INFO's (ca_state,
    retransmits) when the 9th came and the seconds from the SACK."""
    rx = Receiver()
    held, _ = acknowledge(c, rx, segs[:8])
    lib.check(not held, "a sent %s before the tail was answered" %
              " ".join("%d-%d" % h[:2] for h in held))
    rx.add(*segs[9])
    t_sack = time.monotonic()
    print("# %s" % rx.ack(c))
    before = []
    while True:
        d = c.expect(lambda d: d.load, lib.scaled(5))
        lib.check(d is not None, "the 9th never resent")
        after = time.monotonic() - t_sack
        r = (c.rel(d.seq), c.rel(d.seq) + len(d.load))
        state = resend_state(c, "%d-%d sent %.0f ms after the SACK" %
                             (r + (after * 1000,)))
        if r == segs[8]:
            break
        before.append(r + state)
        rx.add(*r)
        rx.ack(c)
    out, done = recover(c, rx, 3, [r + (after,)], t_sack)
    lib.check(done, "not all acknowledged")
    return before, out, state, after


def case_rack_time_based_tail():
    c, segs = sender()
    ext0 = ext_counters()
    print("# segment 9 lost; the peer acknowledges 1-8 and SACKs 10")
    before, out, state, after = tail_loss(c, segs)
    info = tcp_info(c.app)
    delta = moved(ext0, ("TCPLossProbes",))
    print("# counters moved: %s; %s" % (delta, show(info)))
    lib.check_eq([b[:2] for b in before] + [o[:2] for o in out], [segs[8]],
                 "segments resent (the 9th, once)")
    lib.check_eq(state, (TCP_CA_RECOVERY, 0), "TCP_INFO (ca_state, "
                 "retransmits) when the 9th was resent")
    lib.check(after < info["rto"], "the 9th resent %.0f ms after the SACK,"
              " not before the RTO (%.0f ms)" % (after * 1000,
                                                 info["rto"] * 1000))
    check_moved(delta, "TCPLossProbes", False)
    print("# again with net.ipv4.tcp_recovery=0:")
    with sysctls(net.a, tcp_recovery=0):
        c, segs = sender()
        before, out, state, after = tail_loss(c, segs)
    lib.check_eq(state[0], 4, "TCP_INFO ca_state when the 9th was resent "
                 "without RACK (4: Loss, by the retransmission timeout)")
    # (start, end, ca_state, retransmits) of each: the probe may go,
    # in Disorder (1: SACKed data out).
    lib.check(set(before) <= {segs[9] + (1, 0)}, "without RACK, before "
              "the 9th a sent %s (start-end/ca_state/retransmits): only a "
              "loss probe (the 10th) may go, in state 1 (Disorder)" %
              " ".join("%d-%d/%d/%d" % b for b in before))



def case_slow_start_stretch_ack():
    c, segs = sender(total=40)
    rx = Receiver()
    for seg in segs:
        rx.add(*seg)
    print("# one ACK for the first flight: %s" % rx.ack(c))
    flight = [f[:2] for f in gather(c, lib.scaled(0.1))]
    info = tcp_info(c.app)
    print("# then %d segments; %s" % (len(flight), show(info)))
    want = [(segs[-1][1] + i * c.mss, segs[-1][1] + (i + 1) * c.mss)
            for i in range(20)]
    lib.check_eq(info["cwnd"], 20, "TCP_INFO cwnd after one ACK for ten "
                 "segments in slow start")
    lib.check_eq(flight, want, "the second flight (20 new segments)")
    rx2 = Receiver(nxt=rx.nxt)
    for f in flight:
        rx2.add(*f)
    out, done = recover(c, rx2, 5, [f + (0,) for f in flight[-1:]])
    lib.check(done, "not all acknowledged")


# The raw peer's RTT in rack_window_widens_after_dsack.
REO_RTT = min(lib.scaled(0.2), 0.8)


def late_tail(c, flight, t_sent):
    """The peer answers flight REO_RTT after it was sent, acknowledging
    or SACKing all of it but the second-last segment. Returns the
    seconds until a resends that one."""
    time.sleep(max(0, t_sent + REO_RTT - time.monotonic()))
    rx = Receiver(nxt=flight[0][0])
    for f in flight[:-2] + flight[-1:]:
        rx.add(*f)
    t_sack = time.monotonic()
    print("# %s" % rx.ack(c))
    d = c.expect(lambda d: d.load, lib.scaled(3))
    lib.check(d is not None, "nothing resent after the SACK")
    after = time.monotonic() - t_sack
    r = (c.rel(d.seq), c.rel(d.seq) + len(d.load))
    print("# %d-%d resent %.0f ms after the SACK" % (r + (after * 1000,)))
    lib.check_eq(r, flight[-2], "the segment resent")
    return after


def next_flight(c, start, n=6):
    """Has a write n segments more and returns them as they came, with
    when the first did."""
    c.app.sendall(os.urandom(n * c.mss))
    flight, t_sent = [], None
    while len(flight) < n:
        d = c.expect(lambda d: d.load, lib.scaled(2))
        lib.check(d is not None, "only %d of %d segments sent" %
                  (len(flight), n))
        t_sent = t_sent or time.monotonic()
        flight.append((c.rel(d.seq), c.rel(d.seq) + len(d.load)))
    want = [(start + i * c.mss, start + (i + 1) * c.mss) for i in range(n)]
    lib.check_eq(flight, want, "the next flight (%d new segments)" % n)
    return flight, t_sent


def reo_waits(reorder):
    """The two waits of rack_window_widens_after_dsack, before and after
    the D-SACK; with reorder, a flight arriving out of order first."""
    c, segs = sender(delay=REO_RTT)
    t_sent = c.arrivals[0]
    if reorder:
        time.sleep(max(0, t_sent + REO_RTT - time.monotonic()))
        c.send(ack=segs[-2][0], blocks=[segs[-1]])
        c.send(ack=segs[-1][1])
        print("# ACK %d SACK %d-%d, then ACK %d: reordered" %
              (segs[-2][0], segs[-1][0], segs[-1][1], segs[-1][1]))
        segs, t_sent = next_flight(c, segs[-1][1])
    first = late_tail(c, segs, t_sent)
    # Late too: an early answer would be an RTT sample (the timestamp
    # echo) that shrinks the minimum RTT the window is a quarter of.
    time.sleep(REO_RTT)
    c.send(ack=segs[-1][1], blocks=[segs[-2]])
    print("# ACK %d, D-SACK %d-%d" % ((segs[-1][1],) + segs[-2]))
    flight, t_sent = next_flight(c, segs[-1][1])
    return first, late_tail(c, flight, t_sent)


def case_rack_window_widens_after_dsack():
    step = REO_RTT / 4

    def waits(reorder, widens):
        first, second = reo_waits(reorder)
        print("# waits %.0f ms, then %.0f ms (a step: %.0f ms)" %
              (first * 1000, second * 1000, step * 1000))
        lib.check(first < 1.5 * step, "the first wait, %.0f ms, is more "
                  "than one window (%.0f ms)" % (first * 1000, step * 1000))
        if widens:
            lib.check(second - first > step / 2, "after the D-SACK the "
                      "wait grew by %.0f ms; want about a quarter RTT "
                      "(%.0f ms)" % ((second - first) * 1000, step * 1000))
        else:
            lib.check(abs(second - first) < step / 2, "the waits were "
                      "%.0f ms and %.0f ms; want the same window" %
                      (first * 1000, second * 1000))

    print("# no reordering seen: the D-SACK leaves the window")
    waits(False, False)
    print("# reordering seen: the D-SACK widens it")
    waits(True, True)
    print("# again with net.ipv4.tcp_recovery=3 (a static window):")
    with sysctls(net.a, tcp_recovery=3):
        waits(True, False)


lib.run_cases([
    ("syn_options_order", case_syn_options_order),
    ("synack_options_order", case_synack_options_order),
    ("sack_blocks_for_holes", case_sack_blocks_for_holes),
    ("dsack_for_duplicate", case_dsack_for_duplicate),
    ("receiver_rtt_out_of_order", case_receiver_rtt_out_of_order),
    ("no_sack_without_permission", case_no_sack_without_permission),
    ("sender_retransmits_holes", case_sender_retransmits_holes),
    ("sack_reneging", case_sack_reneging),
    ("undo_after_spurious_retransmit", case_undo_after_spurious_retransmit),
    ("dsack_undo", case_dsack_undo),
    ("genuine_loss_keeps_reduction", case_genuine_loss_keeps_reduction),
    ("scoreboard_in_proc", case_scoreboard_in_proc),
    ("tail_loss_probe", case_tail_loss_probe),
    ("prr_sending_pattern", case_prr_sending_pattern),
    ("rack_lost_retransmission", case_rack_lost_retransmission),
    ("rack_time_based_tail", case_rack_time_based_tail),
    ("rack_window_widens_after_dsack",
     case_rack_window_widens_after_dsack),
    ("slow_start_stretch_ack", case_slow_start_stretch_ack),
], timeout=60)
