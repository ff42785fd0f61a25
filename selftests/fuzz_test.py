#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""A fuzzer: hostile segments at every kind of endpoint alttcp keeps.

A hand-driven peer in namespace b sends FUZZ_SEGMENTS segments (100 000
by default; `make check` runs that, FUZZ_SEGMENTS=1000000 the million) at
namespace a: a listener, request entries (SYN_RECEIVED), established
connections whose application reads and ones whose application does not,
connections closing (FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, LAST_ACK),
TIME_WAIT entries, and a port bound without a listener (whose segments
are Linux TCP's, as for any closed port, and alttcp must not count
them). Segments are
random and mutated headers (every flag combination, data offsets short
and long, options of every kind and length, windows, urgent pointers,
sequence and acknowledgment numbers near the connection's and anywhere,
truncated headers, bad checksums) mixed with structured attacks: the
one-byte-hole flood and the in-order flood against a non-reader, a SYN
flood, and RST, SYN and data injected inside and outside the windows. A
Linux client in b sends a stream to an alttcp server in a the whole
time.

Asserted:
- the stream arrives intact, and a heartbeat thread never stalls;
- for every segment, this program predicts whether alttcp's validation
  refuses it and why (data offset, checksum, flags, options); each of
  those counters grows by exactly the
  predicted number, InErrs is their sum, and all drops together stay
  within InSegs;
- kernel memory stays bounded while it runs (slab, sampled) and returns
  to its baseline once the connections are closed: alttcp's own
  accounting (/proc/net/protocols) to zero, its sockets to zero, the
  slab to within a few MiB.
The kernel log scan of every VM run catches any report. With Linux TCP
(ALTTCP_TEST_PROTO=6) the stream, heartbeat and memory checks run; the
counter checks are alttcp's.
"""
import hashlib
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
PORT = 8700             # the listener the raw connections come to
LEGIT_PORT = 8701       # the stream's server
BOUND_PORT = 8702       # bound, not listening
SEGMENTS = int(os.environ.get("FUZZ_SEGMENTS", "100000"))
# The debug kernel handles each segment many times slower.
SEGMENTS = max(1000, int(SEGMENTS / lib.TIME_SCALE))
SEED = int(os.environ.get("FUZZ_SEED", str(int(time.time()))))
RCVBUF = 65536
SLAB_SLACK_KB = 4096    # what the slab may keep after all is closed
SLAB_PEAK_KB = 65536    # what it may grow by while the fuzzer runs
SO_LINGER = struct.pack("ii", 1, 0)

FIN, SYN, RST, PSH, ACK, URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
HOOK_REASONS = ("DropBadDoff", "DropBadCsum", "DropBadFlags", "DropBadOpts")

net = lib.NetPair("fz")
peer = lib.RawPeer(net)
rnd = random.Random(SEED)


def knob(name, value):
    path = ("/proc/sys/net/alttcp/" + name if lib.IS_ALTTCP else
            "/proc/sys/net/ipv4/tcp_" + name)
    old = net.a.run("cat", path).strip()
    net.a.run("sh", "-c", "echo %s > %s" % (value, path))
    lib.on_exit(lambda: net.a.run("sh", "-c", "echo %s > %s" % (old, path),
                                  check=False))


def protocol_row():
    """(sockets, memory pages) of the protocol in namespace a."""
    return lib.protocol_row(net.a)[:2]


def memory_pages():
    """The protocol's memory in pages: alttcp's exact MemoryPages; for
    Linux /proc/net/protocols, which leaves out what each CPU holds back
    (up to 256 pages each)."""
    if lib.IS_ALTTCP:
        return lib.counters(net.a)["MemoryPages"]
    return protocol_row()[1]


def counters():
    return lib.counters(net.a) if lib.IS_ALTTCP else {}


# -- what alttcp's validation says of a segment (input.c) ---------------------

def options_ok(opts):
    """input.c's alttcp_parse_options(): False where it refuses."""
    i = 0
    while i < len(opts):
        kind = opts[i]
        if kind == 0:
            break
        if kind == 1:
            i += 1
            continue
        if len(opts) - i < 2:
            return False
        n = opts[i + 1]
        if n < 2 or n > len(opts) - i:
            return False
        if (kind, n) in ((2, 4), (3, 3), (8, 10)) or kind not in (2, 3, 8):
            i += n
            continue
        return False
    return True


