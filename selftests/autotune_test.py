#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Buffer autotuning, as Linux TCP's.

- A new socket's buffers are the namespace's tcp_wmem[1] and tcp_rmem[1].
- A transfer over a path with a round trip of 4 ms grows the sender's
  send buffer and the receiver's receive buffer to four times or more
  what they were once connected, and no further than tcp_wmem[2] and
  tcp_rmem[2].
- SO_SNDBUF and SO_RCVBUF lock a buffer: after the same transfer it is
  what was set (doubled, as Linux reports it).
"""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

PORT = 8800
SIZE = 8 << 20


def sysctl3(ns, name):
    with ns.enter():
        with open("/proc/sys/net/ipv4/" + name) as f:
            return [int(x) for x in f.read().split()]


class Path:
    """a and b with 2 ms of delay each way, made once."""
    net = None

    @classmethod
    def get(cls):
        if not cls.net:
            cls.net = lib.NetPair("at")
            for ns, dev in ((cls.net.a, "veth0"), (cls.net.b, "veth1")):
                ns.run("tc", "qdisc", "add", "dev", dev, "root", "netem",
                       "delay", "2ms", "limit", "100000")
        return cls.net


def transfer(port, sndbuf=None, rcvbuf=None):
    """SIZE bytes from a client in a to a server in b, both the protocol
    under test; returns ((client's SO_SNDBUF, server's SO_RCVBUF) once
    connected, the same after the transfer, before either closes)."""
    net = Path.get()
    lsk = net.b.socket()
    if rcvbuf:
        lsk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    lsk.bind((lib.B_ADDR, port))
    lsk.listen(1)
    lsk.settimeout(lib.scaled(10))
    lib.on_exit(lsk.close)
    result = {}

    def serve():
        srv, _ = lsk.accept()
        result["rcvbuf0"] = srv.getsockopt(socket.SOL_SOCKET,
                                           socket.SO_RCVBUF)
        srv.settimeout(lib.scaled(60))
        n = 0
        while n < SIZE:
            b = srv.recv(1 << 16)
            if not b:
                break
            n += len(b)
        result["rcvbuf"] = srv.getsockopt(socket.SOL_SOCKET,
                                          socket.SO_RCVBUF)
        result["got"] = n
        srv.sendall(b"k")
        srv.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    cli = net.a.socket()
    if sndbuf:
        cli.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    cli.settimeout(lib.scaled(60))
    cli.connect((lib.B_ADDR, port))
    snd0 = cli.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    cli.sendall(b"t" * SIZE)
    lib.check_eq(cli.recv(1), b"k", "the server's answer")
    snd = cli.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    cli.close()
    t.join(lib.scaled(10))
    lib.check_eq(result.get("got"), SIZE, "bytes the server read")
    return (snd0, result["rcvbuf0"]), (snd, result["rcvbuf"])


def case_buffers_start_from_sysctls():
    net = Path.get()
    s = net.a.socket()
    wmem, rmem = sysctl3(net.a, "tcp_wmem"), sysctl3(net.a, "tcp_rmem")
    got = (s.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF),
           s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF))
    s.close()
    lib.check_eq(got, (wmem[1], rmem[1]),
                 "new socket's (SO_SNDBUF, SO_RCVBUF)")


def case_buffers_grow_with_the_transfer():
    net = Path.get()
    wmem, rmem = sysctl3(net.a, "tcp_wmem"), sysctl3(net.b, "tcp_rmem")
    (snd0, rcv0), (snd, rcv) = transfer(PORT)
    print("# after %d MiB: client's SO_SNDBUF %d (connected: %d), server's "
          "SO_RCVBUF %d (connected: %d)" % (SIZE >> 20, snd, snd0, rcv, rcv0))
    lib.check(snd >= 4 * snd0, "the send buffer did not grow: %d from %d" %
              (snd, snd0))
    lib.check(rcv >= 4 * rcv0, "the receive buffer did not grow: %d from %d"
              % (rcv, rcv0))
    lib.check(snd <= wmem[2] and rcv <= rmem[2],
              "a buffer past its maximum: %d, %d" % (snd, rcv))


def case_set_buffers_stay():
    _, (snd, rcv) = transfer(PORT + 1, sndbuf=32768, rcvbuf=65536)
    print("# set 32768 and 65536: client's SO_SNDBUF %d, server's "
          "SO_RCVBUF %d" % (snd, rcv))
    lib.check_eq((snd, rcv), (65536, 131072),
                 "(SO_SNDBUF, SO_RCVBUF) after the transfer")


lib.run_cases([
    ("buffers_start_from_sysctls", case_buffers_start_from_sysctls),
    ("buffers_grow_with_the_transfer", case_buffers_grow_with_the_transfer),
    ("set_buffers_stay", case_set_buffers_stay),
], timeout=120)
