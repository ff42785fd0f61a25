#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The host's policy applies to the socket under test as to Linux TCP.

Socket filters (SO_ATTACH_FILTER), cgroup BPF programs (ingress, egress,
connect4, bind4) and nftables matches on the owning socket (uid, mark,
priority, TOS) each get a rule that would block, rewrite or count the
traffic; the case checks the rule took effect. Peers are Linux TCP in
namespace b. With ALTTCP_TEST_PROTO=6 the same outcomes hold.

BPF programs are two or three instructions, loaded with the bpf() system
call directly (no compiler or library in the VM).
"""
import ctypes
import errno
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

net = lib.NetPair("policy")
A, B = lib.A_ADDR, lib.B_ADDR

SO_ATTACH_FILTER = 26
SO_DETACH_FILTER = 27
SO_MARK = 36
SO_PRIORITY = 12

# bpf(2)
NR_BPF = 321
BPF_PROG_LOAD, BPF_PROG_ATTACH, BPF_PROG_DETACH = 5, 8, 9
PROG_CGROUP_SKB, PROG_CGROUP_SOCK_ADDR = 8, 18
ATTACH_INGRESS, ATTACH_EGRESS = 0, 1
ATTACH_INET4_BIND, ATTACH_INET4_CONNECT = 8, 10
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def insn(code, dst=0, src=0, off=0, imm=0):
    return struct.pack("<BBhi", code, dst | src << 4, off, imm)


def ret(value):
    return insn(0xb7, imm=value) + insn(0x95)     # r0 = value; exit


def set_user_port(port):
    """*(u32 *)(ctx + offsetof(bpf_sock_addr, user_port)) = htons(port),
    through r2: stores of constants into the context are refused."""
    return (insn(0xb7, dst=2, imm=socket.htons(port)) +
            insn(0x63, dst=1, src=2, off=24))


def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = _libc.syscall(NR_BPF, cmd, buf, 128)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, "bpf(%d): %s" % (cmd, os.strerror(e)))
    return r


def load(prog_type, code, attach_type=0):
    insns = ctypes.create_string_buffer(code, len(code))
    lic = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(4096)
    attr = struct.pack("<IIQQIIQII16sII", prog_type, len(code) // 8,
                       ctypes.addressof(insns), ctypes.addressof(lic),
                       1, len(log), ctypes.addressof(log), 0, 0, b"alttcp",
                       0, attach_type)
    try:
        return bpf(BPF_PROG_LOAD, attr)
    except OSError as e:
        raise OSError(e.errno, "%s: %s" % (e, log.value.decode()))


CGROOT = "/sys/fs/cgroup"


class Cgroup:
    """A cgroup v2 child; sockets made inside `with cg.member()` are its."""

    def __init__(self, name):
        if not os.path.exists(CGROOT + "/cgroup.procs"):
            lib.sh("mount", "-t", "cgroup2", "none", CGROOT)
        self.path = "%s/%s-%d" % (CGROOT, name, os.getpid())
        os.mkdir(self.path)
        lib.on_exit(self.delete)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        self.progs = []

    def member(self):
        cg = self

        class Member:
            def __enter__(self):
                with open(cg.path + "/cgroup.procs", "w") as f:
                    f.write(str(os.getpid()))

            def __exit__(self, *exc):
                with open(CGROOT + "/cgroup.procs", "w") as f:
                    f.write(str(os.getpid()))
        return Member()

    def attach(self, prog_fd, attach_type):
        bpf(BPF_PROG_ATTACH, struct.pack("<IIII", self.fd, prog_fd,
                                         attach_type, 0))
        self.progs.append((prog_fd, attach_type))

    def detach_all(self):
        while self.progs:
            fd, t = self.progs.pop()
            bpf(BPF_PROG_DETACH, struct.pack("<IIII", self.fd, fd, t, 0))
            os.close(fd)

    def delete(self):
        self.detach_all()
        os.close(self.fd)
        os.rmdir(self.path)


def linux_server(port, payload=b""):
    """A Linux TCP server in b: accepts one connection, sends payload
    once it has read a first byte if there is one to send, then returns
    what it read until EOF (in a list, from a thread)."""
    srv = net.b.socket(lib.LINUX)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((B, port))
    srv.listen(8)
    got = []

    def serve():
        srv.settimeout(lib.scaled(10))
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        conn.settimeout(lib.scaled(10))
        data = b""
        if payload:
            try:
                data = conn.recv(1)
            except OSError:
                pass
            conn.sendall(payload)
        try:
            while True:
                d = conn.recv(65536)
                if not d:
                    break
                data += d
        except OSError:
            pass
        got.append(data)
        conn.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, t, got


def connect_fails(s, addr, seconds):
    """connect() does not succeed within seconds; returns how it ended."""
    s.settimeout(seconds)
    try:
        s.connect(addr)
    except socket.timeout:
        return "timeout"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e))
    raise AssertionError("connect to %s:%d succeeded" % addr)


def drop_all_filter():
    """A classic BPF program of one instruction: accept 0 bytes."""
    code = struct.pack("HBBI", 0x06, 0, 0, 0)     # BPF_RET | BPF_K, 0
    buf = ctypes.create_string_buffer(code, len(code))
    return struct.pack("HxxxxxxQ", 1, ctypes.addressof(buf)), buf


def socket_filter_listener():
    """A listener whose filter drops everything never sees a SYN."""
    port = 7301
    before = lib.counters(net.a) if lib.IS_ALTTCP else {}
    srv = net.a.socket()
    srv.bind((A, port))
    srv.listen(8)
    fprog, keep = drop_all_filter()
    srv.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    c = net.b.socket(lib.LINUX)
    how = connect_fails(c, (A, port), 1.5)
    print("# connect with the filter on: %s" % how)
    c.close()
    if lib.IS_ALTTCP:
        after = lib.counters(net.a)
        lib.check(after["DropSocketFilter"] > before["DropSocketFilter"],
                  "DropSocketFilter did not count")
    srv.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
    c = net.b.socket(lib.LINUX)
    c.settimeout(lib.scaled(5))
    c.connect((A, port))
    srv.settimeout(lib.scaled(5))
    conn, _ = srv.accept()
    conn.close()
    c.close()
    srv.close()
    del keep


def socket_filter_connection():
    """Data to a connection whose filter drops everything waits for the
    filter to go, then arrives by retransmission."""
    port = 7302
    srv, t, _ = linux_server(port, payload=b"x")
    c = net.a.socket()
    c.settimeout(lib.scaled(5))
    c.connect((B, port))
    fprog, keep = drop_all_filter()
    c.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)
    c.send(b"g")                # the server answers once it has this
    c.settimeout(1.0)
    try:
        data = c.recv(1)
        raise AssertionError("received %r through the filter" % data)
    except socket.timeout:
        pass
    c.setsockopt(socket.SOL_SOCKET, SO_DETACH_FILTER, 0)
    c.settimeout(lib.scaled(8))
    lib.check_eq(c.recv(1), b"x", "data after the filter went")
    c.close()
    t.join(lib.scaled(10))
    srv.close()
    del keep


def cgroup_skb(attach_type, port):
    """A cgroup BPF program dropping every segment (ingress or egress) of
    the cgroup's sockets: connect fails; without it, it works."""
    cg = Cgroup("alttcp-policy")
    srv, t, _ = linux_server(port)
    try:
        cg.attach(load(PROG_CGROUP_SKB, ret(0)), attach_type)
        with net.a.enter(), cg.member():
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, lib.PROTO)
        how = connect_fails(c, (B, port), 2.0)
        print("# connect with the program on: %s" % how)
        c.close()
        cg.detach_all()
        with net.a.enter(), cg.member():
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, lib.PROTO)
        c.settimeout(lib.scaled(5))
        c.connect((B, port))
        c.close()
        t.join(lib.scaled(10))
    finally:
        srv.close()
        cg.delete()


