# SPDX-License-Identifier: GPL-2.0
"""Helpers for alttcp's python selftests.

Network namespaces joined by a veth pair, sockets made inside a namespace,
the connection-state reader (alttcp's /proc/net/alttcp or, when the tests
run against Linux TCP, /proc/net/tcp mapped to the same names), counters
and TAP output.

The protocol under test comes from ALTTCP_TEST_PROTO: 258 (alttcp, the
default) or 6 (Linux TCP, to prove a test right against the reference).
"""
import atexit
import contextlib
import ctypes
import hashlib
import itertools
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback

IPPROTO_ALTTCP = 258
PROTO = int(os.environ.get("ALTTCP_TEST_PROTO", str(IPPROTO_ALTTCP)))
LINUX = 0                       # the reference peer: socket(..., 0)
IS_ALTTCP = PROTO == IPPROTO_ALTTCP

# `make check-debug` runs the suite on a debug kernel whose data path is
# many times slower; limits that wait for work to be done (a transfer, a
# case, a whole program) widen by this factor. Checks of when a timer
# fires do not: timers run on the clock, not on the CPU.
TIME_SCALE = float(os.environ.get("ALTTCP_TIME_SCALE", "1"))


def scaled(seconds):
    """A time limit for work, widened on a slower kernel."""
    return seconds * TIME_SCALE


A_ADDR = "10.0.1.1"
B_ADDR = "10.0.1.2"

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

KSFT_SKIP = 4


class Skip(Exception):
    """Raised by a case that does not apply to the protocol under test,
    or that needs what this kernel lacks."""


def sh(*cmd, check=True, input=None):
    """Runs a command; returns its stdout. Raises with stderr on failure."""
    r = subprocess.run(cmd, capture_output=True, text=True, input=input)
    if check and r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), r.returncode,
                                                r.stderr.strip()))
    return r.stdout


_loaded = set()


def _modprobe(mod):
    if mod not in _loaded:
        sh("modprobe", mod, check=False)
        _loaded.add(mod)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


class Netns:
    """A named network namespace (ip netns) with lo up.

    Sockets keep the namespace they were created in, so one process can
    hold sockets in several namespaces: make them inside `with ns.enter()`.
    """

    def __init__(self, name):
        self.name = name
        self.tables = set()
        sh("ip", "netns", "add", name)
        self.run("ip", "link", "set", "lo", "up")

    @contextlib.contextmanager
    def enter(self):
        """Moves the calling thread into the namespace for the block."""
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open("/run/netns/" + self.name, os.O_RDONLY)
        try:
            _setns(target)
            yield self
        finally:
            _setns(home)
            os.close(home)
            os.close(target)

    def run(self, *cmd, check=True, input=None):
        return sh("ip", "netns", "exec", self.name, *cmd, check=check,
                  input=input)

    def nft(self, hook, rule, table="alttcp_test"):
        """Adds an nftables rule on hook (input/output) of this namespace."""
        _modprobe("nf_tables")  # not autoloaded in the VM
        self.tables.add(table)
        script = ("table ip %s {\n chain %s {\n"
                  "  type filter hook %s priority 0; policy accept;\n"
                  "  %s\n }\n}\n" % (table, hook, hook, rule))
        self.run("nft", "-f", "-", input=script)

    def nft_flush(self, table="alttcp_test"):
        """Removes the rules nft() added to table."""
        if table in self.tables:
            self.tables.discard(table)
            self.run("nft", "delete", "table", "ip", table, check=False)

    def mac(self, dev):
        out = self.run("ip", "-o", "link", "show", dev)
        return out.split("link/ether ")[1].split()[0]

    def socket(self, proto=None, family=socket.AF_INET,
               type=socket.SOCK_STREAM):
        """A socket in this namespace; proto defaults to the one under test."""
        with self.enter():
            return socket.socket(family, type, PROTO if proto is None else proto)

    def read(self, path):
        """Reads a /proc/net file as seen from this namespace."""
        with self.enter():
            with open("/proc/thread-self/net/" + path) as f:
                return f.read()

    def delete(self):
        sh("ip", "netns", "del", self.name, check=False)


