#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""TCP_USER_TIMEOUT (RFC 5482), as Linux TCP implements it.

The tested socket in namespace a talks to Linux TCP in b. The option
bounds how long data may stay unacknowledged (retransmission), wait for
a closed window (zero-window probing, however alive the peer is) or how
long keepalive probes may go unanswered; then the connection fails with
ETIMEDOUT. Without it each of these lasts minutes or forever.
"""
import errno
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

TCP_USER_TIMEOUT = getattr(socket, "TCP_USER_TIMEOUT", 18)
A, B = lib.A_ADDR, lib.B_ADDR
net = lib.NetPair("ut")
port = [9300]


def pair(setup=None, server_setup=None):
    """(tested socket in a, Linux TCP socket in b), connected."""
    port[0] += 1
    srv = net.b.socket(lib.LINUX)
    if server_setup:
        server_setup(srv)
    srv.bind((B, port[0]))
    srv.listen(1)
    c = net.a.socket()
    if setup:
        setup(c)
    c.settimeout(lib.scaled(10))
    c.connect((B, port[0]))
    p, _ = srv.accept()
    srv.close()
    lib.on_exit(c.close)
    lib.on_exit(p.close)
    return c, p


def silence(c):
    """b drops everything from c from now on."""
    net.b.nft("input", "ip saddr %s tcp sport %d drop" %
              (A, c.getsockname()[1]), table="ut%d" % port[0])


def fails_after(c, lo, hi):
    """recv() on c fails with ETIMEDOUT between lo and hi seconds
    (hi widened by ALTTCP_TIME_SCALE)."""
    t0 = time.monotonic()
    c.settimeout(lib.scaled(hi) + 5)
    try:
        got = c.recv(100)
        raise AssertionError("recv returned %r" % got)
    except OSError as e:
        # ETIMEDOUT is a TimeoutError as socket.timeout is, without errno.
        lib.check(e.errno is not None,
                  "no error within %.1f s" % (lib.scaled(hi) + 5))
        took = time.monotonic() - t0
        print("# %s after %.2f s" % (errno.errorcode.get(e.errno), took))
        lib.check_eq(errno.errorcode.get(e.errno, e.errno), "ETIMEDOUT",
                     "recv errno")
    lib.check(lo <= took <= lib.scaled(hi),
              "failed after %.2f s, want %.1f-%.1f s" % (took, lo, hi))


def sockopt():
    s = net.a.socket()
    lib.on_exit(s.close)
    lib.check_eq(s.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT), 0,
                 "default")
    s.setsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT, 1234)
    lib.check_eq(s.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT), 1234,
                 "after setting 1234")
    try:
        s.setsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT, -1)
        raise AssertionError("-1 accepted")
    except OSError as e:
        lib.check_eq(errno.errorcode.get(e.errno), "EINVAL", "errno for -1")
    s.setsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT, 0)
    lib.check_eq(s.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT), 0,
                 "after setting 0")
    # An accepted socket inherits the listener's.
    port[0] += 1
    lsk = net.a.socket()
    lib.on_exit(lsk.close)
    lsk.setsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT, 4321)
    lsk.bind((A, port[0]))
    lsk.listen(1)
    c = net.b.socket(lib.LINUX)
    lib.on_exit(c.close)
    c.connect((A, port[0]))
    child, _ = lsk.accept()
    lib.on_exit(child.close)
    lib.check_eq(child.getsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT),
                 4321, "accepted socket's")


def retransmission():
    """Unacknowledged data: ETIMEDOUT at the timeout, not after the 15
    retries' many minutes."""
    c, _ = pair(lambda s: s.setsockopt(socket.IPPROTO_TCP,
                                       TCP_USER_TIMEOUT, 1500))
    silence(c)
    c.send(b"x" * 100)
    fails_after(c, 1.3, 3.5)


def zero_window():
    """A peer that answers every probe but never reads: the data waits at
    most the timeout for the window to open."""
    def small_rcvbuf(s):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    def setup(s):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        s.setsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT, 2000)
    c, _ = pair(setup, small_rcvbuf)
    c.setblocking(False)
    sent = 0
    end = time.monotonic() + lib.scaled(10)
    while time.monotonic() < end:
        try:
            sent += c.send(b"z" * 4096)
        except BlockingIOError:
            time.sleep(0.05)
            try:
                sent += c.send(b"z" * 4096)
            except BlockingIOError:
                break
    lib.check(time.monotonic() < end, "the send buffer never filled")
    print("# %d bytes sent before the window closed" % sent)
    c.setblocking(True)
    fails_after(c, 1.5, 6.0)


def keepalive():
    """Unanswered keepalive probes: the timeout decides, not the count."""
    def setup(s):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 50)
        s.setsockopt(socket.IPPROTO_TCP, TCP_USER_TIMEOUT, 2500)
    c, _ = pair(setup)
    silence(c)
    # Idle time counts from the handshake, a little before this.
    fails_after(c, 1.5, 5.0)


lib.run_cases([
    ("sockopt", sockopt),
    ("retransmission", retransmission),
    ("zero_window", zero_window),
    ("keepalive", keepalive),
], timeout=60)
