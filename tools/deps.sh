#!/bin/sh
# Install the Debian packages sipd needs, and only those that are missing.
#
#   tools/deps.sh [build|check|fuzz]...    (default: build)
#
# build  compile sipd
# check  build + run every test (make check)
# fuzz   build the libFuzzer harnesses with clang (make fuzz)
# bench  build + the comparison beside Kamailio (bench/compare.sh): SIPp,
#        Kamailio with its SQLite modules, the sqlite3 shell. Installing the
#        kamailio package starts no Kamailio the benchmark uses.
#
# apt-get update runs only when something is missing. Needs root or sudo
# when it has to install.
set -eu

pkgs_build="gcc make meson ninja-build pkg-config python3 libssl-dev libsqlite3-dev"
pkgs_check="$pkgs_build libcmocka-dev sipsak sip-tester baresip-core iproute2"
pkgs_fuzz="$pkgs_check clang libclang-rt-dev"
pkgs_bench="$pkgs_build sip-tester kamailio kamailio-sqlite-modules sqlite3"

want=""
[ $# -eq 0 ] && set -- build
for profile in "$@"; do
	case "$profile" in
	build) want="$want $pkgs_build" ;;
	check) want="$want $pkgs_check" ;;
	fuzz) want="$want $pkgs_fuzz" ;;
	bench) want="$want $pkgs_bench" ;;
	*) echo "deps.sh: unknown profile '$profile' (build, check, fuzz or bench)" >&2; exit 2 ;;
	esac
done

missing=""
for p in $want; do
	case " $missing " in *" $p "*) continue ;; esac
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done

[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "deps.sh: need root (or sudo) to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