class NetPair:
    """Namespaces a (10.0.1.1/24, dev veth0) and b (10.0.1.2/24, dev veth1)
    joined by veth. Names carry the test tag and pid so tests never clash.
    """

    # next() on a count is atomic: tests make pairs from several threads.
    _ids = itertools.count(1)

    def __init__(self, tag):
        base = "alttcp-%s-%d-%d" % (tag, os.getpid(), next(NetPair._ids))
        self.a = self.b = None
        on_exit(self.delete)
        _modprobe("veth")   # ip does not always autoload it
        self.a = Netns(base + "-a")
        self.b = Netns(base + "-b")
        sh("ip", "link", "add", "veth0", "netns", self.a.name, "type", "veth",
           "peer", "name", "veth1", "netns", self.b.name)
        for ns, dev, addr in ((self.a, "veth0", A_ADDR),
                              (self.b, "veth1", B_ADDR)):
            ns.run("ip", "addr", "add", addr + "/24", "dev", dev)
            ns.run("ip", "link", "set", dev, "up")

    def delete(self):
        for ns in (self.a, self.b):
            if ns:
                ns.delete()
        self.a = self.b = None


_cleanups = []


def on_exit(fn):
    """Runs fn when the test ends, however it ends."""
    _cleanups.append(fn)


def _cleanup():
    while _cleanups:
        try:
            _cleanups.pop()()
        except Exception:       # best effort on the way out
            pass


def _on_term(signum, frame):
    _cleanup()
    sys.exit(128 + signum)


atexit.register(_cleanup)
signal.signal(signal.SIGTERM, _on_term)


# -- a hand-driven peer ------------------------------------------------------
#
# Segments are built and parsed here rather than with scapy: importing
# scapy reads hundreds of files, which takes about a minute over the VM's
# 9p root.

ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
FLAG_BITS = "FSRPAUEC"          # bit 0 first, as tcpdump and scapy name them


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return ~total & 0xffff


class Seg:
    """One IPv4 TCP segment, to build or as parsed.

    flags is a string of FLAG_BITS letters ("SA" is a SYN-ACK); options
    are raw bytes, not padded, so malformed ones can be sent; doff and
    csum override the computed header length and checksum.
    """

    def __init__(self, sport, dport, seq=0, ack=0, flags="", window=65535,
                 options=b"", load=b"", src=None, dst=None, doff=None,
                 csum=None):
        self.sport, self.dport, self.seq, self.ack = sport, dport, seq, ack
        self.flags, self.window, self.options = flags, window, options
        self.load, self.doff, self.csum = load, doff, csum
        self.src, self.dst = src or B_ADDR, dst or A_ADDR

    def flag_bits(self):
        return sum(1 << FLAG_BITS.index(f) for f in self.flags)

    def build(self):
        doff = self.doff if self.doff is not None else \
            5 + (len(self.options) + 3) // 4
        tcp = struct.pack("!HHIIBBHHH", self.sport, self.dport,
                          self.seq & 0xffffffff, self.ack & 0xffffffff,
                          doff << 4, self.flag_bits(), self.window, 0, 0)
        tcp += self.options + self.load
        src, dst = socket.inet_aton(self.src), socket.inet_aton(self.dst)
        csum = _csum(src + dst + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)
        if self.csum is not None:
            csum = self.csum(csum) if callable(self.csum) else self.csum
        tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000,
                         64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
        return ip + tcp

    @classmethod
    def parse(cls, ip):
        """The TCP segment in an IPv4 packet, or None."""
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 6:
            return None
        ihl = (ip[0] & 15) * 4
        total = struct.unpack("!H", ip[2:4])[0]
        tcp = ip[ihl:total]
        if len(tcp) < 20:
            return None
        sport, dport, seq, ack, off, bits, win = \
            struct.unpack("!HHIIBBH", tcp[:16])
        hlen = (off >> 4) * 4
        flags = "".join(f for i, f in enumerate(FLAG_BITS) if bits & (1 << i))
        return cls(sport, dport, seq, ack, flags, win, tcp[20:hlen],
                   tcp[hlen:], socket.inet_ntoa(ip[12:16]),
                   socket.inet_ntoa(ip[16:20]), off >> 4)

    def __repr__(self):
        return "<%s:%d > %s:%d %s seq %d ack %d win %d len %d>" % (
            self.src, self.sport, self.dst, self.dport, self.flags or ".",
            self.seq, self.ack, self.window, len(self.load))


MSS_1460 = b"\x02\x04\x05\xb4"


