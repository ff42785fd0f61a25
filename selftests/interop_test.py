#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Interoperability: 16 MiB each way with half-close, across a veth pair.

Each pairing runs one connection from namespace b (client) to namespace a
(server). Both ends send 16 MiB of random data at the same time, then
shutdown(SHUT_WR), and read until EOF; the bytes each end received must
hash (sha256) to what the other sent. Pairings: the protocol under test
as server with a Linux TCP client, as client with a Linux TCP server, and
on both ends.
"""
import hashlib
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

SIZE = 16 << 20
PORT = 5001            # one port per pairing: no TIME_WAIT reuse involved
IO_TIMEOUT = lib.scaled(40)  # Linux TCP needs about 2 s in the TCG VM

net = lib.NetPair("interop")
# Two different payloads so a reflected or crossed stream cannot pass.
PAYLOAD = {"server": os.urandom(SIZE), "client": os.urandom(SIZE)}
DIGEST = {k: hashlib.sha256(v).hexdigest() for k, v in PAYLOAD.items()}


def dump_tables():
    """The connection tables, as TAP comments, to show where it stalled."""
    for ns in (net.a, net.b):
        for name in ("alttcp", "tcp") if lib.IS_ALTTCP else ("tcp",):
            try:
                text = ns.read(name)
            except OSError:
                continue
            for line in text.splitlines():
                print("# %s: %s" % (ns.name, line))


def pairing(server_proto, client_proto, port):
    lsock = net.a.socket(server_proto)
    csock = net.b.socket(client_proto)
    ssock = None
    try:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((lib.A_ADDR, port))
        lsock.listen(1)
        lsock.settimeout(IO_TIMEOUT)
        csock.settimeout(IO_TIMEOUT)
        csock.connect((lib.A_ADDR, port))
        ssock, peer = lsock.accept()
        ssock.settimeout(IO_TIMEOUT)
        lib.check_eq(peer[0], lib.B_ADDR, "accepted peer address")

        res = {"server": {}, "client": {}}
        deadline = time.monotonic() + IO_TIMEOUT + 5
        threads = [
            threading.Thread(target=lib.exchange, daemon=True,
                             args=(ssock, PAYLOAD["server"], res["server"],
                                   deadline)),
            threading.Thread(target=lib.exchange, daemon=True,
                             args=(csock, PAYLOAD["client"], res["client"],
                                   deadline)),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(IO_TIMEOUT + 10)
        if any(r.get("len") != SIZE for r in res.values()):
            dump_tables()

        for side, other in (("server", "client"), ("client", "server")):
            r = res[side]
            lib.check("len" in r, "%s end did not finish" % side)
            lib.check(not r.get("send_err"), "%s %s" % (side, r.get("send_err")))
            lib.check(not r.get("recv_err"), "%s %s" % (side, r.get("recv_err")))
            lib.check(r.get("eof"), "%s never saw EOF" % side)
            lib.check_eq(r["len"], SIZE, "%s received bytes" % side)
            lib.check_eq(r["sha"], DIGEST[other], "%s received sha256" % side)
    finally:
        for s in (ssock, csock, lsock):
            if s:
                s.close()


lib.run_cases([
    ("server_under_test_linux_client",
     lambda: pairing(lib.PROTO, lib.LINUX, PORT)),
    ("client_under_test_linux_server",
     lambda: pairing(lib.LINUX, lib.PROTO, PORT + 1)),
    ("both_ends_under_test",
     lambda: pairing(lib.PROTO, lib.PROTO, PORT + 2)),
], timeout=60)
