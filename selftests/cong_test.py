#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Congestion control: choosing it, and how far cwnd falls on a loss.

- The algorithm is "cubic" unless the namespace's default says
  otherwise (net.alttcp.congestion_control; Linux TCP's is
  net.ipv4.tcp_congestion_control); TCP_CONGESTION sets "reno" or
  "cubic" and reads back the name, zero-padded to 16 bytes; another name
  is ENOENT, an empty one EINVAL; an accepted connection keeps its
  listener's choice; TCP_CC_INFO has nothing to say for either (length
  0), as Linux.
- One loss in slow start: the tested socket in a sends to Linux TCP in b
  over a 10 ms link that drops one data segment in 300. At the first
  fast recovery, ssthresh is what was cwnd times 0.7 with CUBIC (RFC
  9438 4.6) and times 0.5 with Reno (RFC 5681 (4)).
- One loss on a 100 ms path: from the end of that recovery cwnd follows
  RFC 9438's cubic curve (4.2) and its Reno-friendly bound (4.3).
- After a bulk transfer, TCP_INFO's delivery rate, delivered segments
  and minimum RTT agree with what the path carried; on a path of round
  trips under 1 ms with losses, the minimum RTT stays one the path had
  when retransmissions are timed only by the echoed timestamp.
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

TCP_CONGESTION = getattr(socket, "TCP_CONGESTION", 13)
TCP_CC_INFO = 26
TCP_CA_RECOVERY = 3
A, B = lib.A_ADDR, lib.B_ADDR
net = lib.NetPair("cc")
port = [9700]
SYSCTL = ("/proc/sys/net/alttcp/congestion_control" if lib.IS_ALTTCP else
          "/proc/sys/net/ipv4/tcp_congestion_control")


def ca_name(sock):
    raw = sock.getsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, 16)
    lib.check_eq(len(raw), 16, "TCP_CONGESTION's length")
    lib.check(raw.rstrip(b"\0").find(b"\0") < 0, "padding in %r" % raw)
    return raw.rstrip(b"\0").decode()


def set_default(ns, name):
    ns.run("sh", "-c", "echo %s >%s" % (name, SYSCTL))


def errno_of(fn):
    try:
        fn()
    except OSError as e:
        return errno.errorcode[e.errno]
    return "ok"


def case_names():
    s = net.a.socket()
    lib.on_exit(s.close)
    lib.check_eq(ca_name(s), "cubic", "a new socket's algorithm")
    s.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, b"reno")
    lib.check_eq(ca_name(s), "reno", "after setting reno")
    s.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, b"cubic")
    lib.check_eq(ca_name(s), "cubic", "after setting cubic")
    got = errno_of(lambda: s.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION,
                                        b"no-such-cc"))
    lib.check_eq(got, "ENOENT", "an unknown name")
    got = errno_of(lambda: s.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION,
                                        b""))
    lib.check_eq(got, "EINVAL", "an empty name")
    lib.check_eq(ca_name(s), "cubic", "after the refusals")
    for name in (b"cubic", b"reno"):
        s.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, name)
        info = s.getsockopt(socket.IPPROTO_TCP, TCP_CC_INFO, 64)
        lib.check_eq(info, b"", "TCP_CC_INFO with %s" % name.decode())


def case_namespace_default():
    try:
        set_default(net.a, "reno")
        s = net.a.socket()
        lib.on_exit(s.close)
        lib.check_eq(ca_name(s), "reno", "a socket under default reno")
        refused = False
        try:
            net.a.run("sh", "-c", "echo no-such-cc >%s" % SYSCTL)
        except RuntimeError:
            refused = True
        lib.check(refused, "an unknown default was taken")
        got = net.a.run("cat", SYSCTL).strip()
        lib.check_eq(got, "reno", "the default after a refused write")
    finally:
        set_default(net.a, "cubic")
    s = net.a.socket()
    lib.on_exit(s.close)
    lib.check_eq(ca_name(s), "cubic", "a socket under default cubic")


