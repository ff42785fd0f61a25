#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Orphans (closed by the application, not yet CLOSED) are bounded.

The peer is Linux TCP in namespace b, which accepts and never reads with
a small receive buffer, so the tested side's data waits for a window
that stays closed while b answers every probe. Closing such a socket
makes an orphan in FIN_WAIT_1 that, unlimited, would probe forever and
hold its send buffer. As Linux: beyond max_orphans a close resets the
connection instead, and an orphan gives up once its probe interval has
backed off to the maximum RTO and orphan_retries probes went out.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

A, B = lib.A_ADDR, lib.B_ADDR
net = lib.NetPair("or")
port = [9400]


def knob(name):
    """(namespace to write in, path) of a setting for the tested stack."""
    if lib.IS_ALTTCP:
        return net.a, "/proc/sys/net/alttcp/" + name
    linux = {"max_orphans": "tcp_max_orphans",
             "orphan_retries": "tcp_orphan_retries"}[name]
    # tcp_max_orphans is global: the initial namespace's.
    ns = None if name == "max_orphans" else net.a
    return ns, "/proc/sys/net/ipv4/" + linux


def setting(name, value):
    """Sets name for the rest of the test case; returns an undo."""
    ns, path = knob(name)
    run = ns.run if ns else lib.sh
    old = run("cat", path).strip()
    run("sh", "-c", "echo %s > %s" % (value, path))
    return lambda: run("sh", "-c", "echo %s > %s" % (old, path))


def stuck_connections(n):
    """n tested sockets whose data waits for b's closed window."""
    port[0] += 1
    srv = net.b.socket(lib.LINUX)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    srv.bind((B, port[0]))
    srv.listen(n)
    socks, peers = [], []
    for _ in range(n):
        c = net.a.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        c.settimeout(lib.scaled(10))
        c.connect((B, port[0]))
        p, _ = srv.accept()
        lib.on_exit(p.close)
        c.setblocking(False)
        end = time.monotonic() + lib.scaled(10)
        while time.monotonic() < end:
            try:
                c.send(b"o" * 4096)
            except BlockingIOError:
                break
        socks.append(c)
        peers.append(p)
    srv.close()
    time.sleep(lib.scaled(0.5))     # the window closes
    return socks, peers


def rows(locals_):
    return {r["local"]: r["state"] for r in lib.conn_table(net.a, lib.PROTO)
            if r["local"] in locals_}


def too_many_orphans():
    """A close that finds more than max_orphans others resets; an
    orphan that finds more than max_orphans in all at its next probe
    resets too. With 3, of 5 closed, 3 remain."""
    socks, peers = stuck_connections(5)
    locals_ = ["%s:%d" % s.getsockname() for s in socks]
    before = lib.counters(net.a) if lib.IS_ALTTCP else {}
    undo = setting("max_orphans", 3)
    try:
        for s in socks:
            s.close()
            # Linux reads an orphan count refreshed every 100 ms.
            time.sleep(0.25)
        # Probes back off from ~0.2 s: each orphan has probed by then.
        time.sleep(lib.scaled(2))
        states = rows(locals_)
    finally:
        undo()
        # b's unread data makes its close a reset: the orphans go.
        for p in peers:
            p.close()
    print("# after close: %s" % sorted(states.values()))
    lib.check_eq(set(states.values()), {"FIN_WAIT_1"}, "orphans' state")
    lib.check(1 <= len(states) <= 3, "%d orphans for a limit of 3" %
              len(states))
    if lib.IS_ALTTCP:
        # Linux counts orphans in a cache refreshed every 100 ms and may
        # reset more than it must; alttcp counts exactly.
        lib.check_eq(len(states), 3, "orphans left")
        grown = lib.counters(net.a)["TooManyOrphans"] - \
            before["TooManyOrphans"]
        lib.check_eq(grown, 2, "TooManyOrphans")
    end = time.monotonic() + lib.scaled(5)
    while rows(locals_) and time.monotonic() < end:
        time.sleep(0.1)
    lib.check_eq(rows(locals_), {}, "connections left after b's resets")


def orphan_gives_up():
    """With rto_max_ms at 1 s the probe interval reaches it after a few
    probes; with orphan_retries 0 that ends the orphan though b answers.
    Linux's maximum RTO is fixed at 120 s, which would take minutes."""
    if not lib.IS_ALTTCP:
        raise lib.Skip("Linux TCP's RTO_MAX (120 s) is not settable")
    undo = [setting("orphan_retries", 0)]
    ns, path = net.a, "/proc/sys/net/alttcp/rto_max_ms"
    old = ns.run("cat", path).strip()
    ns.run("sh", "-c", "echo 1000 > %s" % path)
    undo.append(lambda: ns.run("sh", "-c", "echo %s > %s" % (old, path)))
    try:
        socks, _ = stuck_connections(1)
        local = "%s:%d" % socks[0].getsockname()
        before = lib.counters(net.a)
        socks[0].close()
        lib.check_eq(rows([local]).get(local), "FIN_WAIT_1", "after close")
        end = time.monotonic() + lib.scaled(15)
        while rows([local]) and time.monotonic() < end:
            time.sleep(0.1)
        lib.check(not rows([local]), "the orphan still probes after 15 s")
        grown = lib.counters(net.a)["OrphanDrops"] - before["OrphanDrops"]
        lib.check_eq(grown, 1, "OrphanDrops")
    finally:
        for u in reversed(undo):
            u()


lib.run_cases([
    ("too_many_orphans", too_many_orphans),
    ("orphan_gives_up", orphan_gives_up),
], timeout=90)
