#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# scripts/alttcpize: unmodified programs (python3 http.server, curl, socat,
# iperf3) run over alttcp against the same programs over Linux TCP, in
# both roles. Each case proves which stack carried the connection by the
# namespace's counters: alttcp's ActiveOpens/PassiveOpens grow on the
# alttcpized side while Linux's Tcp: ones (/proc/net/snmp) stay put, and
# the reverse on the plain side. Also: sockets other than IPv4 TCP are left
# alone, the wrapper's usage and errors, and the fallback to TCP with one
# warning when the module is unloaded (it is loaded again afterwards).
cd "$(dirname "$0")" || exit 1
. ./lib.sh

if [ "${ALTTCP_TEST_PROTO:-258}" != 258 ]; then
	echo "1..0 # SKIP alttcpize is only about alttcp"
	exit 4
fi

# The source tree: $ALTTCP_ROOT (the VM sets it), else the first directory
# above this one holding scripts/alttcpize (selftests/ or the installed
# build/kselftest/alttcp/).
root=${ALTTCP_ROOT-}
if [ -z "$root" ]; then
	root=$PWD
	while [ "$root" != / ] && [ ! -x "$root/scripts/alttcpize" ]; do
		root=$(dirname "$root")
	done
fi
AZ=$root/scripts/alttcpize
KO=${ALTTCP_KO:-$root/module/alttcp.ko}

A=alttcpize-a-$$
B=alttcpize-b-$$
IPA=10.0.8.1
W=$(mktemp -d /tmp/alttcpize.XXXXXX)
modprobe_path=$(cat /proc/sys/kernel/modprobe)
unloaded=0
loaded() { grep -q '^alttcp ' /proc/modules; }
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	echo "$modprobe_path" >/proc/sys/kernel/modprobe
	[ $unloaded = 1 ] && ! loaded && insmod "$KO"
	ip netns del "$A" 2>/dev/null
	ip netns del "$B" 2>/dev/null
	rm -rf "$W"
}
trap cleanup EXIT
# Few processes: each costs a lot in an emulated VM.
ip -b - <<EOF
netns add $A
netns add $B
link add az0 netns $A type veth peer az1 netns $B
EOF
ip -n "$A" -b - <<EOF
addr add $IPA/24 dev az0
link set az0 up
link set lo up
EOF
ip -n "$B" -b - <<EOF
addr add 10.0.8.2/24 dev az1
link set az1 up
link set lo up
EOF
# A process parked in each namespace: its /proc/PID/net shows that
# namespace's tables to this shell without an "ip netns exec" per look.
mkfifo "$W/nap"
exec {nap}<>"$W/nap"
nap() { read -r -t "$1" -u $nap; }
declare -A netpid
for ns in "$A" "$B"; do
	ip netns exec "$ns" sleep 600 &
	netpid[$ns]=$!
	# Until it has entered the namespace, /proc/PID/net is ours.
	for _ in $(seq 100); do
		[ "$(stat -L -c %i "/run/netns/$ns")" = \
		  "$(stat -L -c %i "/proc/${netpid[$ns]}/ns/net")" ] && break
		nap 0.1
	done
done

mkdir "$W/www"
head -c 1M /dev/urandom >"$W/www/page"
head -c 4M /dev/urandom >"$W/data"

tap_plan 10

