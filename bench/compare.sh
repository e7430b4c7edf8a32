#!/bin/sh
# sipd beside Kamailio on this machine: bench/README.md.
#
#   bench/compare.sh            full run: 3 rounds of 15 s runs (about 30 min on 2 cores)
#   bench/compare.sh --quick    smoke pass: 1 round of 5 s runs (about 8 min)
#   bench/compare.sh --workers-only   only sipd with 1 and 2 worker threads
#                               (highest sustained rate; about 5 min)
#   bench/compare.sh --help     every option of bench/lib/compare.py
#
# Installs the Debian packages that are missing (tools/deps.sh bench: the
# build's, SIPp, Kamailio and its SQLite modules, sqlite3), builds
# build/sipd optimized (make), then runs bench/lib/compare.py, which writes
# bench/results/<date>-<commit>[-quick][-workers].{md,json}.
#
# SIPD_BINARY=/path/to/sipd: measure that binary instead; make is skipped
# (e.g. a build of an older commit in a git worktree while src/ does not
# build). The report names the commit of the tree the binary is in.
#
# Everything runs on 127.0.0.1: sipd on 5080, Kamailio on 5070, SIPp on
# 5190-5193; the run stops with an error if one of them is busy. Servers
# and SIPp run from a temporary work directory; on any exit the trap below
# stops every server started there (by the process group recorded at its
# start) and removes the directory, unless compare.py asked to keep it
# (a failure, or --keep): then its path is printed.
set -eu
cd "$(dirname "$0")/.."

case " $* " in
*" --help "* | *" -h "*) exec python3 bench/lib/compare.py --help ;;
esac

tools/deps.sh bench
if [ -n "${SIPD_BINARY:-}" ]; then
	[ -x "$SIPD_BINARY" ] || { echo "bench/compare.sh: SIPD_BINARY=$SIPD_BINARY is not an executable" >&2; exit 2; }
	echo "bench/compare.sh: using SIPD_BINARY=$SIPD_BINARY (not building)" >&2
else
	make
fi

work=$(mktemp -d /tmp/sipd-bench.XXXXXX)
cleanup() {
	python3 bench/lib/servers.py stop-all "$work" || true
	if [ -e "$work/KEEP" ]; then
		echo "bench/compare.sh: work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

python3 bench/lib/compare.py --workdir "$work" "$@"
