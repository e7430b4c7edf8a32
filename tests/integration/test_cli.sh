#!/bin/sh
# The command-line contract of DESIGN.md §5 that exists so far:
# --help and --version exit 0, a usage error exits 2 with one line on stderr.
# Prints TAP.
set -u
sipd=$1
n=0
failed=0

check() { # description, expected status, expected stderr lines (or -), command...
	desc=$1 want=$2 lines=$3
	shift 3
	n=$((n + 1))
	err=$("$@" 2>&1 >/dev/null)
	got=$?
	count=$(printf '%s' "$err" | grep -c '')
	if [ "$got" -ne "$want" ] || { [ "$lines" != - ] && [ "$count" -ne "$lines" ]; }; then
		echo "not ok $n - $desc (status $got, $count stderr lines: $err)"
		failed=$((failed + 1))
	else
		echo "ok $n - $desc"
	fi
}

check "--help exits 0" 0 0 "$sipd" --help
check "-h exits 0" 0 0 "$sipd" -h
check "--version exits 0" 0 0 "$sipd" --version
check "unknown long flag exits 2" 2 1 "$sipd" --no-such-flag
check "unknown short flag exits 2" 2 1 "$sipd" -Z
check "missing value exits 2" 2 1 "$sipd" --listen
check "bad log level exits 2" 2 1 "$sipd" --log-level loud
check "stray argument exits 2" 2 1 "$sipd" extra

n=$((n + 1))
if "$sipd" --version | grep -Eq '^sipd [0-9]+\.[0-9]+\.[0-9]+$'; then
	echo "ok $n - version line"
else
	echo "not ok $n - version line"
	failed=$((failed + 1))
fi
n=$((n + 1))
if "$sipd" --help | grep -q -- '--listen PROTO:ADDR:PORT'; then
	echo "ok $n - help lists --listen"
else
	echo "not ok $n - help lists --listen"
	failed=$((failed + 1))
fi
echo "1..$n"
[ "$failed" -eq 0 ]