# mib FILE PREFIX NAME...: values of the named counters in a netstat-style
# file (name line, value line), 0 for each when the file is missing.
mib() {
	local file=$1 prefix=$2 names vals k i res=()
	shift 2
	if [ -r "$file" ]; then
		while read -r -a names && read -r -a vals; do
			[ "${names[0]}" = "$prefix" ] || continue
			for k; do
				for i in "${!names[@]}"; do
					[ "${names[i]}" = "$k" ] && res+=("${vals[i]}")
				done
			done
		done <"$file"
	fi
	[ ${#res[@]} = $# ] || res=()
	for k; do res+=(0); done
	echo "${res[@]:0:$#}"
}

# counters NS: alttcp's ActiveOpens PassiveOpens, then Linux's.
counters() {
	local net=/proc/${netpid[$1]}/net
	echo "$(mib "$net/alttcp_stats" AltTcp: ActiveOpens PassiveOpens)" \
	     "$(mib "$net/snmp" Tcp: ActiveOpens PassiveOpens)"
}

# stacks WHO BEFORE AFTER: "" when only WHO's stack (alttcp or tcp) opened
# connections between the two counters readings, else what went wrong.
stacks() {
	local who=$1 b a
	read -r -a b <<<"$2"
	read -r -a a <<<"$3"
	local alt=$((a[0] - b[0] + a[1] - b[1])) lin=$((a[2] - b[2] + a[3] - b[3]))
	if [ "$who" = alttcp ] && { [ $alt -lt 1 ] || [ $lin -ne 0 ]; }; then
		echo "alttcp side opened $alt alttcp, $lin Linux TCP connections"
	elif [ "$who" = tcp ] && { [ $lin -lt 1 ] || [ $alt -ne 0 ]; }; then
		echo "plain side opened $lin Linux TCP, $alt alttcp connections"
	fi
}

# listening NS PORT alttcp|tcp: is a listener on PORT in that table?
# Linux TCP's must be a program's (its socket in some process's fds): an
# alttcp listener's port holder, a kernel socket, listens there too.
listening() {
	local net=/proc/${netpid[$1]}/net laddr st ino
	if [ "$3" = alttcp ]; then
		[ -r "$net/alttcp" ] || return 1
		while read -r _ laddr _ st _; do
			[[ $st == LISTEN && $laddr == *":$2" ]] && return 0
		done <"$net/alttcp"
	else
		while read -r _ laddr _ st _ _ _ _ _ ino _; do
			[[ $st == 0A && $laddr == *":$(printf %04X "$2")" ]] ||
				continue
			find /proc/[0-9]*/fd -lname "socket:\[$ino\]" 2>/dev/null |
				grep -q . && return 0
		done <"$net/tcp"
	fi
	return 1
}

# serve NS PORT alttcp|tcp OUT CMD...: starts the server CMD in NS
# (alttcpized for alttcp), waits until it listens in that stack's table
# and not the other's; sets $srv, and $why when that fails.
serve() {
	local ns=$1 port=$2 kind=$3 out=$4 other=tcp
	shift 4
	[ "$kind" = alttcp ] && set -- "$AZ" "$@"
	[ "$kind" = tcp ] && other=alttcp
	ip netns exec "$ns" timeout 60 "$@" >"$out" 2>&1 &
	srv=$!
	for _ in $(seq "$(scaled 300)"); do
		if listening "$ns" "$port" "$kind"; then
			listening "$ns" "$port" $other || return 0
			why="listener in /proc/net/$other too"
			return 1
		fi
		kill -0 $srv 2>/dev/null || break
		nap 0.1
	done
	why="no $kind listener on port $port; server said: $(tail -n 3 "$out" | tr '\n' ' ')"
	return 1
}

stop() { kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

same() { [ "$(sha256sum <"$1")" = "$(sha256sum <"$2")" ]; }

# verdict NAME WHY BEFORE_A AFTER_A BEFORE_B AFTER_B KIND_A KIND_B
verdict() {
	local why=$2
	[ -z "$why" ] && why=$(stacks "$7" "$3" "$4")
	[ -z "$why" ] && why=$(stacks "$8" "$5" "$6")
	if [ -z "$why" ]; then
		ok "$1"
	else
		fail "$1" "$why"
	fi
}

# 1, 2: HTTP with python3 http.server and curl; alttcp sends as the
# server, receives as the client.
http_case() {
	local name=$1 ka=$2 kb=$3 port=$4 why='' ca cb out
	local client=(curl -sS --max-time 30 -o "$W/got.$port" "http://$IPA:$port/page")
	[ "$kb" = alttcp ] && client=("$AZ" "${client[@]}")
	ca=$(counters "$A") cb=$(counters "$B")
	if serve "$A" "$port" "$ka" "$W/srv.$port" \
		python3 -m http.server --bind $IPA --directory "$W/www" "$port"; then
		if ! out=$(ip netns exec "$B" "${client[@]}" 2>&1); then
			why="curl failed: $out"
		elif ! same "$W/www/page" "$W/got.$port"; then
			why="fetched file differs"
		fi
	fi
	stop $srv
	verdict "$name" "$why" "$ca" "$(counters "$A")" "$cb" "$(counters "$B")" "$ka" "$kb"
}
http_case http_server_alttcpized_curl_linux alttcp tcp 8001
http_case curl_alttcpized_http_server_linux tcp alttcp 8002

# 3: 4 MiB through socat; alttcp receives as the server, sends as the
# client.
socat_case() {
	local name=$1 ka=$2 kb=$3 port=$4 why='' ca cb out
	local client=(timeout 30 socat -u OPEN:"$W/data" TCP4:"$IPA:$port")
	[ "$kb" = alttcp ] && client=("$AZ" "${client[@]}")
	ca=$(counters "$A") cb=$(counters "$B")
	if serve "$A" "$port" "$ka" "$W/srv.$port" \
		socat -u TCP4-LISTEN:"$port",bind=$IPA,reuseaddr CREATE:"$W/recv.$port"; then
		if ! out=$(ip netns exec "$B" "${client[@]}" 2>&1); then
			why="client failed: $out"
		elif ! wait $srv; then
			why="server failed: $(tail -n 3 "$W/srv.$port" | tr '\n' ' ')"
		elif ! same "$W/data" "$W/recv.$port"; then
			why="received $(stat -c %s "$W/recv.$port") bytes, sha256 differs"
		fi
	fi
	stop $srv
	verdict "$name" "$why" "$ca" "$(counters "$A")" "$cb" "$(counters "$B")" "$ka" "$kb"
}
socat_case socat_server_alttcpized_receives alttcp tcp 8003
socat_case socat_client_alttcpized_sends tcp alttcp 8004

# 4: iperf3 -n 4M; alttcp receives as the server, sends as the client.
# The receiver may count less than 4 MiB (it stops at the client's
# TEST_END, which can overtake data; Linux TCP does it too), never 0; the
# sender may send a block more.
# Errors iperf3 reports without failing are collected for the next case.
iperf_errors=
iperf_case() {
	local name=$1 ka=$2 kb=$3 port=$4 why='' ca cb rc res sent recvd
	local client=(timeout 40 iperf3 -J -c "$IPA" -p "$port" -n 4M)
	[ "$kb" = alttcp ] && client=("$AZ" "${client[@]}")
	ca=$(counters "$A") cb=$(counters "$B")
	if serve "$A" "$port" "$ka" "$W/srv.$port" \
		iperf3 -J -s -1 -B $IPA -p "$port"; then
		ip netns exec "$B" "${client[@]}" >"$W/cli.$port" 2>&1
		rc=$?
		wait $srv
		# client's sent and received bytes, then its error and the server's
		res=$(python3 -c 'import json, sys
c, s = (json.load(open(f)) for f in sys.argv[1:])
e = c["end"].get("sum_sent", {}), c["end"].get("sum_received", {})
print(e[0].get("bytes", 0), e[1].get("bytes", 0))
print("client: %s" % c["error"] if "error" in c else "")
print("server: %s" % s["error"] if "error" in s else "")' "$W/cli.$port" "$W/srv.$port" 2>&1)
		echo "# $name: client exit $rc; sent, received, errors: $(echo $res)"
		if [ $rc -ne 0 ]; then
			why="client exit $rc: $(echo $res)"
		else
			read -r sent recvd <<<"$res"
			[[ $sent =~ ^[0-9]+$ && $recvd =~ ^[0-9]+$ ]] &&
				[ "$sent" -ge 4194304 ] && [ "$recvd" -gt 0 ] ||
				why="sent, received: $(echo $res)"
		fi
		res=$(tail -n +2 <<<"$res" | grep .)
		[ -n "$res" ] && iperf_errors+="$kb client, $ka server: $(echo $res); "
	fi
	stop $srv
	verdict "$name" "$why" "$ca" "$(counters "$A")" "$cb" "$(counters "$B")" "$ka" "$kb"
}
iperf_case iperf3_server_alttcpized alttcp tcp 8005
iperf_case iperf3_client_alttcpized tcp alttcp 8006

# iperf3 reads getsockopt(IPPROTO_TCP, TCP_INFO) for its statistics and
# TCP_CONGESTION for its report; Linux TCP answers both.
if [ -z "$iperf_errors" ]; then
	ok "iperf3_reports_no_errors"
else
	fail "iperf3_reports_no_errors" "$iperf_errors"
fi

# 5: only IPv4 TCP is rewritten, flags in the type survive.
cat >"$W/protos.py" <<'PY'
import fcntl, os, socket as s
cases = [
    ("inet_stream_0", s.AF_INET, s.SOCK_STREAM, 0),
    ("inet_stream_tcp", s.AF_INET, s.SOCK_STREAM, s.IPPROTO_TCP),
    ("inet_stream_flags", s.AF_INET, s.SOCK_STREAM | s.SOCK_NONBLOCK | s.SOCK_CLOEXEC, 0),
    ("inet_stream_mptcp", s.AF_INET, s.SOCK_STREAM, 262),
    ("inet_dgram_0", s.AF_INET, s.SOCK_DGRAM, 0),
    ("inet_dgram_udp", s.AF_INET, s.SOCK_DGRAM, s.IPPROTO_UDP),
    ("inet_raw_icmp", s.AF_INET, s.SOCK_RAW, s.IPPROTO_ICMP),
    ("inet6_stream_0", s.AF_INET6, s.SOCK_STREAM, 0),
    ("unix_stream_0", s.AF_UNIX, s.SOCK_STREAM, 0),
]
for name, fam, typ, proto in cases:
    try:
        k = s.socket(fam, typ, proto)
    except OSError as e:
        print(name, os.strerror(e.errno))
        continue
    flags = ""
    if typ & s.SOCK_NONBLOCK:
        flags += "-nonblock" if os.get_blocking(k.fileno()) else "+nonblock"
        cloexec = fcntl.fcntl(k.fileno(), fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        flags += "+cloexec" if cloexec else "-cloexec"
    print(name, str(k.getsockopt(s.SOL_SOCKET, s.SO_PROTOCOL)) + flags)
    k.close()
PY
# MPTCP stays MPTCP; on a kernel built without it the
# socket() fails as it would without the preload.
mptcp=262
[ -d /proc/sys/net/mptcp ] || mptcp="Protocol not supported"
want="inet_stream_0 258
inet_stream_tcp 258
inet_stream_flags 258+nonblock+cloexec
inet_stream_mptcp $mptcp
inet_dgram_0 17
inet_dgram_udp 17
inet_raw_icmp 1
inet6_stream_0 6
unix_stream_0 0"
got=$(ip netns exec "$A" "$AZ" python3 "$W/protos.py" 2>&1)
if [ "$got" = "$want" ]; then
	ok "only_ipv4_tcp_sockets_rewritten"
else
	fail "only_ipv4_tcp_sockets_rewritten" "SO_PROTOCOL: $(echo "$got" | tr '\n' ',')"
fi

# 6: usage and a missing library: clear words, no command run.
u1=$("$AZ" 2>&1 >/dev/null)
r1=$?
u2=$("$AZ" -h 2>/dev/null)
r2=$?
u3=$(ALTTCPIZE_LIB=/nonexistent/lib.so "$AZ" touch "$W/ran" 2>&1)
r3=$?
if [ $r1 = 2 ] && [[ $u1 == *Usage:* ]] && [ $r2 = 0 ] && [[ $u2 == *Usage:* ]] &&
   [ $r3 != 0 ] && [[ $u3 == *"/nonexistent/lib.so"* ]] && [ ! -e "$W/ran" ]; then
	ok "usage_and_missing_library"
else
	fail "usage_and_missing_library" "no args: $r1 '${u1:0:40}'; -h: $r2 '${u2:0:40}'; bad lib: $r3 '$u3'"
fi

# 7: without the module, programs run over Linux TCP and the library warns
# once per process. The kernel's modprobe is off meanwhile: no autoload
# from a tree that has alttcp.ko, and no seconds lost in request_module().
warning="alttcpize: alttcp unavailable"
fallback() {
	local ca cb out port=8007
	loaded || { why="module not loaded at the start"; return; }
	out=$(rmmod alttcp 2>&1) || { why="rmmod: $out"; return; }
	unloaded=1
	echo /nonexistent/modprobe >/proc/sys/kernel/modprobe

	out=$(ip netns exec "$A" "$AZ" python3 -c 'import socket as s
for i in range(3):
    print(s.socket(s.AF_INET, s.SOCK_STREAM, 0).getsockopt(s.SOL_SOCKET, s.SO_PROTOCOL))' 2>&1)
	if [ "$(grep -v "^$warning" <<<"$out" | tr '\n' ' ')" != "6 6 6 " ] ||
	   [ "$(grep -c "^$warning" <<<"$out")" != 1 ]; then
		why="three sockets in one process gave: $(tr '\n' ' ' <<<"$out")"
		return
	fi

	ca=$(counters "$A") cb=$(counters "$B")
	serve "$A" $port tcp "$W/srv.$port" "$AZ" \
		socat -u TCP4-LISTEN:$port,bind=$IPA,reuseaddr CREATE:"$W/recv.$port" || return
	if ! out=$(ip netns exec "$B" timeout 30 "$AZ" socat -u OPEN:"$W/data" \
		TCP4:$IPA:$port 2>&1); then
		why="client failed: $out"
	elif ! wait $srv || ! same "$W/data" "$W/recv.$port"; then
		why="server failed or data differs: $(tail -n 3 "$W/srv.$port" | tr '\n' ' ')"
	elif [ "$(grep -c "^$warning" "$W/srv.$port")" != 1 ] ||
	     [ "$(grep -c "^$warning" <<<"$out")" != 1 ]; then
		why="want one warning each; server: $(cat "$W/srv.$port"), client: $out"
	else
		why=$(stacks tcp "$ca" "$(counters "$A")")$(stacks tcp "$cb" "$(counters "$B")")
	fi
	stop $srv
}
why=
fallback
echo "$modprobe_path" >/proc/sys/kernel/modprobe
if [ $unloaded = 1 ] && ! loaded && ! out=$(insmod "$KO" 2>&1); then
	why="$why; insmod $KO: $out"
fi
if [ -z "$why" ] && loaded && [ -r /proc/net/alttcp ]; then
	ok "fallback_to_tcp_without_module"
else
	fail "fallback_to_tcp_without_module" "${why:-module not back}"
fi

tap_done
