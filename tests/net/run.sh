#!/bin/sh
# Runs every network test (tests/net/test_*.sh). They need root and network
# namespaces; without them each is skipped with the reason.
BUILD=${1:-build}
pass=0 fail=0 skip=0
for t in tests/net/test_*.sh; do
	[ -e "$t" ] || continue
	sh "$t" "$BUILD"
	rc=$?
	case $rc in
	0) pass=$((pass+1)) ;;
	77) skip=$((skip+1)) ;;
	*) fail=$((fail+1)); echo "net: FAIL $t (exit $rc)" ;;
	esac
done
echo "net: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