def cgroup_ingress():
    cgroup_skb(ATTACH_INGRESS, 7303)


def cgroup_egress():
    cgroup_skb(ATTACH_EGRESS, 7304)


def cgroup_connect4():
    """connect4 programs: one refuses (EPERM), one rewrites the port."""
    port = 7305
    cg = Cgroup("alttcp-policy")
    srv, t, got = linux_server(port)
    try:
        cg.attach(load(PROG_CGROUP_SOCK_ADDR, ret(0), ATTACH_INET4_CONNECT),
                  ATTACH_INET4_CONNECT)
        with net.a.enter(), cg.member():
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, lib.PROTO)
        lib.check_eq(connect_fails(c, (B, port), 2.0), "EPERM",
                     "connect under a refusing program")
        c.close()
        cg.detach_all()
        cg.attach(load(PROG_CGROUP_SOCK_ADDR, set_user_port(port) + ret(1),
                       ATTACH_INET4_CONNECT), ATTACH_INET4_CONNECT)
        with net.a.enter(), cg.member():
            c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, lib.PROTO)
        c.settimeout(lib.scaled(5))
        c.connect((B, 9))               # rewritten to port
        lib.check_eq(c.getpeername(), (B, port), "peer after the rewrite")
        c.sendall(b"rewritten")
        c.close()
        t.join(lib.scaled(10))
        lib.check_eq(got, [b"rewritten"], "what the server read")
    finally:
        srv.close()
        cg.delete()


def cgroup_bind4():
    """A bind4 program rewriting the port: getsockname() and the port's
    owner follow it."""
    cg = Cgroup("alttcp-policy")
    try:
        cg.attach(load(PROG_CGROUP_SOCK_ADDR, set_user_port(7307) + ret(1),
                       ATTACH_INET4_BIND), ATTACH_INET4_BIND)
        with net.a.enter(), cg.member():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, lib.PROTO)
        s.bind((A, 7306))
        lib.check_eq(s.getsockname(), (A, 7307), "bound address")
        cg.detach_all()
        s.listen(4)
        c = net.b.socket(lib.LINUX)
        c.settimeout(lib.scaled(5))
        c.connect((A, 7307))
        s.settimeout(lib.scaled(5))
        conn, _ = s.accept()
        conn.close()
        c.close()
        s.close()
    finally:
        cg.delete()


