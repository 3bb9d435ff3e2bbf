#!/bin/sh
# Runs every network test (tests/net/test_*.sh). They need root and network
# namespaces; without them each is skipped (exit 77) with the reason. Under
# CI=true a skip is a failure: CI has root and namespaces, so a skip there
# always means something is missing (a package, a tool). Ends with
#   net: P passed, F failed, S skipped
# and the names of the skipped and failed tests; the summary also goes to
# BUILD/net-summary (for `make check`).
BUILD=${1:-build}
pass=0 fail=0 skip=0 skipped="" failed=""
for t in tests/net/test_*.sh; do
	[ -e "$t" ] || continue
	sh "$t" "$BUILD"
	rc=$?
	n=${t##*/}
	case $rc in
	0) pass=$((pass+1)) ;;
	77)
		if [ "${CI:-}" = true ]; then
			fail=$((fail+1))
			failed="$failed ${n%.sh}(skipped-under-CI)"
			echo "net: FAIL $t (skipped under CI=true: see its reason above)"
		else
			skip=$((skip+1))
			skipped="$skipped ${n%.sh}"
		fi ;;
	*) fail=$((fail+1)); failed="$failed ${n%.sh}(exit-$rc)"; echo "net: FAIL $t (exit $rc)" ;;
	esac
done
{
	echo "net: $pass passed, $fail failed, $skip skipped"
	[ -z "$skipped" ] || echo "net: skipped:$skipped (reasons above)"
	[ -z "$failed" ] || echo "net: failed:$failed"
} | tee "$BUILD/net-summary.tmp" 2>/dev/null
mv "$BUILD/net-summary.tmp" "$BUILD/net-summary" 2>/dev/null
[ $fail -eq 0 ]
