#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Who sees sequence numbers in /proc/net/alttcp.

They are what an off-path attacker needs to inject into a connection
(RFC 6528), so a row's snd_una, snd_nxt and rcv_nxt are shown only to the
row's owner and to CAP_NET_ADMIN in the namespace; other readers see 0,
and the rest of the row as it is. A root listener in a namespace of its
own accepts a connection from a client running as nobody: root sees the
numbers of both ends, nobody those of its own end only.

alttcp only: Linux TCP's /proc/net/tcp shows no sequence numbers.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

PORT = 9300
NOBODY = 65534
CLIENT = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, %d)
s.connect(("127.0.0.1", %d))
print(s.getsockname()[1], flush=True)
sys.stdin.readline()
sys.stdout.write(open("/proc/self/net/alttcp").read())
""" % (lib.PROTO, PORT)

if not lib.IS_ALTTCP:
    print("TAP version 13")
    print("1..0 # SKIP /proc/net/alttcp is alttcp's own file")
    sys.exit(lib.KSFT_SKIP)

ns = lib.Netns("alttcp-pa-%d" % os.getpid())
lib.on_exit(ns.delete)
ns.run("ip", "link", "set", "lo", "up")


def rows(text):
    lines = text.splitlines()
    names = lines[0].split()
    return [dict(zip(names, ln.split())) for ln in lines[1:]]


def seqs(row):
    return [int(row[k]) for k in ("snd_una", "snd_nxt", "rcv_nxt")]


def owner_and_admin_only():
    lsk = ns.socket()
    lib.on_exit(lsk.close)
    lsk.bind(("127.0.0.1", PORT))
    lsk.listen(1)
    lsk.settimeout(lib.scaled(10))
    client = subprocess.Popen(
        ["ip", "netns", "exec", ns.name, "setpriv", "--reuid=%d" % NOBODY,
         "--regid=%d" % NOBODY, "--clear-groups", "python3", "-c", CLIENT],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lib.on_exit(client.kill)
    cport = int(client.stdout.readline())
    app, _ = lsk.accept()
    lib.on_exit(app.close)
    mine = "127.0.0.1:%d" % cport
    as_root = ns.read("alttcp")
    by_root = {r["local_address"]: r for r in rows(as_root)}
    out, _ = client.communicate("go\n", timeout=lib.scaled(10))
    by_nobody = {r["local_address"]: r for r in rows(out)}
    server = "127.0.0.1:%d" % PORT
    # The listener's row is keyed by the same local address; take the
    # connection's (remote is the client's port).
    for table in (by_root, by_nobody):
        lib.check(mine in table, "no row for the client's end")
    srv_root = [r for r in rows(as_root)
                if r["local_address"] == server and r["state"] != "LISTEN"]
    srv_nobody = [r for r in rows(out)
                  if r["local_address"] == server and r["state"] != "LISTEN"]
    lib.check(srv_root and srv_nobody, "no row for the server's end")
    print("# root sees client %s, server %s; nobody sees client %s, "
          "server %s" % (seqs(by_root[mine]), seqs(srv_root[0]),
                         seqs(by_nobody[mine]), seqs(srv_nobody[0])))
    lib.check_eq(by_root[mine]["uid"], str(NOBODY), "client row's uid")
    lib.check(all(seqs(by_root[mine])) and all(seqs(srv_root[0])),
              "root does not see every sequence number")
    lib.check(all(seqs(by_nobody[mine])),
              "the owner does not see its own sequence numbers")
    lib.check_eq(seqs(srv_nobody[0]), [0, 0, 0],
                 "sequence numbers of root's connection shown to nobody")
    for k in ("state", "snd_wnd", "rcv_wnd", "uid", "inode", "ca_state",
              "ssthresh", "sacked_out", "lost_out", "retrans_out",
              "reordering"):
        lib.check_eq(srv_nobody[0][k], srv_root[0][k],
                     "%s as nobody sees it" % k)


lib.run_cases([("owner_and_admin_only", owner_and_admin_only)], timeout=60)