def nft_packets(ns, table):
    out = ns.run("nft", "list", "table", "ip", table)
    return sum(int(line.split("packets ")[1].split()[0])
               for line in out.splitlines() if "packets " in line)


def owner_uid():
    """nft 'meta skuid' counts the segments of a socket made by uid 4242."""
    port = 7308
    srv, t, got = linux_server(port)
    net.a.nft("output", "meta skuid 4242 counter")
    try:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                with net.a.enter():
                    os.setresgid(4242, 4242, 4242)
                    os.setresuid(4242, 4242, 4242)
                    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM,
                                      lib.PROTO)
                    c.settimeout(lib.scaled(5))
                    c.connect((B, port))
                    c.sendall(b"u" * 1000)
                    c.close()
                    code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        lib.check_eq(status, 0, "the uid 4242 client's exit status")
        t.join(lib.scaled(10))
        lib.check_eq(got, [b"u" * 1000], "what the server read")
        n = nft_packets(net.a, "alttcp_test")
        print("# segments matched by uid: %d" % n)
        lib.check(n >= 3, "meta skuid matched %d segments" % n)
    finally:
        net.a.nft_flush()
        srv.close()


def mark_priority_tos():
    """SO_MARK, SO_PRIORITY and IP_TOS on every segment of a connection."""
    port = 7309
    srv, t, got = linux_server(port)
    net.a.nft("output", "tcp dport %d meta mark 0x42 counter\n"
              "  tcp dport %d meta priority 0:5 counter\n"
              "  tcp dport %d ip dscp cs1 counter" % (port, port, port))
    try:
        c = net.a.socket()
        c.setsockopt(socket.SOL_SOCKET, SO_MARK, 0x42)
        # IP_TOS sets the priority too (as Linux): it goes first.
        c.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, 0x20)
        c.setsockopt(socket.SOL_SOCKET, SO_PRIORITY, 5)
        c.settimeout(lib.scaled(5))
        c.connect((B, port))
        c.sendall(b"m" * 1000)
        c.close()
        t.join(lib.scaled(10))
        lib.check_eq(got, [b"m" * 1000], "what the server read")
        out = net.a.run("nft", "list", "table", "ip", "alttcp_test")
        counts = [int(line.split("packets ")[1].split()[0])
                  for line in out.splitlines() if "packets " in line]
        print("# segments with the mark, priority, dscp: %s" % counts)
        lib.check(len(counts) == 3 and min(counts) >= 4,
                  "matched %s segments" % counts)
    finally:
        net.a.nft_flush()
        srv.close()


def qdisc_backlog(ns, dev):
    """Bytes queued in dev's root qdisc now."""
    out = ns.run("tc", "-s", "qdisc", "show", "dev", dev)
    return int(out.split("backlog ")[1].split("b")[0].replace("K", "000"))


def small_queues():
    """A bulk sender on an 8 Mbit/s link keeps a few segments in the qdisc,
    not its whole window (TCP small queues)."""
    port = 7310
    # tbf, not netem: netem orphans what it delays, which hides it from
    # the sender's accounting (Linux TCP's too).
    lib._modprobe("sch_tbf")
    net.a.run("tc", "qdisc", "add", "dev", "veth0", "root", "tbf",
              "rate", "8mbit", "burst", "16kb", "limit", "4mb")
    srv, t, got = linux_server(port)
    try:
        c = net.a.socket()
        c.settimeout(lib.scaled(20))
        c.connect((B, port))
        data = os.urandom(2 << 20)
        sender = threading.Thread(target=lambda: (c.sendall(data),
                                                  c.close()), daemon=True)
        sender.start()
        peak = 0
        while sender.is_alive():
            peak = max(peak, qdisc_backlog(net.a, "veth0"))
            time.sleep(0.05)
        t.join(lib.scaled(20))
        lib.check_eq(len(got[0]) if got else 0, len(data), "bytes received")
        lib.check(got[0] == data, "data differs")
        print("# peak qdisc backlog: %d bytes" % peak)
        lib.check(peak <= 256 << 10, "%d bytes queued below TCP" % peak)
    finally:
        net.a.run("tc", "qdisc", "del", "dev", "veth0", "root", check=False)
        srv.close()


lib.run_cases([
    ("socket_filter_listener", socket_filter_listener),
    ("socket_filter_connection", socket_filter_connection),
    ("cgroup_ingress", cgroup_ingress),
    ("cgroup_egress", cgroup_egress),
    ("cgroup_connect4", cgroup_connect4),
    ("cgroup_bind4", cgroup_bind4),
    ("owner_uid", owner_uid),
    ("mark_priority_tos", mark_priority_tos),
    ("small_queues", small_queues),
], timeout=60)