def verdict(tcp, csum_bad):
    """The drop counter validation charges tcp (the TCP bytes) to, or None
    if it passes; "short" for a header too short to be looked at."""
    if len(tcp) < 20:
        return "short"
    doff = (tcp[12] >> 4) * 4
    if doff < 20 or doff > len(tcp):
        return "DropBadDoff"
    if csum_bad:
        return "DropBadCsum"
    flags = tcp[13]
    if not flags & (SYN | ACK | RST | FIN) or \
       (flags & (SYN | FIN)) == (SYN | FIN) or \
       (flags & (SYN | RST)) == (SYN | RST):
        return "DropBadFlags"
    if not options_ok(tcp[20:doff]):
        return "DropBadOpts"
    return None


def frame(src_port, dst_port, seq, ack, flags, window=65535, urg=0,
          options=b"", load=b"", doff=None, csum_bad=False, cut=None):
    """An Ethernet frame to a's veth, the TCP bytes in it, and whether its
    checksum is wrong."""
    if doff is None:
        doff = 5 + (len(options) + 3) // 4
        options += b"\0" * ((4 - len(options) % 4) % 4)
    tcp = struct.pack("!HHIIBBHHH", src_port, dst_port, seq & 0xffffffff,
                      ack & 0xffffffff, (doff & 15) << 4, flags & 0xff,
                      window & 0xffff, 0, urg & 0xffff) + options + load
    if cut is not None:
        tcp = tcp[:cut]
    src, dst = socket.inet_aton(B), socket.inet_aton(A)
    csum = lib._csum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
    if len(tcp) < 18:
        csum_bad = False
    elif csum_bad:
        csum ^= 0x0100
    if len(tcp) >= 18:
        tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64,
                     6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", lib._csum(ip)) + ip[12:]
    return (peer.dst_mac + peer.src_mac + struct.pack("!H", lib.ETH_P_IP) +
            ip + tcp), tcp, csum_bad


# -- the endpoints ------------------------------------------------------------

class Target:
    """A 4-tuple the fuzzer aims at: b's port, a's port, and the sequence
    numbers that are near: b's next (snd) and a's next (rcv)."""

    def __init__(self, kind, sport, dport, snd, rcv):
        self.kind, self.sport, self.dport = kind, sport, dport
        self.snd, self.rcv = snd, rcv


apps = []


def keep(sock):
    apps.append(sock)
    return sock


def raw_connect(sport):
    """A raw connection to the listener; (RawConn, accepted socket)."""
    conn = peer.connect(sport, PORT, isn=rnd.randrange(1 << 32))
    app, _ = lsk.accept()
    keep(app)
    app.setblocking(False)
    return conn, app


def expect_flags(conn, flags):
    seg = conn.expect(lambda s: flags in s.flags)
    lib.check(seg is not None, "no %s from a on port %d" % (flags,
                                                            conn.sport))
    return seg


def setup_targets():
    targets = []
    sport = iter(range(21000, 30000))
    # Request entries: SYNs never completed.
    for _ in range(16):
        sp, isn = next(sport), rnd.randrange(1 << 32)
        peer.send(lib.Seg(sp, PORT, isn, 0, "S", options=lib.MSS_1460))
        sa = peer.expect(lambda s, sp=sp: s.dport == sp and s.flags == "SA")
        lib.check(sa is not None, "no SYN-ACK for a request")
        targets.append(Target("request", sp, PORT, isn + 1, sa.seq + 1))
    # Established: half with a reading application, half not.
    for i in range(8):
        conn, app = raw_connect(next(sport))
        targets.append(Target("established" if i % 2 else "non-reader",
                              conn.sport, PORT, conn.snd_nxt, conn.rcv_nxt))
        if i % 2:
            readers.append(app)
    # Closing: b's FIN first for CLOSE_WAIT and LAST_ACK; a's FIN is
    # acknowledged for FIN_WAIT_2, answered with b's FIN for TIME_WAIT,
    # left unacknowledged for FIN_WAIT_1 and LAST_ACK.
    for kind, n in (("fin_wait_1", 2), ("fin_wait_2", 2), ("close_wait", 2),
                    ("last_ack", 2), ("time_wait", 4)):
        for _ in range(n):
            conn, app = raw_connect(next(sport))
            if kind in ("close_wait", "last_ack"):
                conn.send("FA")
                expect_flags(conn, "A")
            if kind != "close_wait":
                app.close()
                conn.rcv_nxt = expect_flags(conn, "F").seq + 1
            if kind == "fin_wait_2":
                conn.send("A")
            elif kind == "time_wait":
                conn.send("FA")
            targets.append(Target(kind, conn.sport, PORT, conn.snd_nxt,
                                  conn.rcv_nxt))
    targets.append(Target("bound", 20999, BOUND_PORT, rnd.randrange(1 << 32),
                          rnd.randrange(1 << 32)))
    targets.append(Target("listener", 0, PORT, 0, 0))
    return targets


