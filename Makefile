# Thin wrapper over Meson + ninja. See README.md.
#
#   make          build build/sipd (optimized, with debug info)
#   make run      install missing packages, build, start sipd in the foreground
#   make check    install missing packages, build build/sipd and, with
#                 ASan+UBSan, every test; run every test
#   make fuzz     build the libFuzzer harnesses with clang and run each one
#                 for FUZZ_SECONDS (default 60)
#   make bench    parser micro-benchmark
#   make bench-compare   sipd beside Kamailio (bench/compare.sh; ARGS=--quick)
#   make clean

BUILD       := build
CHECK_BUILD := build-check
FUZZ_BUILD  := build-fuzz
FUZZ_SECONDS ?= 60
ARGS ?=

.PHONY: all run check fuzz bench bench-compare clean deps

all: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	@tools/deps.sh build

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized -Db_lto=true

run: all
	./$(BUILD)/sipd $(ARGS)

$(CHECK_BUILD)/build.ninja:
	meson setup $(CHECK_BUILD) --buildtype=debug --werror \
		-Db_sanitize=address,undefined -Db_lundef=false

# check builds build/sipd first (all): the hardening_release test reads the
# ELF of the binary users get, whose _FORTIFY_SOURCE the sanitizer build
# cannot have.
check: all
	@tools/deps.sh check
	$(MAKE) --no-print-directory $(CHECK_BUILD)/build.ninja
	ninja -C $(CHECK_BUILD)
	@SIPD_RELEASE=$(CURDIR)/$(BUILD)/sipd tools/run-tests.sh $(CHECK_BUILD)

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debugoptimized -Dfuzz=true \
		-Db_lundef=false

fuzz:
	@tools/deps.sh fuzz
	$(MAKE) --no-print-directory $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)
	tools/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

bench: all
	./$(BUILD)/bench/bench_parser $$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

clean:
	rm -rf $(BUILD) $(CHECK_BUILD) $(FUZZ_BUILD)

bench-compare:
	bench/compare.sh $(ARGS)
