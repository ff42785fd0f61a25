# SPDX-License-Identifier: GPL-2.0
# Helpers for alttcp's shell selftests: TAP output and common probes.
# Source it, call tap_plan N, then ok/fail per case, and tap_done last.

tap_n=0
tap_failed=0

tap_plan() {
	echo "TAP version 13"
	echo "1..$1"
}

# ok NAME: the case passed.
ok() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n $1"
}

# fail NAME WHY: the case failed.
fail() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "# $1: $2"
	echo "not ok $tap_n $1"
}

# check NAME CMD...: the case passes when CMD succeeds.
check() {
	local name=$1
	shift
	if out=$("$@" 2>&1); then
		ok "$name"
	else
		fail "$name" "$(echo "$out" | tail -n 5 | tr '\n' ' ')"
	fi
}

# scaled N: N widened by ALTTCP_TIME_SCALE (a whole number; the debug
# kernel of `make check-debug` sets it), for limits that wait for work.
scaled() {
	echo $(($1 * ${ALTTCP_TIME_SCALE:-1}))
}

tap_done() {
	if [ "$tap_failed" -ne 0 ]; then
		echo "# $tap_failed of $tap_n failed"
		exit 1
	fi
	exit 0
}

# sock_errno: prints the errno name socket(AF_INET, SOCK_STREAM, 258)
# fails with, or "ok" when it succeeds.
sock_errno() {
	python3 - <<'PY'
import errno, socket
try:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM, 258).close()
    print("ok")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
PY
}
