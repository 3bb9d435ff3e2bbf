#!/bin/sh
# Runs the unit tests (`make unit-check`): every Check program of BUILD/tests
# (CK_FORK=yes: each test in its own child), then every fuzz corpus replay.
# Check counts a test that returned early as passed, so a test that cannot
# run here calls check_skip() (tests/unit/check_main.h), which appends
# "<program> <test>: <why>" to $IKEAGENT_SKIP_FILE; this script counts those
# as skipped, not passed, and ends with
#   unit: N tests passed, M skipped, K failed
# naming each skipped test with its reason and each failed program. Under
# CI=true a skip fails the run: CI has root and namespaces, so a skip there
# means something is missing. The summary also goes to BUILD/unit-summary
# (for `make check`). Usage: sh tests/unit/run.sh BUILD
BUILD=${1:-build}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ikeagent-unit.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
: >"$tmp/skipped"
: >"$tmp/failed"
passed=0 skipped=0 failed=0 replays=0 replay_failed=0 programs=0

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] || continue
	name=${t##*/}
	programs=$((programs + 1))
	: >"$tmp/skip"
	{ IKEAGENT_SKIP_FILE=$tmp/skip CK_FORK=yes "$t" 2>&1; echo $? >"$tmp/rc"; } | tee "$tmp/out"
	rc=$(cat "$tmp/rc")
	# Check's last line: "NN%: Checks: C, Failures: F, Errors: E"
	line=$(grep -E '^[0-9]+%: Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$tmp/out" | tail -n 1)
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		echo "$name: no Check summary (exit $rc): the program died before its tests ran" >>"$tmp/failed"
		continue
	fi
	set -- $(echo "$line" | sed -E 's/^[0-9]+%: Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2 \3/')
	checks=$1 fails=$(($2 + $3))
	# A test that skipped and then failed is a failure, not a skip.
	nskip=$(grep -c '' "$tmp/skip")
	if [ "$nskip" -gt 0 ]; then
		while IFS= read -r s; do
			test=${s#* }
			test=${test%%:*}
			if grep -q -E "^[^:]+:[0-9]+:[EF]:[^:]*:$test:" "$tmp/out"; then
				nskip=$((nskip - 1))
			else
				echo "$s" >>"$tmp/skipped"
			fi
		done <"$tmp/skip"
	fi
	skipped=$((skipped + nskip))
	failed=$((failed + fails))
	passed=$((passed + checks - fails - nskip))
	if [ "$fails" -gt 0 ]; then
		grep -E '^[^:]+:[0-9]+:[EF]:' "$tmp/out" | sed "s|^|$name: |" >>"$tmp/failed"
	elif [ "$rc" != 0 ]; then
		failed=$((failed + 1))
		echo "$name: exit $rc with no failed test" >>"$tmp/failed"
	fi
done

for r in "$BUILD"/replay/fuzz_*; do
	[ -x "$r" ] || continue
	n=${r##*/fuzz_}
	replays=$((replays + 1))
	if ! "$r" "tests/fuzz/corpus/$n"; then
		replay_failed=$((replay_failed + 1))
		echo "replay $n: failed (see above)" >>"$tmp/failed"
	fi
done

if [ "$programs" -eq 0 ]; then	# a wrong BUILD must not pass with nothing run
	failed=$((failed + 1))
	echo "no test programs in $BUILD/tests (make $BUILD first)" >>"$tmp/failed"
fi
ci_fail=0
{
	echo "unit: $passed tests passed, $skipped skipped, $failed failed;" \
		"replay: $((replays - replay_failed)) corpora clean, $replay_failed failed"
	if [ "$skipped" -gt 0 ]; then
		echo "unit: skipped (Check counted these as passed):"
		sed 's/^/  SKIP /' "$tmp/skipped"
	fi
	if [ -s "$tmp/failed" ]; then
		echo "unit: failed:"
		sed 's/^/  FAIL /' "$tmp/failed"
	fi
} | tee "$tmp/summary"
if [ "$skipped" -gt 0 ] && [ "${CI:-}" = true ]; then
	ci_fail=1
	echo "unit: FAIL: $skipped tests skipped under CI=true (CI has root and namespaces:" \
		"a skip means something is missing)" | tee -a "$tmp/summary"
fi
{ mkdir -p "$BUILD" && cp "$tmp/summary" "$BUILD/unit-summary"; } 2>/dev/null ||
	echo "unit: note: cannot write $BUILD/unit-summary"
[ "$failed" -eq 0 ] && [ "$replay_failed" -eq 0 ] && [ "$ci_fail" -eq 0 ]
