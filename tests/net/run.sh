#!/bin/sh
# Runs every network test (tests/net/test_*.sh). They need root and network
# namespaces; without them each is skipped with the reason. Under CI=true a
# skip is a failure: CI has root and namespaces, so a skip there always
# means something is missing (a package, a tool).
BUILD=${1:-build}
pass=0 fail=0 skip=0
for t in tests/net/test_*.sh; do
	[ -e "$t" ] || continue
	sh "$t" "$BUILD"
	rc=$?
	case $rc in
	0) pass=$((pass+1)) ;;
	77)
		if [ "${CI:-}" = true ]; then
			fail=$((fail+1))
			echo "net: FAIL $t (skipped under CI=true: see its reason above)"
		else
			skip=$((skip+1))
		fi ;;
	*) fail=$((fail+1)); echo "net: FAIL $t (exit $rc)" ;;
	esac
done
echo "net: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
