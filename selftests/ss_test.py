#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""scripts/alttcp-ss: which rows its filters show, and that its -i and -o
numbers are /proc/net/alttcp's.

Namespace a holds alttcp listeners on ports 8080 and 8501, three
connections from Linux TCP clients in b (two to 8080, one to 8501,
which has sent a and received data) and one connection in TIME_WAIT
(to 8080, closed by a first). alttcp-ss runs in a (ip netns exec):

- no options: the three connections, not the listeners nor TIME_WAIT
  (as ss); -l the two listeners; -a all six;
- `state established sport = :8080`: the two, without a State column;
  `( dport = :P or sport = :8501 )`, `src`/`dst` with a prefix and a
  port, `not`, comparisons, `state time-wait`, `exclude`;
- -n prints port numbers; without it, known ports by their names;
- -i: for each connection, rto, rtt, cwnd, both windows, retrans and the
  sequence variables equal its row of /proc/net/alttcp, read just
  before and after (the connections are idle: they must not move), and
  so do ssthresh, retrans_out, lost, sacked, reordering and ca_state,
  shown only where not the default (-1, 0, 3, open); -o: the TIME_WAIT
  row's timer;
- -i of a made-up row in recovery: ss's keys in ss's order;
- --watch 0.1 --count 2: two pictures; a bad filter: exit status 2;
- run as a program (once: each start of python takes seconds in the
  VM; the other cases call its main() in this process, in a).