def case_accepted_keeps_listeners():
    """An accepted connection runs its listener's algorithm, whichever
    it is: the namespace default (cubic) or one set on the listener."""
    for name in (None, b"reno", b"cubic"):
        port[0] += 1
        lsk = net.a.socket()
        lib.on_exit(lsk.close)
        if name:
            lsk.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, name)
        lsk.bind((A, port[0]))
        lsk.listen(1)
        lsk.settimeout(lib.scaled(10))
        c = net.b.socket(lib.LINUX)
        lib.on_exit(c.close)
        c.connect((A, port[0]))
        s, _ = lsk.accept()
        lib.on_exit(s.close)
        want = (name or b"cubic").decode()
        lib.check_eq(ca_name(s), want, "accepted from a %s listener" %
                     (name.decode() if name else "default"))


def info(sock):
    """(ca_state, snd_ssthresh, snd_cwnd, delivered) from TCP_INFO."""
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 196)
    return raw[1], struct.unpack_from("I", raw, 76)[0], \
        struct.unpack_from("I", raw, 80)[0], \
        struct.unpack_from("I", raw, 192)[0]


def linux_sink(rcvbuf=None):
    """A Linux TCP listener in b that reads one connection to its end, in
    a thread; returns its port."""
    port[0] += 1
    lsk = net.b.socket(lib.LINUX)
    if rcvbuf:
        lsk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    lsk.bind((B, port[0]))
    lsk.listen(1)
    lsk.settimeout(lib.scaled(20))
    lib.on_exit(lsk.close)

    def sink():
        s, _ = lsk.accept()
        s.settimeout(lib.scaled(60))
        try:
            while s.recv(1 << 16):
                pass
        except OSError:
            pass
        s.close()
    t = threading.Thread(target=sink, daemon=True)
    t.start()
    lib.on_exit(lambda: t.join(lib.scaled(30)))
    return port[0]


def first_reduction(name):
    """ssthresh over the cwnd just before the first fast recovery, as
    (least, most): slow start grows cwnd by at most the segments
    delivered since the last sample, which on a slow kernel may be
    many, so the cwnd at the loss lies between the last sample's and
    that plus those segments."""
    dport = linux_sink(4 << 20)
    c = net.a.socket()
    lib.on_exit(c.close)
    c.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, name.encode())
    c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    c.settimeout(lib.scaled(60))
    c.connect((B, dport))
    samples = []
    done = threading.Event()

    def send():
        try:
            c.sendall(b"c" * (4 << 20))
            c.shutdown(socket.SHUT_WR)
        finally:
            done.set()
    w = threading.Thread(target=send, daemon=True)
    w.start()
    deadline = time.monotonic() + lib.scaled(60)
    while not done.is_set() and time.monotonic() < deadline:
        samples.append(info(c))
        if samples[-1][0] == TCP_CA_RECOVERY:
            break
        time.sleep(0.0005)
    done.wait(lib.scaled(60))
    for i in range(1, len(samples)):
        if samples[i][0] == TCP_CA_RECOVERY:
            before, after = samples[i - 1][2], samples[i][1]
            most = before + samples[i][3] - samples[i - 1][3]
            print("# %s: cwnd %d to %d, then ssthresh %d (%.2f to %.2f)" %
                  (name, before, most, after, after / most, after / before))
            return after / most, after / before
    raise AssertionError("%s: no fast recovery seen in %d samples" %
                         (name, len(samples)))


def lossy_link():
    net.b.run("tc", "qdisc", "replace", "dev", "veth1", "root", "netem",
              "delay", "10ms", "limit", "10000")
    net.a.run("tc", "qdisc", "replace", "dev", "veth0", "root", "netem",
              "delay", "10ms", "limit", "10000")
    net.b.nft_flush()
    net.b.nft("input", "ip saddr %s ip length > 1000 "
              "numgen inc mod 300 == 150 drop" % A)


def case_cubic_backs_off_to_0_7():
    lossy_link()
    least, most = first_reduction("cubic")
    lib.check(least <= 0.8 and most >= 0.6, "CUBIC's reduction %.2f to "
              "%.2f, want 0.7" % (least, most))


def case_reno_halves():
    lossy_link()
    least, most = first_reduction("reno")
    lib.check(least <= 0.6 and most >= 0.4, "Reno's reduction %.2f to "
              "%.2f, want 0.5" % (least, most))


