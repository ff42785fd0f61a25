#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Module life cycle: load, unload, reload, unload refused while a socket is
# open, per-namespace procfs across reloads, and the kernel-log scanner.
# Expects alttcp loaded on entry (the VM loads it) and leaves it loaded.
cd "$(dirname "$0")" || exit 1
. ./lib.sh

KO=${ALTTCP_KO:?ALTTCP_KO must name alttcp.ko}
SCAN=${ALTTCP_ROOT:?ALTTCP_ROOT must name the source tree}/scripts/kmsg-scan
HDR='    sl local_address         remote_address        state'

loaded() { grep -q '^alttcp ' /proc/modules; }

tap_plan 13

if loaded && head -n1 /proc/net/alttcp | grep -q "^$HDR"; then
	ok "loaded_with_proc_header"
else
	fail "loaded_with_proc_header" "module or /proc/net/alttcp header missing"
fi

# A held socket pins the module: rmmod must be refused with EBUSY.
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 258)
print("held", flush=True)
sys.stdin.read()
s.close()' < <(sleep 40) >/tmp/held.out &
holder=$!
for _ in $(seq 300); do grep -q held /tmp/held.out 2>/dev/null && break; sleep 0.1; done
err=$(rmmod alttcp 2>&1)
if loaded && echo "$err" | grep -qi "in use"; then
	ok "rmmod_refused_with_open_socket"
else
	fail "rmmod_refused_with_open_socket" "rmmod said: $err"
fi
kill $holder 2>/dev/null
wait $holder 2>/dev/null

if rmmod alttcp && ! loaded && [ ! -e /proc/net/alttcp ]; then
	ok "rmmod_after_close"
else
	fail "rmmod_after_close" "module or /proc/net/alttcp still there"
fi

e=$(sock_errno)
if [ "$e" = EPROTONOSUPPORT ]; then
	ok "socket_without_module_eprotonosupport"
else
	fail "socket_without_module_eprotonosupport" "socket() gave $e"
fi

if insmod "$KO" && loaded && [ "$(sock_errno)" = ok ]; then
	ok "reload_then_socket"
else
	fail "reload_then_socket" "insmod or socket() failed"
fi

# The cycles below need no autoloading; a failed request_module() costs
# seconds in the VM, so the kernel's modprobe is switched off meanwhile.
modprobe_path=$(cat /proc/sys/kernel/modprobe)
echo /nonexistent/modprobe >/proc/sys/kernel/modprobe
cycles_ok=1
for i in 1 2 3 4 5; do
	rmmod alttcp || { cycles_ok=0; break; }
	[ "$(sock_errno)" = EPROTONOSUPPORT ] || { cycles_ok=0; break; }
	insmod "$KO" || { cycles_ok=0; break; }
	[ "$(sock_errno)" = ok ] || { cycles_ok=0; break; }
done
if [ $cycles_ok = 1 ]; then
	ok "five_unload_reload_cycles"
else
	fail "five_unload_reload_cycles" "cycle $i failed"
fi

# A namespace made while loaded loses its entry on unload, gets it back
# on reload.
ip netns add alttcp-mt
in_ns() { ip netns exec alttcp-mt "$@"; }
if in_ns test -r /proc/net/alttcp && rmmod alttcp &&
   ! in_ns test -e /proc/net/alttcp && insmod "$KO" &&
   in_ns head -n1 /proc/net/alttcp | grep -q "^$HDR"; then
	ok "netns_proc_follows_reload"
else
	fail "netns_proc_follows_reload" "/proc/net/alttcp in netns did not follow"
fi

# The tables by 4-tuple: one bucket per 128 KiB of memory (1024 to
# 65536, a power of 2), in every namespace; or the module parameter's.
pow2ceil() { local n=1; while [ $n -lt "$1" ]; do n=$((n * 2)); done; echo $n; }
mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
want=$((mem_kb / 128))
[ $want -lt 1024 ] && want=1024
[ $want -gt 65536 ] && want=65536
want=$(pow2ceil $want)
got_init=$(cat /proc/sys/net/alttcp/ehash_entries)
got_ns=$(in_ns cat /proc/sys/net/alttcp/ehash_entries)
got_param=
if rmmod alttcp && insmod "$KO" ehash_entries=3000; then
	got_param=$(in_ns cat /proc/sys/net/alttcp/ehash_entries)
	rmmod alttcp
fi
loaded || insmod "$KO"
if [ "$got_init" = "$want" ] && [ "$got_ns" = "$want" ] &&
   [ "$got_param" = 4096 ]; then
	ok "ehash_sized_from_memory"
else
	fail "ehash_sized_from_memory" \
		"MemTotal $mem_kb kB: want $want, init $got_init, ns $got_ns; ehash_entries=3000 gave '$got_param', want 4096"
fi
ip netns del alttcp-mt
echo "$modprobe_path" >/proc/sys/kernel/modprobe

# Test the tester: the scanner must flag a planted warning, pass a clean
# log and not mistake ordinary words for reports.
printf '[    1.000000] WARNING: CPU: 0 PID: 1 at net/x.c:1 f+0x1/0x2\n' >/tmp/planted.log
printf '[    1.000000] alttcp: loaded\n[    1.1] DEBUG: fine\n' >/tmp/clean.log
if "$SCAN" /tmp/planted.log | grep -q "WARNING: CPU" &&
   "$SCAN" /tmp/clean.log >&2; then
	ok "kmsg_scan_flags_planted_warning"
else
	fail "kmsg_scan_flags_planted_warning" "scanner missed the plant or flagged clean text"
