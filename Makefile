# SPDX-License-Identifier: BSD-3-Clause
#
# A thin wrapper around meson/ninja. The two commands a new user needs:
#   make demo    install what is missing, build, run the main job
#   make check   every test suite, with gcc, clang and ASan+UBSan
.PHONY: all deps build demo check bench clean

BUILD ?= build

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

clean:
	rm -rf build build-asan build-clang build-bench