def case_tcp_info_delivery():
    """After 8 MiB to a Linux sink over a 20 ms path, all acknowledged:
    TCP_INFO's tcpi_delivery_rate is a rate the path carried (between a
    quarter of the average and 40 times it: it is measured over the
    last round trips, where cwnd is largest), tcpi_delivered counts the
    segments (within 5 % of 8 MiB / MSS, and under 20 % more), and
    tcpi_min_rtt lies between the path's 20 ms and SRTT."""
    for ns, dev in ((net.a, "veth0"), (net.b, "veth1")):
        ns.run("tc", "qdisc", "replace", "dev", dev, "root", "netem",
               "delay", "10ms", "limit", "10000")
    net.b.nft_flush()
    total = 8 << 20
    dport = linux_sink()
    c = net.a.socket()
    lib.on_exit(c.close)
    c.settimeout(lib.scaled(60))
    c.connect((B, dport))
    t0 = time.monotonic()
    c.sendall(b"d" * total)
    deadline = time.monotonic() + lib.scaled(20)
    while True:
        raw = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
        if struct.unpack_from("I", raw, 24)[0] == 0:   # tcpi_unacked
            break
        lib.check(time.monotonic() < deadline, "data still unacknowledged")
        time.sleep(0.01)
    avg = total / (time.monotonic() - t0)
    lib.check(len(raw) >= 200, "TCP_INFO of %d bytes" % len(raw))
    mss = struct.unpack_from("I", raw, 16)[0]
    srtt = struct.unpack_from("I", raw, 68)[0]
    min_rtt = struct.unpack_from("I", raw, 148)[0]
    rate = struct.unpack_from("Q", raw, 160)[0]
    delivered = struct.unpack_from("I", raw, 192)[0]
    print("# average %.0f B/s, delivery_rate %d B/s, delivered %d "
          "(mss %d), min_rtt %d us, srtt %d us" %
          (avg, rate, delivered, mss, min_rtt, srtt))
    lib.check(avg / 4 <= rate <= 40 * avg,
              "delivery_rate %d B/s beside an average of %.0f" % (rate, avg))
    want = total / mss
    lib.check(0.95 * want <= delivered <= 1.2 * want,
              "delivered %d segments, want about %.0f" % (delivered, want))
    lib.check(20000 <= min_rtt <= srtt,
              "min_rtt %d us, srtt %d us" % (min_rtt, srtt))


def case_min_rtt_under_loss():
    """4 MiB to a Linux sink on the bare veth pair (round trips far below
    1 ms), every 50th large segment dropped: each retransmission that
    fills a hole is acknowledged together with SACKed data, so its round
    trip is known only from the echoed timestamp, in milliseconds. An
    echo within the same millisecond counts as 1 ms, as Linux's
    tcp_rtt_tsopt_us() has it, not 0: tcpi_min_rtt (the base of RACK's
    reordering window) stays a round trip the path had, at least 5 us,
    and at most SRTT."""
    for ns, dev in ((net.a, "veth0"), (net.b, "veth1")):
        ns.run("tc", "qdisc", "replace", "dev", dev, "root", "netem",
               "delay", "0ms", "limit", "10000")
    net.b.nft_flush()
    net.b.nft("input", "ip saddr %s ip length > 1000 "
              "numgen inc mod 50 == 25 drop" % A)
    dport = linux_sink()
    c = net.a.socket()
    lib.on_exit(c.close)
    c.settimeout(lib.scaled(60))
    c.connect((B, dport))
    c.sendall(b"m" * (4 << 20))
    deadline = time.monotonic() + lib.scaled(20)
    while True:
        raw = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
        if struct.unpack_from("I", raw, 24)[0] == 0:   # tcpi_unacked
            break
        lib.check(time.monotonic() < deadline, "data still unacknowledged")
        time.sleep(0.01)
    srtt = struct.unpack_from("I", raw, 68)[0]
    retrans = struct.unpack_from("I", raw, 100)[0]
    min_rtt = struct.unpack_from("I", raw, 148)[0]
    print("# %d segments resent; min_rtt %d us, srtt %d us" %
          (retrans, min_rtt, srtt))
    lib.check(retrans > 0, "nothing resent: the case tests nothing")
    lib.check(5 <= min_rtt <= srtt,
              "min_rtt %d us, srtt %d us" % (min_rtt, srtt))


