#!/bin/sh
# Run each libFuzzer harness for a fixed time (make fuzz).
#
#   tools/fuzz.sh BUILD_DIR SECONDS
#
# BUILD_DIR is a build configured with -Dfuzz=true (clang). For each harness
# (fuzz_msg, fuzz_uri, fuzz_core, fuzz_stream, fuzz_config, fuzz_csv,
# fuzz_auth) the working corpus is BUILD_DIR/fuzz-corpus/<name>, seeded
# from tests/fuzz/corpus/<name> so the committed corpus is never written
# to; inputs found in earlier runs stay there and are reused.
# Crashes, leaks and timeouts go to tests/fuzz/crashes/ (gitignored), the
# full log to BUILD_DIR/fuzz-<name>.log. Prints each run's final stats line
# ("#N DONE cov: ... exec/s: ...") and exits 1 if any harness failed.
# FUZZ_ARGS adds libFuzzer flags, e.g. FUZZ_ARGS="-fork=2 -ignore_crashes=1"
# to keep going past a known crash (then the stats line is the last "#N").
set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR SECONDS" >&2
	exit 2
fi
build=$1
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
crashes="$root/tests/fuzz/crashes"
status=0

mkdir -p "$crashes"
for name in msg uri core stream config csv auth; do
	bin="$build/tests/fuzz/fuzz_$name"
	work="$build/fuzz-corpus/$name"
	log="$build/fuzz-$name.log"
	if [ ! -x "$bin" ]; then
		echo "fuzz.sh: $bin missing (configure with -Dfuzz=true)" >&2
		exit 1
	fi
	mkdir -p "$work"
	cp "$root/tests/fuzz/corpus/$name/"* "$work/"
	case $name in
	msg) extra="-max_len=8192" ;;
	# core: a few datagrams per input; plain messages are inputs too, so
	# the parser's corpus seeds it as well
	core) extra="-max_len=16384"
		cp "$root/tests/fuzz/corpus/msg/"* "$work/" ;;
	# stream: framing re-decodes the buffer per read (as tcp.c does), so
	# one-byte reads of a long input cost its length squared
	stream) extra="-max_len=4096" ;;
	*) extra="" ;;
	esac
	echo "fuzz.sh: fuzz_$name for ${seconds}s, corpus $work, log $log"
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 $extra \
		${FUZZ_ARGS:-} -artifact_prefix="$crashes/$name-" "$work" >"$log" 2>&1
	rc=$?
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
	[ -n "$done_line" ] || done_line=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	if [ -n "$done_line" ]; then
		echo "fuzz_$name: $done_line"
	else
		echo "fuzz.sh: fuzz_$name: no stats line in $log" >&2
		status=1
	fi
	if [ $rc -ne 0 ]; then
		echo "fuzz.sh: fuzz_$name FAILED (exit $rc); input and stack:" >&2
		grep -E 'Test unit written|ERROR:|SUMMARY|property broken|^ +#[0-9]+ ' \
			"$log" | head -n 40 >&2
		status=1
	fi
done
exit $status
