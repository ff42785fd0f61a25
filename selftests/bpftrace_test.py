#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The bpftrace one-liners of Documentation/alttcp.rst ("Tracepoints"),
word for word, so the documentation cannot drift from what works.

Both run, at once, around one transfer: an alttcp client in namespace a
sends 100 kB to a Linux TCP server in b, an nftables rule in b drops
every 20th data segment, and netem delays b's segments 5 ms; SIGINT
(Ctrl-C) then makes them print their maps. a holds this one connection
only, so:

- retransmissions per peer: the segments for b's address and port equal
  a's RetransSegs, and are at least 1;
- SRTT per peer: a histogram for b's address and port, every sample in
  a bucket of 4 ms or more.

alttcp only: the tracepoints are alttcp's.
"""
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import alttcp_test_lib as lib  # noqa: E402

A, B = lib.A_ADDR, lib.B_ADDR
PORT = 8600
SIZE = 100000


if not lib.IS_ALTTCP:
    lib.skip_all("the one-liners use alttcp's tracepoints")
if not shutil.which("bpftrace"):
    lib.skip_all("no bpftrace (scripts/deps installs it)")


DOC = os.path.join(lib.source_tree("Documentation/alttcp.rst"),
                   "Documentation/alttcp.rst")
if not os.path.exists(DOC):
    lib.skip_all("no Documentation/alttcp.rst in the source tree")
with open(DOC) as f:
    ONE_LINERS = {re.search(r"@(\w+)\[", ln).group(1): shlex.split(ln)
                  for ln in f if ln.strip().startswith("bpftrace -e ")}

net = lib.NetPair("bpf")
net.b.nft("input", "ip saddr %s tcp dport %d ip length > 100 "
          "numgen inc mod 20 == 19 drop" % (A, PORT))
net.b.run("tc", "qdisc", "add", "dev", "veth1", "root", "netem", "delay",
          "5ms")
output = {}     # one-liner: what it printed
retrans = []    # a's RetransSegs during the transfer


def serve(lsk):
    """Reads one connection until EOF, then closes it."""
    srv, _ = lsk.accept()
    srv.settimeout(60)
    while srv.recv(65536):
        pass
    srv.close()


def transfer():
    lsk = net.b.socket(lib.LINUX)
    lsk.bind((B, PORT))
    lsk.listen(1)
    lsk.settimeout(60)
    t = threading.Thread(target=serve, args=(lsk,), daemon=True)
    t.start()
    cli = net.a.socket()
    cli.settimeout(60)
    cli.connect((B, PORT))
    cli.sendall(b"b" * SIZE)
    cli.shutdown(socket.SHUT_WR)
    lib.check_eq(cli.recv(1), b"", "a's read after b's FIN")
    cli.close()
    t.join(10)
    lsk.close()


def perf_events(pid):
    """How many perf events the process holds open."""
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            n += os.readlink("/proc/%d/fd/%s" % (pid, fd)) == \
                "anon_inode:[perf_event]"
        except OSError:
            pass
    return n


def wait_attached(name, p):
    """bpftrace says "Attaching" before it compiles its program, which
    takes long under emulation; the probe is attached once it holds the
    tracepoint's perf event, beside its output buffer's one per CPU (it
    enables the event right after opening it)."""
    deadline = time.monotonic() + lib.scaled(120)
    while perf_events(p.pid) <= os.cpu_count():
        lib.check(p.poll() is None, "%s ended before attaching" % name)
        lib.check(time.monotonic() < deadline, "%s never attached" % name)
        time.sleep(0.1)
    time.sleep(0.2)


def where(procs):
    """Prints where each one-liner's threads wait, for the log."""
    for name, p in procs.items():
        if p.poll() is not None:
            continue
        for tid in os.listdir("/proc/%d/task" % p.pid):
            d = "/proc/%d/task/%s/" % (p.pid, tid)
            try:
                with open(d + "stat") as f:
                    stat = f.read().split(") ", 1)[1][:1]
                with open(d + "stack") as f:
                    stack = f.read().split()
            except OSError:
                continue
            print("# %s thread %s state %s: %s" %
                  (name, tid, stat, " ".join(stack[1::2][:8])))


def interrupted_output(p):
    """p's output once it ends. A SIGINT that reaches bpftrace while its
    probes are still being set up is now and then not acted on in the
    VM: it is sent again every 10 s, 30 s in all."""
    for _ in range(3):
        try:
            return p.communicate(timeout=lib.scaled(10))[0]
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGINT)
    return p.communicate(timeout=1)[0]


def one_liners_run():
    """Both at once (each takes many seconds to start in the VM), around
    one transfer; each prints its map on SIGINT, as on Ctrl-C."""
    lib.check_eq(sorted(ONE_LINERS), ["retransmits", "srtt_ms"],
                 "one-liners in %s" % DOC)
    procs = {}
    for name, argv in ONE_LINERS.items():
        print("# " + shlex.join(argv))
        procs[name] = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True)
    try:
        for name, p in procs.items():
            seen = []       # warnings may come first
            while not (seen and seen[-1].startswith("Attaching ")):
                seen.append(p.stdout.readline())
                lib.check(seen[-1], "%s ended: %r" % (name, seen))
            wait_attached(name, p)
        before = lib.counters(net.a)["RetransSegs"]
        transfer()
        retrans.append(lib.counters(net.a)["RetransSegs"] - before)
    finally:
        for p in procs.values():
            p.send_signal(signal.SIGINT)
    for name, p in procs.items():
        try:
            output[name] = interrupted_output(p)
        except subprocess.TimeoutExpired:
            where(procs)
            # Killed, or its probes would keep alttcp.ko from unloading.
            for q in procs.values():
                q.kill()
            raise AssertionError("%s did not end after SIGINT" % name)
        for line in output[name].splitlines():
            print("# " + line)
        lib.check_eq(p.returncode, 0, "%s: exit status" % name)


def retransmits_per_peer():
    lib.check(retrans, "no transfer")
    got = re.findall(r"^@retransmits\[%s, %d\]: (\d+)$" %
                     (re.escape(B), PORT), output["retransmits"], re.M)
    lib.check_eq(got, [str(retrans[0])], "@retransmits for b vs RetransSegs")
    lib.check(retrans[0] >= 1, "nothing was retransmitted")


def srtt_per_peer():
    out = output.get("srtt_ms", "")
    head = "@srtt_ms[%s, %d]:" % (B, PORT)
    lib.check(head in out, "no %s histogram" % head)
    # "[4, 8)   12 |@@@@@@|": each bucket's lower bound, and count.
    hist = out.split(head, 1)[1].split("\n\n")[0]
    buckets = [(int(lo), int(n)) for lo, n in
               re.findall(r"^\[(\d+)[^\])]*[\])]\s+(\d+) \|", hist, re.M)]
    lib.check(buckets, "no buckets in %r" % hist)
    low = min(lo for lo, n in buckets if n)
    lib.check(low >= 4, "a sample in the bucket from %d ms" % low)


lib.run_cases([
    ("one_liners_run", one_liners_run),
    ("retransmits_per_peer", retransmits_per_peer),
    ("srtt_per_peer", srtt_per_peer),
], timeout=90)
