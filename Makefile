# SPDX-License-Identifier: BSD-3-Clause
#
# A thin wrapper around meson/ninja. The two commands a new user needs:
#   make demo    install what is missing, build, run the main job
#   make check   every test suite, with gcc, clang and ASan+UBSan
#   make fuzz    the libFuzzer campaigns (FUZZ_SECONDS per target, FUZZ_TARGETS)
.PHONY: all deps build demo check bench fuzz clean

BUILD ?= build
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= all
FUZZ_BINS = $(addprefix fuzz/fuzz_,$(shell fuzz/run.sh list))

all: build

deps:
	@scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: build
	@scripts/demo.sh $(BUILD)

check: deps
	@python3 scripts/check.py

bench: deps
	meson setup build-bench --buildtype=release -Dtests=false >/dev/null 2>&1 || true
	ninja -C build-bench
	@scripts/bench.sh build-bench

build-fuzz/build.ninja:
	CC=clang meson setup build-fuzz -Dfuzz=true -Dtests=false

# Campaigns run one target at a time, each on one core (see fuzz/README.md).
fuzz: deps build-fuzz/build.ninja
	nice ninja -C build-fuzz -j2 $(FUZZ_BINS)
	fuzz/run.sh "$(FUZZ_TARGETS)" $(FUZZ_SECONDS) build-fuzz

clean:
	rm -rf build build-asan build-clang build-bench build-fuzz
