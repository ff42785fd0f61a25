#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Connection tracking and NAT see the socket under test as Linux TCP.

A server in namespace a behind the common rule "ct state invalid drop",
one conntrack entry per connection with Linux TCP's states, and a
REDIRECT from port 80 to a listener on 8080 reached by curl. Clients are
Linux TCP in namespace b. With ALTTCP_TEST_PROTO=6 the same outcomes hold.
"""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

net = lib.NetPair("ct")
A, B = lib.A_ADDR, lib.B_ADDR
for mod in ("nf_conntrack", "nft_ct", "nf_nat", "nft_chain_nat",
            "nft_redir"):
    lib._modprobe(mod)


def echo_server(port, rounds=1):
    """Echoes each connection's bytes until EOF, in a thread."""
    srv = net.a.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(8)
    srv.settimeout(lib.scaled(10))

    def serve():
        for _ in range(rounds):
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            conn.settimeout(lib.scaled(10))
            try:
                while True:
                    d = conn.recv(65536)
                    if not d:
                        break
                    conn.sendall(d)
            except OSError:
                pass
            conn.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return srv, t


def entries(ns, port):
    """conntrack's TCP entries for port in ns: (state, line) pairs."""
    try:
        out = ns.read("nf_conntrack")
    except FileNotFoundError:
        raise lib.Skip("no /proc/net/nf_conntrack in this kernel "
                       "(CONFIG_NF_CONNTRACK_PROCFS)")
    rows = []
    for line in out.splitlines():
        f = line.split()
        if "tcp" in f and ("dport=%d" % port) in f:
            rows.append((f[f.index("tcp") + 3], line))
    return rows


def invalid_drop():
    """The server's segments are never INVALID to conntrack: a 64 KiB
    echo through 'ct state invalid drop' on output and input."""
    port = 7401
    net.a.nft("output", "ct state invalid counter drop", table="ct_out")
    net.a.nft("input", "ct state invalid counter drop", table="ct_in")
    srv, t = echo_server(port)
    try:
        c = net.b.socket(lib.LINUX)
        c.settimeout(lib.scaled(5))
        c.connect((A, port))
        data = os.urandom(65536)
        c.sendall(data)
        got = b""
        while len(got) < len(data):
            d = c.recv(65536)
            if not d:
                break
            got += d
        lib.check(got == data, "echo differs (%d of %d bytes)"
                  % (len(got), len(data)))
        rows = entries(net.a, port)
        print("# entries: %s" % [r[0] for r in rows])
        lib.check_eq([r[0] for r in rows], ["ESTABLISHED"],
                     "conntrack entries while open")
        lib.check("[ASSURED]" in rows[0][1], "entry not assured: %s"
                  % rows[0][1])
        c.close()
        t.join(lib.scaled(10))
        for table in ("ct_out", "ct_in"):
            out = net.a.run("nft", "list", "table", "ip", table)
            lib.check("packets 0 " in out, "invalid packets: %s" % out)
    finally:
        net.a.nft_flush("ct_out")
        net.a.nft_flush("ct_in")
        srv.close()


def one_entry_per_connection():
    """Ten connections, ten entries, in Linux's closing states after."""
    port = 7402
    net.a.nft("input", "ct state new counter", table="ct_in")
    srv, t = echo_server(port, rounds=10)
    try:
        for _ in range(10):
            c = net.b.socket(lib.LINUX)
            c.settimeout(lib.scaled(5))
            c.connect((A, port))
            c.sendall(b"hello")
            lib.check_eq(c.recv(5), b"hello", "echo")
            c.close()
        t.join(lib.scaled(10))
        rows = entries(net.a, port)
        states = sorted(set(r[0] for r in rows))
        print("# %d entries, states %s" % (len(rows), states))
        lib.check_eq(len(rows), 10, "entries")
        lib.check(set(states) <= {"TIME_WAIT", "CLOSE", "LAST_ACK",
                                  "CLOSE_WAIT", "FIN_WAIT"},
                  "states after close: %s" % states)
        out = net.a.run("nft", "list", "table", "ip", "ct_in")
        lib.check("packets 10 " in out, "new connections counted: %s" % out)
    finally:
        net.a.nft_flush("ct_in")
        srv.close()


def redirect_80_to_8080():
    """curl to port 80 reaches a listener on 8080 through REDIRECT."""
    with open("/proc/kallsyms") as f:
        if not any("nft_redir" in line for line in f):
            raise lib.Skip("no nft redirect in this kernel (CONFIG_NFT_REDIR)")
    script = ("table ip ct_nat {\n chain pre {\n"
              "  type nat hook prerouting priority dstnat;\n"
              "  tcp dport 80 redirect to :8080\n }\n}\n")
    net.a.run("nft", "-f", "-", input=script)
    net.a.tables.add("ct_nat")
    srv = net.a.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", 8080))
    srv.listen(8)
    srv.settimeout(lib.scaled(10))
    body = b"served on 8080\n"

    def serve():
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        conn.settimeout(lib.scaled(10))
        req = b""
        while b"\r\n\r\n" not in req:
            d = conn.recv(4096)
            if not d:
                break
            req += d
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                     % (len(body), body))
        conn.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        out = net.b.run("curl", "-sS", "--max-time", str(lib.scaled(10)),
                        "http://%s:80/" % A)
        lib.check_eq(out.encode(), body, "curl's body")
        t.join(lib.scaled(10))
    finally:
        net.a.nft_flush("ct_nat")
        srv.close()


lib.run_cases([
    ("invalid_drop", invalid_drop),
    ("one_entry_per_connection", one_entry_per_connection),
    ("redirect_80_to_8080", redirect_80_to_8080),
], timeout=60)
