#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Module life cycle: load, unload, reload, unload refused while a socket is
# open, per-namespace procfs across reloads, and the kernel-log scanner.
# Expects alttcp loaded on entry (the VM loads it) and leaves it loaded.
cd "$(dirname "$0")" || exit 1
. ./lib.sh

KO=${ALTTCP_KO:?ALTTCP_KO must name alttcp.ko}
SCAN=${ALTTCP_ROOT:?ALTTCP_ROOT must name the source tree}/scripts/kmsg-scan
HDR='  sl local_address         remote_address        state'

loaded() { grep -q '^alttcp ' /proc/modules; }

tap_plan 9

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
s.close()' < <(sleep 10) >/tmp/held.out &
holder=$!
for _ in $(seq 50); do grep -q held /tmp/held.out 2>/dev/null && break; sleep 0.1; done
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
ip netns del alttcp-mt

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
	 'Oops: 0000 [#1] SMP' 'BUG alttcp (Tainted: G): Objects remaining'; do
	echo "[    2.000000] $r" >/tmp/one.log
	"$SCAN" /tmp/one.log >/dev/null && { bad=1; echo "# missed: $r"; }
done
if [ $bad = 0 ]; then
	ok "kmsg_scan_flags_each_report_kind"
else
	fail "kmsg_scan_flags_each_report_kind" "a report kind was missed"
fi

loaded || insmod "$KO"
tap_done