class RawPeer:
    """A TCP peer driven by hand in namespace b of a NetPair.

    Segments go out through a packet socket on veth1 (below netfilter, so
    the rule below does not touch them) and everything arriving on veth1
    is read back. b's own TCP would answer the crafted connections with
    RSTs: an output rule drops those.
    """

    def __init__(self, net):
        self.src_mac = bytes.fromhex(net.b.mac("veth1").replace(":", ""))
        self.dst_mac = bytes.fromhex(net.a.mac("veth0").replace(":", ""))
        net.b.nft("output", "tcp flags & rst == rst drop", table="alttcp_peer")
        with net.b.enter():
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                      socket.htons(ETH_P_IP))
        self.sock.bind(("veth1", ETH_P_IP))
        on_exit(self.sock.close)

    def send(self, seg):
        # Waits for room: expect() and drain() leave the socket with a
        # timeout or non-blocking, and a flood can fill its buffer.
        self.sock.settimeout(10)
        self.sock.send(self.dst_mac + self.src_mac +
                       struct.pack("!H", ETH_P_IP) + seg.build())

    def expect(self, match, timeout=3.0):
        """Next segment from a for which match(seg) is true, or None."""
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data, addr = self.sock.recvfrom(70000)
            except socket.timeout:
                return None
            if addr[2] == PACKET_OUTGOING:
                continue
            seg = Seg.parse(data[14:])
            if seg and seg.src == A_ADDR and match(seg):
                return seg

    def drain(self):
        self.sock.setblocking(False)
        try:
            while True:
                self.sock.recv(70000)
        except BlockingIOError:
            pass

    def connect(self, sport, dport, isn=1000):
        """Active open from b to a listener in a; returns a RawConn."""
        self.send(Seg(sport, dport, isn, 0, "S", options=MSS_1460))
        sa = self.expect(lambda s: s.sport == dport and s.dport == sport and
                         s.flags == "SA")
        check(sa is not None, "no SYN-ACK from a")
        check_eq(sa.ack, isn + 1, "SYN-ACK ack")
        conn = RawConn(self, sport, dport, isn + 1, sa.seq + 1)
        conn.send("A")
        return conn


class RawConn:
    """Sequence state of one hand-driven connection: snd_nxt is b's next
    sequence number, rcv_nxt the next one b expects from a."""

    def __init__(self, peer, sport, dport, snd_nxt, rcv_nxt):
        self.peer, self.sport, self.dport = peer, sport, dport
        self.snd_nxt, self.rcv_nxt = snd_nxt, rcv_nxt

    def seg(self, flags, load=b"", **kw):
        kw.setdefault("seq", self.snd_nxt)
        kw.setdefault("ack", self.rcv_nxt)
        return Seg(self.sport, self.dport, flags=flags, load=load, **kw)

    def send(self, flags, load=b"", **kw):
        """Sends a segment; advances snd_nxt unless seq was given."""
        self.peer.send(self.seg(flags, load, **kw))
        if "seq" not in kw:
            self.snd_nxt += len(load) + ("S" in flags) + ("F" in flags)

    def expect(self, match=lambda s: True, timeout=3.0):
        """Next segment of this connection from a matching match(seg)."""
        return self.peer.expect(lambda s: s.sport == self.dport and
                                s.dport == self.sport and match(s), timeout)


def exchange(sock, data, out, deadline):
    """Sends data then SHUT_WR while a second thread reads to EOF; fills
    out with len, sha (hex sha256 of what was read), recv_err, eof and,
    on a failed send, send_err. Waits for the reader until deadline
    (time.monotonic())."""
    got = {"len": 0, "sha": hashlib.sha256(), "err": None, "eof": False}

    def reader():
        try:
            while True:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    got["eof"] = True
                    break
                got["len"] += len(chunk)
                got["sha"].update(chunk)
        except OSError as e:
            got["err"] = "recv: %s" % e

    # Daemon threads: a stalled transfer must not keep the test alive.
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
    except OSError as e:
        out["send_err"] = "send: %s" % e
    t.join(max(0, deadline - time.monotonic()))
    out.update(len=got["len"], sha=got["sha"].hexdigest(),
               recv_err=got["err"], eof=got["eof"])


# -- connection state -------------------------------------------------------

LINUX_STATES = {
    0x01: "ESTABLISHED", 0x02: "SYN_SENT", 0x03: "SYN_RECEIVED",
    0x04: "FIN_WAIT_1", 0x05: "FIN_WAIT_2", 0x06: "TIME_WAIT",
    0x07: "CLOSED", 0x08: "CLOSE_WAIT", 0x09: "LAST_ACK", 0x0A: "LISTEN",
    0x0B: "CLOSING", 0x0C: "SYN_RECEIVED",  # NEW_SYN_RECV: a request sock
}


def _linux_addr(hexaddr):
    ip, port = hexaddr.split(":")
    raw = int(ip, 16).to_bytes(4, sys.byteorder)
    return "%s:%d" % (socket.inet_ntoa(raw), int(port, 16))