# -- segments -----------------------------------------------------------------

VALID_OPTIONS = [b"", lib.MSS_1460, b"\x01\x01\x08\x0a" + b"\0" * 8,
                 b"\x01\x03\x03\x07", b"\x04\x02", b"\x01\x01\x05\x0a" +
                 b"\0" * 8, lib.MSS_1460 + b"\x04\x02\x08\x0a" + b"\0" * 8 +
                 b"\x01\x03\x03\x0e"]
COMMON_FLAGS = [ACK, ACK | PSH, SYN, RST, RST | ACK, FIN | ACK, SYN | ACK,
                FIN, 0, SYN | FIN, SYN | RST, URG | ACK]


def random_options():
    r = rnd.random()
    if r < 0.4:
        return rnd.choice(VALID_OPTIONS)
    if r < 0.7:
        # One option of a random kind and length, possibly lying.
        n = rnd.randrange(0, 12)
        return bytes([rnd.randrange(256), rnd.randrange(256)]) + \
            bytes(rnd.randrange(256) for _ in range(n))
    return bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 41)))


def near(base, spread):
    return (base + rnd.randrange(-spread, spread + 1)) & 0xffffffff


def random_segment(t):
    """A mutated segment at target t."""
    sport = t.sport or rnd.randrange(1024, 65536)
    seq = near(t.snd, 70000) if rnd.random() < 0.7 else rnd.randrange(1 << 32)
    ack = near(t.rcv, 70000) if rnd.random() < 0.7 else rnd.randrange(1 << 32)
    flags = rnd.choice(COMMON_FLAGS) if rnd.random() < 0.7 else \
        rnd.randrange(256)
    load = b"" if rnd.random() < 0.5 else \
        bytes(rnd.randrange(256) for _ in range(rnd.choice((1, 2, 10, 100))))
    if rnd.random() < 0.05:
        load = b"z" * rnd.randrange(100, 1400)
    kw = dict(window=rnd.randrange(65536),
              urg=rnd.randrange(65536) if rnd.random() < 0.2 else 0,
              options=random_options(), load=load)
    r = rnd.random()
    if r < 0.04:
        kw["csum_bad"] = True
    elif r < 0.07:
        kw["doff"] = rnd.randrange(16)
    elif r < 0.08:
        kw["cut"] = rnd.randrange(0, 40)
    return frame(sport, t.dport, seq, ack, flags, **kw)


def attack_segments(t, n):
    """n segments of one structured attack on target t."""
    kind = rnd.randrange(5)
    out = []
    for i in range(n):
        if kind == 0:       # one-byte holes, descending
            out.append(frame(t.sport, t.dport, t.snd + 2 * (n - i), t.rcv,
                             ACK, load=b"h"))
        elif kind == 1:     # in order, one byte each, to whoever reads
            out.append(frame(t.sport, t.dport, t.snd + i, t.rcv, ACK,
                             load=b"o"))
        elif kind == 2:     # a SYN flood from spoofed ports
            out.append(frame(rnd.randrange(1024, 65536), PORT,
                             rnd.randrange(1 << 32), 0, SYN,
                             options=lib.MSS_1460))
        elif kind == 3:     # RSTs and SYNs, in and out of the window
            off = rnd.choice((1, 100, 30000, 1 << 20, 1 << 31))
            out.append(frame(t.sport, t.dport, t.snd + off, t.rcv,
                             rnd.choice((RST, SYN, RST | ACK))))
        else:               # data injected at blind offsets
            off = rnd.choice((-1, 0, 1, 1000, 65535, 1 << 24))
            out.append(frame(t.sport, t.dport, t.snd + off,
                             near(t.rcv, 1 << 16), ACK | PSH, load=b"inj"))
    return out


# -- the stream beside it -----------------------------------------------------

readers = []
stop = threading.Event()


def drain_readers():
    """The applications that read: take whatever arrives."""
    while not stop.is_set():
        for s in readers:
            try:
                s.recv(65536)
            except OSError:
                pass
        time.sleep(0.05)