alttcp only: alttcp-ss reads /proc/net/alttcp.
"""
import contextlib
import importlib.machinery
import io
import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

A, B = lib.A_ADDR, lib.B_ADDR
P1, P2 = 8080, 8501     # 8080 has a name in /etc/services


if not lib.IS_ALTTCP:
    lib.skip_all("alttcp-ss shows alttcp's connections (/proc/net/alttcp)")


SS = os.path.join(lib.source_tree("scripts/alttcp-ss"), "scripts/alttcp-ss")
if not os.access(SS, os.X_OK):
    lib.skip_all("no scripts/alttcp-ss in the source tree")

net = lib.NetPair("ss")
keep = []       # sockets that must stay open
ports = {}      # the clients' ports: established to P1 (2), P2, time-wait


def setup():
    for p in (P1, P2):
        lsk = net.a.socket()
        lsk.bind((A, p))
        lsk.listen(8)
        lsk.settimeout(10)
        keep.append(lsk)
    for name, p in (("e1", P1), ("e2", P1), ("e3", P2), ("tw", P1)):
        cli = net.b.socket(lib.LINUX)
        cli.settimeout(10)
        cli.connect((A, p))
        srv, _ = keep[0 if p == P1 else 1].accept()
        srv.settimeout(10)
        ports[name] = cli.getsockname()[1]
        if name == "e3":
            cli.sendall(b"q" * 3000)
            lib.check_eq(len(srv.recv(3000, socket.MSG_WAITALL)), 3000,
                         "data at a")
            srv.sendall(b"r" * 5000)
            lib.check_eq(len(cli.recv(5000, socket.MSG_WAITALL)), 5000,
                         "data at b")
        if name == "tw":
            srv.close()         # a closes first: TIME_WAIT is a's
            lib.check_eq(cli.recv(1), b"", "EOF at b")
            cli.close()
            lib.check_eq(lib.wait_state(net.a, "TIME_WAIT",
                                        remote="%s:%d" % (B, ports["tw"])),
                         "TIME_WAIT", "a's closed connection")
        else:
            keep.extend([cli, srv])


# Run in this process, in a: a python start takes seconds in the VM.
alttcp_ss = importlib.machinery.SourceFileLoader("alttcp_ss",
                                                 SS).load_module()


def ss(*args, status=0):
    out, err = io.StringIO(), io.StringIO()
    with net.a.enter(), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        rc = alttcp_ss.main(list(args))
    lib.check_eq(rc, status, "alttcp-ss %s: exit status (%s)" %
                 (" ".join(args), err.getvalue().strip()))
    return out.getvalue().splitlines()


def rows(*args):
    """(state, local, remote) of each row alttcp-ss -n prints (state None
    without a State column, which the header's first word tells)."""
    lines = ss("-n", *args)
    has_state = lines[0].split()[0] == "State"
    out = []
    for line in lines[1:]:
        if not line.startswith("\t"):
            f = line.split() if has_state else [None] + line.split()
            out.append((f[0], f[3], f[4]))
    return out


def peers(table):
    """The remote ports of rows, sorted; 0 for a listener's '*'."""
    return sorted(0 if r[2].endswith(":*") else int(r[2].rsplit(":")[1])
                  for r in table)


def default_listening_all():
    e = sorted([ports["e1"], ports["e2"], ports["e3"]])
    got = rows()
    lib.check_eq(peers(got), e, "default: connected, less TIME-WAIT")
    lib.check(all(r[0] == "ESTAB" for r in got), "states: %r" % got)
    got = rows("-l")
    lib.check_eq(sorted(r[1] for r in got),
                 ["%s:%d" % (A, P1), "%s:%d" % (A, P2)], "-l: listeners")
    lib.check_eq(sorted(r[0] for r in rows("-a")),
                 ["ESTAB"] * 3 + ["LISTEN"] * 2 + ["TIME-WAIT"], "-a")


def filters():
    got = rows("state", "established", "sport", "=", ":%d" % P1)
    lib.check(all(r[0] is None for r in got),
              "one state asked for, yet a State column")
    lib.check_eq(peers(got), sorted([ports["e1"], ports["e2"]]),
                 "established to P1")
    cases = [
        (["-a", "( dport = :%d or sport = :%d )" % (ports["e1"], P2)],
         [0, ports["e1"], ports["e3"]]),
        (["-a", "src", "%s/24:%d" % (A, P2)], [0, ports["e3"]]),
        (["-a", "dst", "%s:%d" % (B, ports["tw"])], [ports["tw"]]),
        (["not", "sport", "eq", ":%d" % P1], [ports["e3"]]),
        (["-a", "sport", ">", ":%d" % P1, "and", "!", "dport", "= :0"],
         [ports["e3"]]),
        (["state", "time-wait"], [ports["tw"]]),
        (["-a", "exclude", "established", "exclude", "listening"],
         [ports["tw"]]),
    ]
    for args, want in cases:
        lib.check_eq(peers(rows(*args)), sorted(want), " ".join(args))


def names():
    port = ss("-l", "sport", "=", ":%d" % P1)[1].split()[3].rsplit(":")[1]
    try:
        want = socket.getservbyport(P1, "tcp")
    except OSError:
        want = str(P1)
    lib.check_eq(port, want, "a listener's port without -n")
    lib.check_eq(ss("-ln", "sport", "=", ":%d" % P1)[1].split()[3],
                 "%s:%d" % (A, P1), "with -n")


def proc_rows():
    return {r["remote"]: r for r in lib.conn_table(net.a, lib.PROTO)}


INFO_KEYS = {"rto": "rto_ms", "rtt": "srtt_ms", "cwnd": "cwnd",
             "snd_wnd": "snd_wnd", "rcv_wnd": "rcv_wnd",
             "retrans": "retrans", "snd_una": "snd_una",
             "snd_nxt": "snd_nxt", "rcv_nxt": "rcv_nxt"}
# -i's loss-recovery keys, shown only where the column is not its
# default (the value here).
INFO_RECOVERY = {"ssthresh": ("ssthresh", "-1"),
                 "retrans_out": ("retrans_out", "0"),
                 "lost": ("lost_out", "0"), "sacked": ("sacked_out", "0"),
                 "reordering": ("reordering", "3"),
                 "ca_state": ("ca_state", "open")}


def info_matches_proc():
    before = proc_rows()
    lines = ss("-tin")
    after = proc_rows()
    seen = 0
    for row, info in zip(lines[1:], lines[2:]):
        if row.startswith("\t") or not info.startswith("\t "):
            continue
        remote = row.split()[4]
        got = dict(kv.split(":", 1) for kv in info.split())
        for k, col in INFO_KEYS.items():
            lib.check_eq(got[k], before[remote][col],
                         "%s of %s (-i vs /proc/net/alttcp)" % (k, remote))
        for k, (col, default) in INFO_RECOVERY.items():
            lib.check_eq(got.get(k, default), before[remote][col],
                         "%s of %s (-i vs /proc/net/alttcp)" % (k, remote))
        lib.check_eq([after[remote][c] for c in INFO_KEYS.values()],
                     [before[remote][c] for c in INFO_KEYS.values()],
                     "%s's numbers read twice (idle: no change)" % remote)
        seen += 1
    lib.check_eq(seen, 3, "connections with an -i line")
    e3 = before["%s:%d" % (B, ports["e3"])]
    lib.check(int(e3["rcv_nxt"]) != 0 and int(e3["srtt_ms"]) >= 0 and
              int(e3["cwnd"]) > 0, "e3's row: %r" % e3)
    tw = ss("-no", "state", "time-wait")[1:]
    lib.check_eq(len(tw), 1, "TIME-WAIT rows")
    lib.check(re.search(r" timer:\(timewait,[0-9.]+(ms|sec|min),0\)$", tw[0]),
              "-o on TIME-WAIT: %r" % tw[0])


def info_in_recovery():
    """-i of a row in SACK recovery (made up: the connections here lose
    nothing), and of one in Open: ss's keys where not the default."""
    row = {"rto_ms": "300", "srtt_ms": "20", "cwnd": "14000",
           "snd_wnd": "65000", "rcv_wnd": "64000", "retrans": "0",
           "snd_una": "1", "snd_nxt": "20001", "rcv_nxt": "7",
           "ca_state": "recovery", "ssthresh": "14000", "sacked_out": "8",
           "lost_out": "2", "retrans_out": "1", "reordering": "5"}
    lib.check_eq(alttcp_ss.info_line(row),
                 "rto:300 rtt:20 cwnd:14000 ssthresh:14000 snd_wnd:65000 "
                 "rcv_wnd:64000 unacked:20000 retrans:0 retrans_out:1 "
                 "lost:2 sacked:8 reordering:5 ca_state:recovery "
                 "snd_una:1 snd_nxt:20001 rcv_nxt:7", "-i in recovery")
    row.update(ca_state="open", ssthresh="-1", sacked_out="0",
               lost_out="0", retrans_out="0", reordering="3")
    lib.check_eq(alttcp_ss.info_line(row),
                 "rto:300 rtt:20 cwnd:14000 snd_wnd:65000 rcv_wnd:64000 "
                 "unacked:20000 retrans:0 snd_una:1 snd_nxt:20001 rcv_nxt:7",
                 "-i in Open")


def watch_and_errors():
    lines = ss("-n", "--watch", "0.1", "--count", "2")
    lib.check_eq(sum(1 for ln in lines if ln.startswith("Every 0.1s:")), 2,
                 "pictures")
    ss("sport", "=", status=2)
    ss("state", "sleepy", status=2)


def as_a_program():
    """The script itself, run in a, prints what main() printed."""
    r = subprocess.run(["ip", "netns", "exec", net.a.name, SS, "-tan"],
                       capture_output=True, text=True,
                       timeout=lib.scaled(30))
    lib.check_eq((r.returncode, r.stderr), (0, ""), "exit status, stderr")
    lib.check_eq(r.stdout.splitlines(), ss("-tan"), "its output")


setup()
lib.run_cases([
    ("default_listening_all", default_listening_all),
    ("filters", filters),
    ("names", names),
    ("info_matches_proc", info_matches_proc),
    ("info_in_recovery", info_in_recovery),
    ("watch_and_errors", watch_and_errors),
    ("as_a_program", as_a_program),
])