def conn_table(ns, proto):
    """Rows of the connection table as dicts with at least local, remote
    and state (alttcp's names), for alttcp or Linux TCP."""
    rows = []
    if proto == IPPROTO_ALTTCP:
        lines = ns.read("alttcp").splitlines()
        names = lines[0].split()
        for line in lines[1:]:
            row = dict(zip(names, line.split()))
            row["local"] = row["local_address"]
            row["remote"] = row["remote_address"]
            rows.append(row)
    else:
        for line in ns.read("tcp").splitlines()[1:]:
            f = line.split()
            rows.append({"local": _linux_addr(f[1]),
                         "remote": _linux_addr(f[2]),
                         "state": LINUX_STATES.get(int(f[3], 16), f[3])})
    return rows


def state_of(ns, local=None, remote=None, proto=None):
    """State of the one row matching local and/or remote, or None."""
    for row in conn_table(ns, PROTO if proto is None else proto):
        if local and row["local"] != local:
            continue
        if remote and row["remote"] != remote:
            continue
        return row["state"]
    return None


def wait_state(ns, want, local=None, remote=None, timeout=5.0):
    """Waits until the matching row is in state want; returns the last
    state seen (so a failing assert can show it)."""
    end = time.monotonic() + timeout
    while True:
        st = state_of(ns, local, remote)
        if st == want or time.monotonic() > end:
            return st
        time.sleep(0.02)


def slab_kb():
    """The kernel's slab memory, KiB (/proc/meminfo)."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                return int(line.split()[1])
    raise AssertionError("no Slab line in /proc/meminfo")


def protocol_row(ns):
    """(sockets, memory pages, under pressure) of the protocol under test
    in ns, from /proc/net/protocols. The pages leave out what each CPU
    holds back (up to 256 each)."""
    name = "ALTTCP" if IS_ALTTCP else "TCP"
    for line in ns.read("protocols").splitlines():
        f = line.split()
        if f and f[0] == name:
            return int(f[2]), int(f[3]), f[4] == "yes"
    raise AssertionError("no %s line in /proc/net/protocols" % name)


def counters(ns):
    """alttcp's /proc/net/alttcp_stats as a dict (proto 258), or the
    Tcp: line of /proc/net/snmp (Linux TCP)."""
    if IS_ALTTCP:
        text, prefix = ns.read("alttcp_stats"), "AltTcp:"
    else:
        text, prefix = ns.read("snmp"), "Tcp:"
    pairs = [ln.split()[1:] for ln in text.splitlines()
             if ln.startswith(prefix)]
    return {k: int(v) for k, v in zip(pairs[0], pairs[1])}


# -- checks and TAP -----------------------------------------------------------

def skip_all(why):
    """Skips the whole program (TAP plan 1..0) and exits."""
    print("TAP version 13")
    print("1..0 # SKIP " + why)
    sys.exit(KSFT_SKIP)


def source_tree(marker):
    """$ALTTCP_ROOT (the VM sets it), else the first directory above the
    test programs holding marker (a path inside the source tree)."""
    root = os.environ.get("ALTTCP_ROOT")
    if root:
        return root
    d = os.path.dirname(os.path.abspath(__file__))
    while d != "/" and not os.path.exists(os.path.join(d, marker)):
        d = os.path.dirname(d)
    return d


def check(cond, why):
    if not cond:
        raise AssertionError(why)


def check_eq(got, want, what):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


class _CaseTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise _CaseTimeout("case timed out")


def run_cases(cases, timeout=60):
    """Runs [(name, fn), ...], printing one TAP line each; exits 1 when a
    case failed, 4 (kselftest skip) when all were skipped, 0 otherwise."""
    only = os.environ.get("ALTTCP_TEST_ONLY")  # debugging: a subset
    if only:
        cases = [c for c in cases if only in c[0]]
    print("TAP version 13")
    print("1..%d" % len(cases), flush=True)
    failed = skipped = 0
    signal.signal(signal.SIGALRM, _alarm)
    for n, (name, fn) in enumerate(cases, 1):
        signal.alarm(int(scaled(timeout)))
        t0 = time.monotonic()
        try:
            fn()
            print("# %s took %.1f s" % (name, time.monotonic() - t0))
            print("ok %d %s" % (n, name))
        except Skip as e:
            skipped += 1
            print("ok %d %s # SKIP %s" % (n, name, e))
        except Exception as e:   # every failure is reported, then the rest run
            failed += 1
            for line in traceback.format_exc().splitlines()[-6:]:
                print("# " + line)
            print("# %s: %s" % (name, e))
            print("not ok %d %s" % (n, name))
        finally:
            signal.alarm(0)
        sys.stdout.flush()
    _cleanup()
    if failed:
        print("# %d of %d failed" % (failed, len(cases)))
        sys.exit(1)
    sys.exit(KSFT_SKIP if skipped == len(cases) else 0)
