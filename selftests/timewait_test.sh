#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Timer parameters: per-namespace sysctls with their defaults and limits,
# and TIME_WAIT lasting 2 * msl_ms, measured through /proc/net/alttcp.
cd "$(dirname "$0")" || exit 1
. ./lib.sh

A=alttcp-tw-a-$$
B=alttcp-tw-b-$$
cleanup() { ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null; }
trap cleanup EXIT
ip netns add "$A"
ip netns add "$B"
ip link add tw0 netns "$A" type veth peer tw1 netns "$B"
ip -n "$A" addr add 10.0.9.1/24 dev tw0
ip -n "$B" addr add 10.0.9.2/24 dev tw1
ip -n "$A" link set tw0 up
ip -n "$B" link set tw1 up

tap_plan 3

want="msl_ms=30000 rto_min_ms=200 rto_max_ms=120000 syn_retries=6 synack_retries=5 retries=15 fin_timeout_ms=60000 delack_max_ms=200"
got=""
for kv in $want; do
	got="$got ${kv%%=*}=$(ip netns exec "$A" cat /proc/sys/net/alttcp/"${kv%%=*}" 2>&1)"
done
if [ "${got# }" = "$want" ]; then
	ok "sysctls_with_defaults"
else
	fail "sysctls_with_defaults" "got${got}"
fi

# Out of range is refused and the value kept; each namespace has its own.
if ! ip netns exec "$A" sh -c 'echo 0 >/proc/sys/net/alttcp/msl_ms' 2>/dev/null &&
   ip netns exec "$A" sh -c 'echo 1000 >/proc/sys/net/alttcp/msl_ms' &&
   [ "$(ip netns exec "$A" cat /proc/sys/net/alttcp/msl_ms)" = 1000 ] &&
   [ "$(ip netns exec "$B" cat /proc/sys/net/alttcp/msl_ms)" = 30000 ]; then
	ok "sysctl_range_and_per_netns"
else
	fail "sysctl_range_and_per_netns" "msl_ms: a=$(ip netns exec "$A" cat /proc/sys/net/alttcp/msl_ms) b=$(ip netns exec "$B" cat /proc/sys/net/alttcp/msl_ms)"
fi

# msl_ms is 1000 in A: an active close there must stay in TIME_WAIT for
# 2000 ms, +-10 %. The peer is Linux TCP in B.
cat >/tmp/tw_server.py <<'PY'
import socket
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
l.bind(("10.0.9.2", 7100))
l.listen(1)
open("/tmp/tw_ready", "w").close()
c, _ = l.accept()
c.recv(10)
c.close()
PY
cat >/tmp/tw_client.py <<'PY'
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 258)
s.connect(("10.0.9.2", 7100))
s.close()
def tw_ms():
    for line in open("/proc/net/alttcp").readlines()[1:]:
        f = line.split()
        if f[3] == "TIME_WAIT" and f[2] == "10.0.9.2:7100":
            return int(f[14])
    return None
t0 = time.monotonic()
while tw_ms() is None and time.monotonic() - t0 < 5:
    time.sleep(0.005)
seen = time.monotonic()
left = tw_ms()
while tw_ms() is not None and time.monotonic() - seen < 10:
    time.sleep(0.005)
gone = time.monotonic()
# The entry began before we saw it: timer_ms then told how much was left.
print(int((gone - seen) * 1000 + (2000 - (left or 0))))
PY
rm -f /tmp/tw_ready
# Python starts slowly on the debug kernel: the waits widen with it.
ip netns exec "$B" timeout "$(scaled 30)" python3 /tmp/tw_server.py &
for _ in $(seq "$(scaled 300)"); do [ -e /tmp/tw_ready ] && break; sleep 0.1; done
lasted=$(ip netns exec "$A" timeout "$(scaled 30)" python3 /tmp/tw_client.py)
wait
echo "# TIME_WAIT lasted ${lasted:-?} ms with msl_ms=1000"
if [ -n "$lasted" ] && [ "$lasted" -ge 1800 ] && [ "$lasted" -le 2200 ]; then
	ok "time_wait_lasts_two_msl"
else
	fail "time_wait_lasts_two_msl" "lasted ${lasted:-?} ms, want 2000 +-10 %"
fi

tap_done
