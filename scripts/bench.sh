#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# make bench: run every benchmark from a release build. Each prints its
# figure next to the floor measured in the same run; docs/perf.md keeps the
# latest table. Run on an otherwise idle machine.
set -e
B=${1:-build-bench}
echo "# uvfio benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cpus, $(uname -r)"
echo
"$B/bench/bench_rtt"
echo
"$B/bench/bench_dma_map"
echo
"$B/bench/bench_dmatable"
echo
"$B/bench/bench_irq"
echo
"$B/bench/bench_dma_copy"
echo
"$B/bench/bench_bar"