fi
bad=0
for r in 'BUG: KASAN: use-after-free in x' 'Call Trace:' \
	 'refcount_t: underflow; use-after-free.' 'list_add corruption. prev->next' \
	 'general protection fault, probably for non-canonical address' \
	 'Oops: 0000 [#1] SMP' 'BUG alttcp (Tainted: G): Objects remaining' \
	 'BUG: KFENCE: out-of-bounds read in x' \
	 'WARNING: possible circular locking dependency detected' \
	 'WARNING: possible recursive locking detected' \
	 'WARNING: inconsistent lock state' \
	 'WARNING: suspicious RCU usage' \
	 'BUG: sleeping function called from invalid context at mm/slab.h:1' \
	 'turning off the locking correctness validator.' \
	 'ODEBUG: free active (active state 0) object: x object type: hrtimer' \
	 'unreferenced object 0xffff888005a0c000 (size 64):' \
	 'list_del corruption, ffff888005a0c000->next is LIST_POISON1' \
	 'INFO: task python3:123 blocked for more than 120 seconds.' \
	 'watchdog: BUG: soft lockup - CPU#0 stuck for 26s! [python3:1]' \
	 'rcu: INFO: rcu_preempt self-detected stall on CPU' \
	 'ref_tracker: net notrefcnt@0000 has 1/1 users at'; do
	echo "[    2.000000] $r" >/tmp/one.log
	"$SCAN" /tmp/one.log >/dev/null && { bad=1; echo "# missed: $r"; }
done
if [ $bad = 0 ]; then
	ok "kmsg_scan_flags_each_report_kind"
else
	fail "kmsg_scan_flags_each_report_kind" "a report kind was missed"
fi

# Autoload: with alttcp.ko where modprobe looks (a one-module tree bound
# over /lib/modules/<ver>), the first socket() loads it by its alias.
kv=$(uname -r)
mods=/tmp/autoload/lib/modules/$kv
mkdir -p "$mods/extra"
cp "$KO" "$mods/extra/"
cp /lib/modules/"$kv"/modules.builtin /lib/modules/"$kv"/modules.order "$mods/"
if depmod -b /tmp/autoload "$kv" && mount --bind "$mods" /lib/modules/"$kv"; then
	rmmod alttcp
	e=$(sock_errno)
	umount /lib/modules/"$kv"
	if [ "$e" = ok ] && loaded; then
		ok "socket_autoloads_module"
	else
		fail "socket_autoloads_module" "socket() gave $e, loaded: $(loaded && echo yes)"
	fi
else
	fail "socket_autoloads_module" "could not set up the module tree"
fi
loaded || insmod "$KO"

# Unload with a TIME_WAIT entry and an orphaned connection with data in
# flight pending: no leak, no timer left behind (the log scan checks the
# rest), and the module comes back.
ip netns add alttcp-ux
ip netns add alttcp-uy
ip link add ux netns alttcp-ux type veth peer uy netns alttcp-uy
ip -n alttcp-ux addr add 10.77.0.1/24 dev ux
ip -n alttcp-uy addr add 10.77.0.2/24 dev uy
ip -n alttcp-ux link set ux up
ip -n alttcp-uy link set uy up
cat >/tmp/unload_peer.py <<'PY'
import socket, time
# Linux TCP peer: closes the first connection after the client, never
# reads the second one.
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
l.bind(("10.77.0.2", 7000))
l.listen(4)
open("/tmp/unload_ready", "w").close()
a, _ = l.accept()
a.recv(10)
a.close()
b, _ = l.accept()
time.sleep(30)
PY
cat >/tmp/unload_client.py <<'PY'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 258)
s.connect(("10.77.0.2", 7000))
s.close()			# active close: TIME_WAIT here
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 258)
t.connect(("10.77.0.2", 7000))
t.setblocking(False)
try:
    while True:
        t.send(b"x" * 65536)
except BlockingIOError:
    pass
t.close()			# orphan: FIN_WAIT_1 with unsent data
PY
rm -f /tmp/unload_ready
ip netns exec alttcp-uy timeout "$(scaled 40)" python3 /tmp/unload_peer.py &
peer=$!
# Python starts slowly over 9p, more so on the debug kernel.
for _ in $(seq "$(scaled 100)"); do
	[ -e /tmp/unload_ready ] && break
	sleep 0.1
done
ip netns exec alttcp-ux timeout "$(scaled 20)" python3 /tmp/unload_client.py
sleep 1
states=$(ip netns exec alttcp-ux awk 'NR > 1 { print $4 }' /proc/net/alttcp | sort | tr '\n' ' ')
if [ "$states" = "FIN_WAIT_1 TIME_WAIT " ] && rmmod alttcp && ! loaded &&
   insmod "$KO" && [ "$(sock_errno)" = ok ]; then
	ok "rmmod_with_time_wait_and_orphan_pending"
else
	fail "rmmod_with_time_wait_and_orphan_pending" "states '$states', loaded: $(loaded && echo yes)"
fi
kill $peer 2>/dev/null
wait $peer 2>/dev/null
ip netns del alttcp-ux
ip netns del alttcp-uy

# Unloading destroys alttcp's socket cache; the kernel reports any object
# still in it (the VM boots with slab_nomerge, so the cache is ours alone).
if dmesg | grep -q "Objects remaining in ALTTCP"; then
	fail "unload_leaves_no_socket_objects" "$(dmesg | grep -m1 'Objects remaining')"
else
	ok "unload_leaves_no_socket_objects"
fi

loaded || insmod "$KO"
tap_done