def stream_server(srv, result):
    app, _ = srv.accept()
    app.settimeout(lib.scaled(30))
    h, n = hashlib.sha256(), 0
    try:
        while True:
            chunk = app.recv(65536)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
    except OSError as e:
        result["err"] = str(e)
    result.update(len=n, sha=h.hexdigest())
    app.close()


def stream_client(result):
    c = net.b.socket(lib.LINUX)
    c.settimeout(lib.scaled(30))
    c.connect((A, LEGIT_PORT))
    h, n, i = hashlib.sha256(), 0, 0
    try:
        while not stop.is_set() or n < 1 << 20:
            chunk = hashlib.sha256(b"%d" % i).digest() * 512
            c.sendall(chunk)
            h.update(chunk)
            n += len(chunk)
            i += 1
        c.shutdown(socket.SHUT_WR)
        c.recv(1)
    except OSError as e:
        result["err"] = str(e)
    result.update(len=n, sha=h.hexdigest())
    c.close()


def heartbeat(worst):
    last = time.monotonic()
    while not stop.is_set():
        time.sleep(0.05)
        now = time.monotonic()
        worst[0] = max(worst[0], now - last)
        last = now


def sampler(peak):
    while not stop.is_set():
        peak[0] = max(peak[0], lib.slab_kb())
        if lib.IS_ALTTCP:
            peak[1] = max(peak[1], protocol_row()[1])
        time.sleep(0.2)


# -- the run ------------------------------------------------------------------

def set_backlog(value):
    """net.core.netdev_max_backlog (global): veth queues each frame there."""
    path = "/proc/sys/net/core/netdev_max_backlog"
    with open(path) as f:
        old = f.read().strip()
    with open(path, "w") as f:
        f.write(str(value))

    def restore():
        with open(path, "w") as f:
            f.write(old)
    lib.on_exit(restore)


def reset_survivors(targets):
    """Ends what the fuzzer left of the raw connections: an ACK far out of
    the window draws a's ACK, whose number is where an RST must be."""
    time.sleep(0.6)             # past invalid_ratelimit_ms
    peer.drain()
    raw = [t for t in targets if t.kind not in ("request", "listener",
                                                 "bound")]
    for t in raw:
        peer.send(lib.Seg(t.sport, t.dport, t.snd + (1 << 30), t.rcv, "A"))
    end = time.monotonic() + 2
    while time.monotonic() < end:
        seg = peer.expect(lambda s: s.flags == "A" and s.sport == PORT,
                          timeout=0.2)
        if seg:
            peer.send(lib.Seg(seg.dport, PORT, seg.ack, 0, "R"))


def softnet_dropped():
    with open("/proc/net/softnet_stat") as f:
        return sum(int(line.split()[1], 16) for line in f)