def case_cubic_curve():
    """After one loss on a 100 ms path, cwnd follows RFC 9438's
    W(t) = C (t - K)^3 + W_max (C = 0.4, K = cbrt(W_max (1 - 0.7) / C)),
    or its Reno-friendly estimate 0.7 W_max + 0.53 t / RTT where that is
    higher, from the end of the fast recovery until K: each sample
    within 8 % (and 3 segments). Growing one segment an RTT (Reno's
    pace) from the same start would be 10 % under the curve at 0.8 s and
    12 % at 1.3 s.
    The buffers autotune from large tcp_wmem / tcp_rmem (SO_SNDBUF and
    SO_RCVBUF stop at wmem_max / rmem_max), so that cwnd, not a window
    or a buffer, limits the sender. Skipped on a slowed (debug) kernel,
    where the CPU does."""
    if lib.TIME_SCALE > 1:
        # Under the debug kernel the sender cannot keep the path full:
        # CPU, not cwnd, limits it, and cwnd rightly stays put then.
        raise lib.Skip("a slowed kernel cannot fill the path")
    for ns, dev in ((net.a, "veth0"), (net.b, "veth1")):
        ns.run("tc", "qdisc", "replace", "dev", dev, "root", "netem",
               "delay", "50ms", "limit", "100000")
    net.a.run("sysctl", "-qw", "net.ipv4.tcp_wmem=4096 8388608 16777216")
    net.b.run("sysctl", "-qw", "net.ipv4.tcp_rmem=4096 8388608 16777216")
    net.b.nft_flush()
    # One data segment lost, in slow start's fourth round: W_max is near
    # 110 segments, so K is near 4.4 s.
    net.b.nft("input", "ip saddr %s ip length > 1000 "
              "numgen inc mod 1000000 == 100 drop" % A)
    dport = linux_sink()
    c = net.a.socket()
    c.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, b"cubic")
    c.settimeout(lib.scaled(60))
    c.connect((B, dport))

    def send():
        try:
            c.sendall(b"w" * (256 << 20))
        except OSError:
            pass
    threading.Thread(target=send, daemon=True).start()
    samples = []    # (time, ca_state, ssthresh, cwnd, delivered)
    wmax = t0 = None
    deadline = time.monotonic() + lib.scaled(60)
    while time.monotonic() < deadline:
        now = time.monotonic()
        samples.append((now,) + info(c))
        if wmax is None and samples[-1][1] == TCP_CA_RECOVERY:
            # cwnd as the loss was found, from the ssthresh it left
            # (the reduction itself is cubic_backs_off_to_0_7's): a
            # sample before it may be a few ms of slow start behind.
            wmax = samples[-1][2] * 1024 / 717
        elif wmax is not None and t0 is None and samples[-1][1] == 0:
            t0 = now
            k = (wmax * 0.3 / 0.4) ** (1 / 3)
            end = t0 + min(k, 6)
        if t0 is not None and now > end:
            break
        time.sleep(0.005)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                 struct.pack("ii", 1, 0))
    c.shutdown(socket.SHUT_RDWR)    # wakes the writer
    c.close()
    lib.check(t0, "no fast recovery ended (W_max %r)" % wmax)
    bad = []
    checked = 0
    shown = -1
    for now, state, _, cwnd, _ in samples:
        t = now - t0
        if t < 0.3 or state != 0:
            continue
        checked += 1
        want = max(0.4 * (t - k) ** 3 + wmax, 0.7 * wmax + 0.53 * t / 0.1)
        if abs(cwnd - want) > max(0.08 * want, 3):
            bad.append("t %.2f s: cwnd %d, want %.0f" % (t, cwnd, want))
        if t >= shown + 0.5:
            shown = t
            print("# t %.1f s: cwnd %d, curve %.0f" % (t, cwnd, want))
    print("# W_max %.0f, K %.2f s, %d samples checked, %d off the curve" %
          (wmax, k, checked, len(bad)))
    for line in bad[:10]:
        print("# " + line)
    lib.check(checked >= 100, "only %d samples" % checked)
    lib.check(len(bad) <= checked // 20, "%d samples off" % len(bad))


lib.run_cases([
    ("names", case_names),
    ("namespace_default", case_namespace_default),
    ("accepted_keeps_listeners", case_accepted_keeps_listeners),
    ("cubic_backs_off_to_0_7", case_cubic_backs_off_to_0_7),
    ("reno_halves", case_reno_halves),
    ("cubic_curve", case_cubic_curve),
    ("tcp_info_delivery", case_tcp_info_delivery),
    ("min_rtt_under_loss", case_min_rtt_under_loss),
], timeout=120)
