#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""scripts/alttcp-plot draws what the trace holds.

An alttcp client in namespace a sends 300 kB to a Linux TCP server in b
while `alttcp-plot --record` runs; an nftables rule in b drops every
20th data segment, so some are sent again, and netem delays b's
segments 5 ms, so SRTT is not 0. a holds this one connection only, so its
counters move by what this connection sent. The script's --json
summary, counted from the points it drew, must match them:

- every segment the connection sent: OutSegs (an event of a GSO skb
  counts its segs);
- segments drawn as retransmissions (those starting below the highest
  sequence number sent before): RetransSegs, and the segments of
  alttcp_retransmit events; at least one;
- bytes of new data drawn: the 300 kB; the highest ACK drawn: the data,
  SYN and FIN (300 kB + 2);
- ACK, window and cwnd points: some;

and the PNG must be one (its header, and the size asked for). The saved
trace, parsed again, gives the same summary. alttcp only: the events are
alttcp's.
"""
import importlib.machinery
import importlib.util
import json
import os
import socket
import struct
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

A, B = lib.A_ADDR, lib.B_ADDR
PORT = 8400
SIZE = 300000
TRACEFS = "/sys/kernel/tracing"


if not lib.IS_ALTTCP:
    lib.skip_all("alttcp-plot draws alttcp's tracepoints")
if not os.path.isdir(TRACEFS + "/events/alttcp"):
    lib.skip_all("no %s/events/alttcp (tracefs not mounted?)" % TRACEFS)


PLOT = os.path.join(lib.source_tree("scripts/alttcp-plot"),
                    "scripts/alttcp-plot")
if not os.access(PLOT, os.X_OK):
    lib.skip_all("no scripts/alttcp-plot in the source tree")
if not importlib.util.find_spec("matplotlib"):
    lib.skip_all("no python3-matplotlib (scripts/deps installs it)")

net = lib.NetPair("plot")
work = "/tmp/alttcp-plot-test-%d" % os.getpid()
os.mkdir(work)
lib.on_exit(lambda: subprocess.run(["rm", "-rf", work]))
# The script's own parser, for the saved trace: a start of python (and
# of matplotlib above all) takes seconds in the VM.
alttcp_plot = importlib.machinery.SourceFileLoader("alttcp_plot",
                                                   PLOT).load_module()


def server(lsk, got):
    """Reads until EOF, then closes: b's FIN follows a's."""
    srv, _ = lsk.accept()
    srv.settimeout(60)
    n = 0
    while True:
        b = srv.recv(65536)
        if not b:
            break
        n += len(b)
    got.append(n)
    srv.close()


def transfer():
    """a sends SIZE bytes and closes first; returns once a's last segment
    (the ACK of b's FIN) is out: a is in TIME_WAIT."""
    lsk = net.b.socket(lib.LINUX)
    lsk.bind((B, PORT))
    lsk.listen(1)
    lsk.settimeout(60)
    got = []
    t = threading.Thread(target=server, args=(lsk, got), daemon=True)
    t.start()
    cli = net.a.socket()
    cli.settimeout(60)
    cli.connect((B, PORT))
    cli.sendall(b"p" * SIZE)
    cli.shutdown(socket.SHUT_WR)
    lib.check_eq(cli.recv(1), b"", "a's read after b's FIN")
    lib.check_eq(lib.wait_state(net.a, "TIME_WAIT",
                                remote="%s:%d" % (B, PORT)),
                 "TIME_WAIT", "a after the exchange of FINs")
    cli.close()
    t.join(10)
    lsk.close()
    lib.check_eq(got, [SIZE], "bytes the server read")


def png_size(path):
    """(width, height) from a PNG's IHDR; fails on anything else."""
    with open(path, "rb") as f:
        head = f.read(24)
    lib.check(head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR",
              "%s is not a PNG" % path)
    return struct.unpack(">II", head[16:24])


def plot_matches_counters():
    # At b: a segment an output hook of a dropped never left, and alttcp
    # sends it again as new data, not as a retransmission.
    net.b.nft("input", "ip saddr %s tcp dport %d ip length > 100 "
              "numgen inc mod 20 == 19 drop" % (A, PORT))
    net.b.run("tc", "qdisc", "add", "dev", "veth1", "root", "netem",
              "delay", "5ms")
    png, saved = work + "/plot.png", work + "/trace.txt"
    # Recording lasts as long as this command: until told on its stdin.
    rec = subprocess.Popen(
        [PLOT, "--json", "-o", png, "--record", "--save", saved, "--",
         "sh", "-c", "echo recording; read x"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        lib.check_eq(rec.stdout.readline(), "recording\n", "recorder")
        before = lib.counters(net.a)
        transfer()
        after = lib.counters(net.a)
    finally:
        net.b.nft_flush()
        # matplotlib alone takes about 25 s to start in the VM.
        stdout, stderr = rec.communicate("\n", timeout=lib.scaled(120))
    for line in stderr.splitlines():
        print("# " + line)
    lib.check_eq(rec.returncode, 0, "alttcp-plot's exit status")
    s = json.loads(stdout)
    out, retr = (after[k] - before[k] for k in ("OutSegs", "RetransSegs"))
    print("# %s -> %s: %s" % (s["local"], s["remote"], json.dumps(
        {k: v for k, v in s.items() if isinstance(v, int)})))
    print("# counters of a: OutSegs +%d, RetransSegs +%d" % (out, retr))
    lib.check_eq(s["lost_events"], 0, "events the trace buffer lost")
    lib.check_eq(s["remote"], "%s:%d" % (B, PORT), "connection drawn")
    lib.check_eq(s["segments_sent"], out, "segments sent vs OutSegs")
    lib.check_eq(s["retransmissions"], retr,
                 "retransmissions drawn vs RetransSegs")
    lib.check_eq(s["retransmit_event_segments"], retr,
                 "segments of alttcp_retransmit events")
    lib.check(retr >= 1, "nothing was retransmitted")
    lib.check_eq(s["new_data_bytes"], SIZE, "new data drawn, bytes")
    lib.check_eq(s["highest_ack"], SIZE + 2, "highest ACK drawn")
    for k in ("ack_points", "window_points", "cong_points"):
        lib.check(s[k] > 0, "no %s" % k)
    lib.check_eq(png_size(png), (1000, 750), "PNG width and height")

    with open(saved) as f:
        events, lost = alttcp_plot.parse(f)
    again = alttcp_plot.Picture(events, s["local"], s["remote"]).summary()
    lib.check_eq(again, {k: v for k, v in s.items()
                         if k not in ("png", "lost_events")},
                 "summary from the saved trace")


lib.run_cases([
    ("plot_matches_counters", plot_matches_counters),
], timeout=180)