def fuzz():
    print("# %d segments, seed %d (FUZZ_SEED to repeat)" % (SEGMENTS, SEED))
    set_backlog(100000)
    knob("msl_ms" if lib.IS_ALTTCP else "fin_timeout", 2000 if lib.IS_ALTTCP
         else 2)
    slab0, socks0, mem0 = lib.slab_kb(), protocol_row()[0], memory_pages()

    global lsk
    lsk = net.a.socket()
    lsk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    lsk.bind((A, PORT))
    lsk.listen(64)
    lsk.settimeout(lib.scaled(10))
    srv = net.a.socket()
    srv.bind((A, LEGIT_PORT))
    srv.listen(4)
    srv.settimeout(lib.scaled(30))
    bound = net.a.socket()
    bound.bind((A, BOUND_PORT))

    targets = setup_targets()
    server_result, client_result, worst, peak = {}, {}, [0.0], [slab0, 0]
    threads = [threading.Thread(target=stream_server,
                                args=(srv, server_result)),
               threading.Thread(target=stream_client, args=(client_result,)),
               threading.Thread(target=drain_readers),
               threading.Thread(target=heartbeat, args=(worst,)),
               threading.Thread(target=sampler, args=(peak,))]
    for t in threads:
        t.daemon = True
        t.start()

    c0, dropped0 = counters(), softnet_dropped()
    predicted = dict.fromkeys(HOOK_REASONS + ("DropNoSocket", "short"), 0)
    sent = linux = 0
    t0 = time.monotonic()
    while sent < SEGMENTS:
        t = rnd.choice(targets)
        if rnd.random() < 0.3 and t.kind not in ("listener", "bound"):
            batch = attack_segments(t, min(rnd.choice((16, 64, 256)),
                                           SEGMENTS - sent))
        else:
            batch = [random_segment(t) for _ in range(min(64, SEGMENTS -
                                                          sent))]
        for data, tcp, csum_bad in batch:
            why = verdict(tcp, csum_bad)
            if tcp[2:4] == struct.pack("!H", BOUND_PORT):
                linux += 1      # no listener: Linux TCP's to answer
            elif why:
                predicted[why] += 1
            peer.sock.send(data)
        sent += len(batch)
        peer.drain()
    elapsed = time.monotonic() - t0
    c1, dropped = counters(), softnet_dropped() - dropped0

    stop.set()
    for t in threads[:2]:
        t.join(lib.scaled(60))
    print("# %d segments in %.1f s: %.0f segments/s; softnet drops %d; "
          "heartbeat's longest gap %.2f s" %
          (sent, elapsed, sent / elapsed, dropped, worst[0]))
    print("# slab %d KiB before, peak %+d KiB; protocol memory peak %d "
          "pages" % (slab0, peak[0] - slab0, peak[1]))
    if lib.IS_ALTTCP:
        delta = {k: c1[k] - c0.get(k, 0) for k in c1}
        drops = {k: v for k, v in delta.items()
                 if k.startswith("Drop") and v}
        print("# InSegs %+d, InErrs %+d; drops by reason: %s" %
              (delta["InSegs"], delta["InErrs"], ", ".join(
                  "%s %d" % kv for kv in sorted(drops.items()))))
        print("# predicted: %s" % ", ".join("%s %d" % kv for kv in
                                            sorted(predicted.items())))
        for why in HOOK_REASONS + ("DropNoSocket",):
            lib.check_eq(delta[why], predicted[why], why)
        lib.check_eq(delta["InErrs"], sum(delta[r] for r in HOOK_REASONS),
                     "InErrs, the sum of the validation drops")
        lib.check_eq(delta["InCsumErrors"], delta["DropBadCsum"],
                     "InCsumErrors")
        lib.check(sum(drops.values()) <= delta["InSegs"],
                  "drops %d over InSegs %d" % (sum(drops.values()),
                                                delta["InSegs"]))
        lib.check(delta["InSegs"] >= sent - linux - predicted["short"] -
                  dropped, "InSegs %d for %d segments, %d Linux TCP's" %
                  (delta["InSegs"], sent, linux))

    lib.check(not server_result.get("err") and not client_result.get("err"),
              "stream: %s %s" % (client_result, server_result))
    lib.check_eq(server_result.get("len"), client_result.get("len"),
                 "stream bytes received")
    lib.check_eq(server_result.get("sha"), client_result.get("sha"),
                 "stream contents")
    lib.check(worst[0] < lib.scaled(2), "heartbeat stalled %.1f s" %
              worst[0])
    if lib.IS_ALTTCP:
        lib.check(peak[0] - slab0 < SLAB_PEAK_KB, "slab grew by %d KiB" %
                  (peak[0] - slab0))

    # Close everything; RSTs end what waits for the peer.
    reset_survivors(targets)
    for s in apps:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, SO_LINGER)
        except OSError:
            pass
        s.close()
    for s in (lsk, srv, bound):
        s.close()
    end = time.monotonic() + lib.scaled(30)
    # Linux's figure leaves out the CPUs' reserves.
    slack = 0 if lib.IS_ALTTCP else 256 * os.cpu_count()
    while time.monotonic() < end:
        socks, mem = protocol_row()[0], memory_pages()
        if socks <= socks0 and mem <= mem0 + slack and \
           not lib.conn_table(net.a, lib.PROTO):
            break
        time.sleep(0.5)
    socks, mem = protocol_row()[0], memory_pages()
    left = lib.conn_table(net.a, lib.PROTO)
    time.sleep(1)
    slab = lib.slab_kb()
    print("# after closing: sockets %d (%d before), memory %d pages (%d), "
          "%d table rows, slab %+d KiB" % (socks, socks0, mem, mem0,
                                           len(left), slab - slab0))
    lib.check_eq(left, [], "connection table after closing")
    lib.check(socks <= socks0, "sockets in use: %d, %d before" % (socks,
                                                                  socks0))
    lib.check(mem <= mem0 + slack, "memory pages: %d, %d before" %
              (mem, mem0))
    lib.check(slab - slab0 < SLAB_SLACK_KB, "slab %+d KiB after closing" %
              (slab - slab0))


lsk = None
lib.run_cases([("fuzz", fuzz)], timeout=int(lib.scaled(240) +
                                            SEGMENTS / 500))
