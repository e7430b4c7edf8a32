#!/bin/sh
# The hardening of the top meson.build, read back from the ELF of a sipd
# binary with readelf (and objdump for -fcf-protection). One TAP line per
# property.
#
#   test_hardening.sh [--fortify] [--cet] [--no-plt] [--release] SIPD
#
# Always: PIE (ET_DYN with PT_INTERP), a GNU_RELRO segment, BIND_NOW (full
# RELRO), an import of __stack_chk_fail (-fstack-protector-strong), a
# GNU_STACK segment that is not executable.
# --fortify  at least one __*_chk import (_FORTIFY_SOURCE; optimized builds
#            without sanitizers only)
# --cet      main starts with endbr64 (-fcf-protection, x86-64)
# --no-plt   at most 4 PLT jump slots (-fno-plt: calls go through the GOT;
#            what is left comes from libc_nonshared.a, built without it)
# --release  the binary users get: no sanitizer runtime among its NEEDED.
#            SIPD_RELEASE in the environment overrides SIPD (make check
#            passes its build/sipd); a missing binary skips the test.
set -u
fortify=0 cet=0 noplt=0 release=0
while [ $# -gt 1 ]; do
	case "$1" in
	--fortify) fortify=1 ;;
	--cet) cet=1 ;;
	--no-plt) noplt=1 ;;
	--release) release=1 ;;
	*) echo "Bail out! unknown option $1"; exit 2 ;;
	esac
	shift
done
sipd=${1:?usage: test_hardening.sh [options] SIPD}
if [ "$release" -eq 1 ]; then
	sipd=${SIPD_RELEASE:-$sipd}
	if [ ! -f "$sipd" ]; then
		echo "1..0 # SKIP no release binary $sipd (run make first)"
		exit 0
	fi
fi
export LC_ALL=C
for tool in readelf objdump; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "Bail out! $tool not found (binutils: tools/deps.sh check)"
		exit 1
	fi
done
if ! header=$(readelf -hW "$sipd" 2>&1); then
	echo "Bail out! readelf cannot read $sipd: $header"
	exit 1
fi
segments=$(readelf -lW "$sipd")
dynamic=$(readelf -dW "$sipd")
imports=$(readelf --dyn-syms -W "$sipd" | awk '$7 == "UND" { sub(/@.*/, "", $8); print $8 }')
name=$(realpath "$sipd" 2>/dev/null || echo "$sipd")
n=0
failed=0

skip() { # description, reason
	n=$((n + 1))
	echo "ok $n - $name: $1 # SKIP $2"
}

result() { # 0 or 1, description
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $n - $name: $2"
	else
		echo "not ok $n - $name: $2"
		failed=$((failed + 1))
	fi
}

# PIE: an ET_DYN object with a program interpreter (a shared library has none)
type=$(printf '%s\n' "$header" | awk '$1 == "Type:" { print $2 }')
printf '%s\n' "$segments" | grep -q '^ *INTERP '
interp=$?
[ "$type" = DYN ] && [ $interp -eq 0 ]
result $? "PIE (ELF type $type, PT_INTERP $([ $interp -eq 0 ] && echo present || echo missing))"

printf '%s\n' "$segments" | grep -q '^ *GNU_RELRO '
result $? "GNU_RELRO segment (-Wl,-z,relro)"

now=$(printf '%s\n' "$dynamic" | awk '
	$2 == "(FLAGS)" && / BIND_NOW/ { s = s "FLAGS BIND_NOW " }
	$2 == "(FLAGS_1)" && / NOW/ { s = s "FLAGS_1 NOW" }
	END { print s }')
[ -n "$now" ]
result $? "BIND_NOW in the dynamic section (-Wl,-z,now; ${now:-no FLAGS BIND_NOW, no FLAGS_1 NOW})"

printf '%s\n' "$imports" | grep -qx '__stack_chk_fail'
result $? "imports __stack_chk_fail (-fstack-protector-strong)"

# flags are the fields between MemSiz and Align: "RW", "R E", "RWE"
stack=$(printf '%s\n' "$segments" | awk '$1 == "GNU_STACK" { f = ""; for (i = 7; i < NF; i++) f = f $i; print f }')
[ -n "$stack" ] && ! printf '%s' "$stack" | grep -q E
result $? "GNU_STACK not executable (flags ${stack:-none: no GNU_STACK segment})"

if [ "$fortify" -eq 1 ]; then
	chk=$(printf '%s\n' "$imports" | grep -E '^__[a-z_]+_chk$' | grep -vx '__stack_chk_fail' | sort)
	count=$(printf '%s' "$chk" | grep -c '')
	[ "$count" -gt 0 ]
	result $? "$count fortified __*_chk imports (_FORTIFY_SOURCE): $(printf '%s\n' "$chk" | head -n 4 | tr '\n' ' ')"
else
	skip "fortified __*_chk imports (_FORTIFY_SOURCE)" "not in this build (no optimization, or sanitizers)"
fi

if [ "$noplt" -eq 1 ]; then
	slots=$(readelf -rW "$sipd" | grep -c 'R_X86_64_JUMP_SLOT\|R_AARCH64_JUMP_SLOT')
	funcs=$(printf '%s\n' "$imports" | grep -c .)
	[ "$slots" -le 4 ]
	result $? "$slots PLT jump slots for $funcs undefined symbols (-fno-plt; at most 4)"
else
	skip "PLT jump slots (-fno-plt)" "no -fno-plt, or a static sanitizer runtime"
fi

if [ "$cet" -eq 1 ]; then
	first=$(objdump -d --no-show-raw-insn --disassemble=main "$sipd" 2>/dev/null |
		awk '/<main>:/ { getline; print $2; exit }')
	[ "$first" = endbr64 ]
	result $? "main starts with endbr64 (-fcf-protection; first instruction ${first:-not found})"
else
	skip "endbr64 (-fcf-protection)" "not x86-64, or the compiler has no -fcf-protection"
fi

if [ "$release" -eq 1 ]; then
	san=$(printf '%s\n' "$dynamic" | grep NEEDED | grep -oE 'lib(a|ub|t|m|hwa|l)san[^]]*' | tr '\n' ' ')
	[ -z "$san" ]
	result $? "a release binary: no sanitizer runtime NEEDED${san:+ ($san)}"
fi

echo "1..$n"
[ "$failed" -eq 0 ]
