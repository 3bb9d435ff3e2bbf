#!/bin/sh
# The stream transport through a real HTTP CONNECT proxy: tinyproxy on
# loopback (BasicAuth, ConnectPort limited to two ports) in front of the
# unit test's in-test framed echo servers (TCP and TLS). Runs the
# "external_proxy" cases of the unit test binary: CONNECT ok -> echo over
# TCP and TLS (proxy_allow_basic set: tinyproxy offers only Basic); wrong
# password -> HTTP 401/407; without proxy_allow_basic -> the line naming it
# and no credentials sent; a port tinyproxy does not allow -> HTTP 403; and
# the password never in our log. No root needed.
# (tinyproxy answers 407 to a CONNECT without credentials and 401 to wrong
# ones; curl probes without them first, so a wrong password ends in 401.)
# Exit 0 pass, 77 skip, 1 fail. Usage: sh tests/net/test_stream_proxy.sh [BUILD]
NAME=test_stream_proxy
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
BIN=$ROOT/$BUILD/tests/test_stream

skip() {
	echo "$NAME: skip: $1"
	exit 77
}
fail() {
	echo "$NAME: FAIL: $1"
	if [ -s "$DIR/tinyproxy.log" ]; then
		echo "---- last lines of tinyproxy.log"
		tail -n 20 "$DIR/tinyproxy.log"
	fi
	exit 1
}

command -v tinyproxy >/dev/null 2>&1 || skip "tinyproxy not installed"
command -v python3 >/dev/null 2>&1 || skip "python3 not installed (picks free ports)"
if [ ! -x "$BIN" ]; then
	case $BUILD in *san*) san=SAN=1 ;; *) san= ;; esac
	# A build that fails is a failure, not a missing tool.
	make -C "$ROOT" $san BUILD="$BUILD" "$BUILD/tests/test_stream" >/dev/null 2>&1 ||
		fail "cannot build $BIN (make $BUILD/tests/test_stream)"
fi

DIR=$(mktemp -d /tmp/$NAME.XXXXXX) || fail "mktemp"
TP_PID=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -n "$TP_PID" ] && kill "$TP_PID" 2>/dev/null && wait "$TP_PID" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Three distinct free loopback ports: the proxy, the TCP echo, the TLS echo.
# shellcheck disable=SC2046 # split into $1 $2 $3 on purpose
set -- $(python3 -c '
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
') || fail "no free ports"
PROXY_PORT=$1 TCP_PORT=$2 TLS_PORT=$3
USER=alice
PASS="pw-$$-$(date +%s)"

cat >"$DIR/tinyproxy.conf" <<EOF
Port $PROXY_PORT
Listen 127.0.0.1
Timeout 30
LogFile "$DIR/tinyproxy.log"
LogLevel Info
PidFile "$DIR/tinyproxy.pid"
MaxClients 20
Allow 127.0.0.1
DisableViaHeader Yes
BasicAuth $USER $PASS
ConnectPort $TCP_PORT
ConnectPort $TLS_PORT
EOF

tinyproxy -d -c "$DIR/tinyproxy.conf" >"$DIR/tinyproxy.out" 2>&1 &
TP_PID=$!

# Wait (with a deadline) until the proxy accepts connections.
python3 -c '
import socket, sys, time
end = time.monotonic() + 10
while time.monotonic() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.02)
sys.exit(1)
' "$PROXY_PORT" || fail "tinyproxy did not listen on 127.0.0.1:$PROXY_PORT"

t0=$(date +%s%N)
IKEAGENT_TEST_PROXY="127.0.0.1:$PROXY_PORT:$USER:$PASS" \
IKEAGENT_TEST_PROXY_PORTS="$TCP_PORT,$TLS_PORT" \
CK_RUN_CASE=external_proxy CK_FORK=yes \
	"$BIN" >"$DIR/test.out" 2>&1
rc=$?
cat "$DIR/test.out"
grep -q "external proxy" "$DIR/test.out" || fail "the external proxy cases did not run"
[ $rc -eq 0 ] || fail "external proxy cases failed (exit $rc)"
grep -F -q -- "$PASS" "$DIR/test.out" && fail "the proxy password appeared in the output"
grep -q "Checks: 5, Failures: 0, Errors: 0" "$DIR/test.out" || fail "expected 5 passing checks"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "$NAME: pass (tinyproxy 127.0.0.1:$PROXY_PORT, echo $TCP_PORT/$TLS_PORT, ${ms} ms)"
exit 0
