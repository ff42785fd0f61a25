#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Port reservation between alttcp and Linux TCP, both ways.

Both stacks receive TCP (IP protocol 6) for the same addresses, so a port
one of them uses must be unavailable to the other: bound, listening,
ephemeral from bind(port 0) and ephemeral from connect() without bind.

Only meaningful for alttcp: with ALTTCP_TEST_PROTO=6 both sides would be
Linux TCP, so the cases skip (ALTTCP_PORTS_SELFCHECK=1 runs them anyway,
Linux against Linux, to check the test itself).
"""
import errno
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

SELFCHECK = os.environ.get("ALTTCP_PORTS_SELFCHECK") == "1"
ns = lib.Netns("alttcp-ports-%d" % os.getpid())
lib.on_exit(ns.delete)
LO = "127.0.0.1"


def applies():
    if not lib.IS_ALTTCP and not SELFCHECK:
        raise lib.Skip("needs alttcp next to Linux TCP (proto %d)" % lib.PROTO)


def bind_errno(proto, addr, port):
    """errno of bind() on a fresh socket of proto (0 on success)."""
    s = ns.socket(proto)
    try:
        s.bind((addr, port))
        return 0
    except OSError as e:
        return e.errno
    finally:
        s.close()


def expect_in_use(proto, port, who):
    for addr in (LO, "0.0.0.0"):
        lib.check_eq(errno.errorcode.get(bind_errno(proto, addr, port)),
                     "EADDRINUSE", "%s bind(%s:%d)" % (who, addr, port))


def holder(proto, port, listen):
    s = ns.socket(proto)
    s.bind((LO, port))
    if listen:
        s.listen(4)
    return s


def tested_blocks_linux(port, listen):
    applies()
    s = holder(lib.PROTO, port, listen)
    try:
        expect_in_use(lib.LINUX, port, "Linux TCP")
    finally:
        s.close()
    # Released with the socket: Linux TCP may have it now.
    lib.check_eq(bind_errno(lib.LINUX, LO, port), 0, "Linux bind after close")


def linux_blocks_tested(port, listen):
    applies()
    s = holder(lib.LINUX, port, listen)
    try:
        expect_in_use(lib.PROTO, port, "proto %d" % lib.PROTO)
    finally:
        s.close()
    lib.check_eq(bind_errno(lib.PROTO, LO, port), 0, "bind after Linux closed")


def ephemeral_bind_reserved():
    applies()
    s = ns.socket()
    try:
        s.bind((LO, 0))
        port = s.getsockname()[1]
        lib.check(port != 0, "bind(0) gave no port")
        expect_in_use(lib.LINUX, port, "Linux TCP")
    finally:
        s.close()


def ephemeral_connect_reserved():
    applies()
    srv = holder(lib.LINUX, 0, True)
    c = ns.socket()
    try:
        c.settimeout(10)
        c.connect(srv.getsockname())
        port = c.getsockname()[1]
        lib.check(port != 0, "connect gave no local port")
        expect_in_use(lib.LINUX, port, "Linux TCP")
    finally:
        c.close()
        srv.close()


def linux_ephemeral_reserved():
    applies()
    s = ns.socket(lib.LINUX)
    try:
        s.bind((LO, 0))
        expect_in_use(lib.PROTO, s.getsockname()[1], "proto %d" % lib.PROTO)
    finally:
        s.close()


lib.run_cases([
    ("tested_bound_port_blocks_linux", lambda: tested_blocks_linux(7001, False)),
    ("tested_listening_port_blocks_linux", lambda: tested_blocks_linux(7002, True)),
    ("linux_bound_port_blocks_tested", lambda: linux_blocks_tested(7003, False)),
    ("linux_listening_port_blocks_tested", lambda: linux_blocks_tested(7004, True)),
    ("tested_bind0_port_reserved", ephemeral_bind_reserved),
    ("tested_connect_port_reserved", ephemeral_connect_reserved),
    ("linux_bind0_port_reserved", linux_ephemeral_reserved),
])
