#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Which socket a segment is for: address, device, VRF, SO_REUSEPORT.

The socket under test shares ports and addresses with Linux TCP sockets
in the same namespace, as two Linux TCP sockets may; each segment must
reach the socket Linux's own demux would pick. Clients are Linux TCP in
namespace b. With ALTTCP_TEST_PROTO=6 every socket is Linux TCP's and the
same outcomes hold, which checks the test.
"""
import errno
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

net = lib.NetPair("demux")
A1 = lib.A_ADDR
A2 = "10.0.1.11"                # a second address of namespace a
A3 = "10.0.2.1"                 # namespace a on a second link
B3 = "10.0.2.2"
net.a.run("ip", "addr", "add", A2 + "/24", "dev", "veth0")
lib.sh("ip", "link", "add", "veth2", "netns", net.a.name, "type", "veth",
       "peer", "name", "veth3", "netns", net.b.name)
for ns, dev, addr in ((net.a, "veth2", A3), (net.b, "veth3", B3)):
    ns.run("ip", "addr", "add", addr + "/24", "dev", dev)
    ns.run("ip", "link", "set", dev, "up")
SO_BINDTODEVICE = 25
SO_REUSEPORT = 15


def listener(proto, addr, port, reuseport=False, reuseaddr=False,
             device=None):
    s = net.a.socket(proto)
    if reuseport:
        s.setsockopt(socket.SOL_SOCKET, SO_REUSEPORT, 1)
    if reuseaddr:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if device:
        s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, device.encode())
    s.bind((addr, port))
    s.listen(64)
    s.settimeout(lib.scaled(3))
    return s


def connect(addr, port):
    """A Linux TCP client in b; returns it connected, or the errno name."""
    c = net.b.socket(lib.LINUX)
    c.settimeout(lib.scaled(3))
    try:
        c.connect((addr, port))
        return c
    except OSError as e:
        c.close()
        return errno.errorcode.get(e.errno, str(e))


def served_by(srv, addr, port):
    """A connection to addr:port is accepted by srv and carries data."""
    c = connect(addr, port)
    lib.check(not isinstance(c, str), "connect %s:%d: %s" % (addr, port, c))
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        raise AssertionError("%s:%d: the expected listener accepted nothing"
                             % (addr, port))
    c.sendall(b"ping")
    conn.settimeout(lib.scaled(3))
    lib.check_eq(conn.recv(4), b"ping", "data on %s:%d" % (addr, port))
    conn.close()
    c.close()


def each_served(port, pairs):
    """pairs: (proto, bound address, address connected to, reuseport);
    makes the listeners, then checks each serves its connection."""
    socks = [listener(proto, bound, port, reuseport=reuse)
             for proto, bound, _, reuse in pairs]
    try:
        for s, (_, _, addr, _) in zip(socks, pairs):
            served_by(s, addr, port)
    finally:
        for s in socks:
            s.close()


def by_address():
    """Tested on A1:p, Linux on A2:p: each gets its own address's SYNs."""
    each_served(7101, [(lib.LINUX, A2, A2, False),
                       (lib.PROTO, A1, A1, False)])


def specific_beats_wildcard():
    """Tested on *:p and Linux on A2:p share p by SO_REUSEPORT: the more
    specific listener wins, as in Linux's lookup, either way round."""
    each_served(7102, [(lib.PROTO, "0.0.0.0", A1, True),
                       (lib.LINUX, A2, A2, True)])
    each_served(7103, [(lib.LINUX, "0.0.0.0", A1, True),
                       (lib.PROTO, A2, A2, True)])


def listen_conflicts_as_linux():
    """SO_REUSEADDR shares a port between bound sockets, not listeners."""
    port = 7104
    t = listener(lib.PROTO, "0.0.0.0", port, reuseaddr=True)
    s = net.a.socket(lib.LINUX)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        err = 0
        try:
            s.bind((A2, port))
        except OSError as e:
            err = e.errno
        lib.check_eq(errno.errorcode.get(err), "EADDRINUSE",
                     "Linux TCP bind beside a listener")
    finally:
        s.close()
        t.close()
    port = 7105
    socks = [net.a.socket(lib.PROTO) for _ in range(2)]
    try:
        for s in socks:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", port))
        socks[0].listen(4)
        err = 0
        try:
            socks[1].listen(4)
        except OSError as e:
            err = e.errno
        lib.check_eq(errno.errorcode.get(err), "EADDRINUSE",
                     "second listen() on the port")
    finally:
        for s in socks:
            s.close()


def reuseport_group():
    """Two listeners in one SO_REUSEPORT group share the connections."""
    port = 7106
    group = [listener(lib.PROTO, "0.0.0.0", port, reuseport=True)
             for _ in range(2)]
    clients = []
    try:
        for _ in range(32):
            c = connect(A1, port)
            lib.check(not isinstance(c, str), "connect: %s" % c)
            clients.append(c)
        counts = []
        for s in group:
            s.setblocking(False)
            n = 0
            while True:
                try:
                    conn, _ = s.accept()
                except BlockingIOError:
                    break
                conn.close()
                n += 1
            counts.append(n)
        print("# connections per listener: %s" % counts)
        lib.check_eq(sum(counts), 32, "connections accepted")
        lib.check(min(counts) > 0, "one listener got all: %s" % counts)
    finally:
        for s in group + clients:
            s.close()


def bound_device():
    """A listener bound to veth0 gets SYNs from veth0 only."""
    port = 7107
    t = listener(lib.PROTO, "0.0.0.0", port, device="veth0")
    try:
        served_by(t, A1, port)
        lib.check_eq(connect(A3, port), "ECONNREFUSED",
                     "connect through veth2")
    finally:
        t.close()


def vrf():
    """A VRF: only a listener bound to it (or tcp_l3mdev_accept) serves
    the enslaved link."""
    lib._modprobe("vrf")
    port = 7108
    try:
        net.a.run("ip", "link", "add", "red", "type", "vrf", "table", "10")
    except RuntimeError as e:
        if "Unknown device type" in str(e):
            raise lib.Skip("no VRF in this kernel (CONFIG_NET_VRF)")
        raise
    net.a.run("ip", "link", "set", "red", "up")
    net.a.run("ip", "link", "set", "veth2", "master", "red")
    try:
        t = listener(lib.PROTO, "0.0.0.0", port)
        try:
            lib.check_eq(connect(A3, port), "ECONNREFUSED",
                         "unbound listener through the VRF")
            served_by(t, A1, port)
        finally:
            t.close()
        t = listener(lib.PROTO, "0.0.0.0", port, device="red")
        try:
            served_by(t, A3, port)
            lib.check_eq(connect(A1, port), "ECONNREFUSED",
                         "VRF listener from outside the VRF")
        finally:
            t.close()
    finally:
        net.a.run("ip", "link", "set", "veth2", "nomaster", check=False)
        net.a.run("ip", "link", "del", "red", check=False)


lib.run_cases([
    ("by_address", by_address),
    ("specific_beats_wildcard", specific_beats_wildcard),
    ("listen_conflicts_as_linux", listen_conflicts_as_linux),
    ("reuseport_group", reuseport_group),
    ("bound_device", bound_device),
    ("vrf", vrf),
], timeout=60)
