#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Run the libFuzzer targets of a build directory configured with
# -Dfuzz=true (clang). See fuzz/README.md.
#
#   fuzz/run.sh list
#       the targets' names
#   fuzz/run.sh smoke BUILD_DIR
#       every target on its seed corpus plus $SMOKE_SECONDS (default 5) s of
#       fuzzing, into a scratch directory; TAP on stdout, exit 1 on failure
#   fuzz/run.sh TARGET|all SECONDS BUILD_DIR
#       campaigns, one target after the other, each for SECONDS, keeping
#       their corpus in fuzz/corpus-TARGET/ (seeded from fuzz/corpus/TARGET)
#       and their crashes and log in fuzz/corpus-TARGET-out/
#
# Targets run one at a time, on one core, under nice. Extra libFuzzer flags
# can be passed in $FUZZ_FLAGS (e.g. FUZZ_FLAGS=-seed=1).
set -u

FUZZ_DIR=$(cd "$(dirname "$0")" && pwd)
TARGETS="proto vfio_user pcicaps emu cfgspace dmatable"

usage() {
	echo "usage: $0 smoke BUILD_DIR | $0 TARGET|all SECONDS BUILD_DIR" >&2
	echo "targets: $TARGETS" >&2
	exit 2
}

# Per-target libFuzzer flags: input size, a per-input timeout well above the
# slowest legitimate input, the dictionary if there is one.
flags_for() {
	case $1 in
	pcicaps) f="-max_len=4200" ;;
	emu) f="-max_len=8192 -timeout=30" ;;
	vfio_user) f="-max_len=4096 -timeout=30" ;;
	*) f="-max_len=4096 -timeout=30" ;;
	esac
	[ -f "$FUZZ_DIR/$1.dict" ] && f="$f -dict=$FUZZ_DIR/$1.dict"
	echo "$f -rss_limit_mb=2048 -print_final_stats=1"
}

# "cov N ft M" from the last status line of a libFuzzer log.
cov_of() {
	grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$1" | tail -n 1 | sed 's/cov: \([0-9]*\) ft: \([0-9]*\)/cov \1 ft \2/'
}

runs_of() {
	sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1
}

# run_one TARGET SECONDS CORPUS OUTDIR LOG: 0 when libFuzzer ended cleanly.
run_one() {
	bin=$BUILD/fuzz/fuzz_$1
	seeds=$FUZZ_DIR/corpus/$1
	mkdir -p "$3" "$4"
	[ -d "$seeds" ] || seeds=
	# shellcheck disable=SC2046,SC2086
	nice -n 10 "$bin" $(flags_for "$1") ${FUZZ_FLAGS:-} \
		-max_total_time="$2" -artifact_prefix="$4/" "$3" $seeds >"$5" 2>&1
}

# The one list of targets: `make fuzz` and make check's fuzz step ask for it.
if [ "${1:-}" = list ]; then
	echo "$TARGETS"
	exit 0
fi
[ $# -ge 2 ] || usage

if [ "$1" = smoke ]; then
	BUILD=$2
	secs=${SMOKE_SECONDS:-5}
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/uvfio-fuzz-smoke.XXXXXX")
	n=0
	fail=0
	echo "1..$(echo "$TARGETS" | wc -w)"
	for t in $TARGETS; do
		n=$((n + 1))
		if [ ! -x "$BUILD/fuzz/fuzz_$t" ]; then
			echo "not ok $n - fuzz_$t: not built (CC=clang meson setup $BUILD -Dfuzz=true)"
			fail=1
			continue
		fi
		log=$scratch/$t.log
		if run_one "$t" "$secs" "$scratch/corpus-$t" "$scratch/out-$t" "$log"; then
			echo "ok $n - fuzz_$t: $(runs_of "$log") runs, $(cov_of "$log"), no crash"
		else
			echo "not ok $n - fuzz_$t: failed after $(runs_of "$log") runs, $(cov_of "$log")"
			grep -E '^==[0-9]+==ERROR|^==fuzz==|^SUMMARY|Test unit written' "$log" | head -n 8 | sed 's/^/# /'
			echo "# full log: $log"
			fail=1
		fi
	done
	[ $fail = 0 ] && rm -rf "$scratch"
	exit $fail
fi

[ $# -eq 3 ] || usage
which=$1
secs=$2
BUILD=$3
[ "$which" = all ] && which=$TARGETS
fail=0
for t in $which; do
	if [ ! -x "$BUILD/fuzz/fuzz_$t" ]; then
		echo "fuzz_$t: not built in $BUILD" >&2
		fail=1
		continue
	fi
	corpus=$FUZZ_DIR/corpus-$t
	out=$FUZZ_DIR/corpus-$t-out
	log=$out/$(date +%Y%m%d-%H%M%S).log
	mkdir -p "$out"
	echo "fuzz_$t: $secs s into $corpus (log $log)"
	start=$(date +%s)
	if run_one "$t" "$secs" "$corpus" "$out" "$log"; then
		res="no crash"
	else
		res="FAILED:"
		for a in "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* "$out"/slow-unit-*; do
			[ -e "$a" ] && res="$res $a"
		done
		fail=1
	fi
	end=$(date +%s)
	echo "fuzz_$t: $((end - start)) s, $(runs_of "$log") execs, $(cov_of "$log"), corpus $(find "$corpus" -type f | wc -l) files, $res"
done
exit $fail
