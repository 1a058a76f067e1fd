#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# make demo: serve the dma device model over vfio-user, show what a driver
# sees of it, and run the dma driver through <uvfio/vfio.h>.
set -e
BUILD=${1:-build}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
sock=$tmp/dma.sock
srv=
cleanup() {
	[ -n "$srv" ] && kill "$srv" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

echo "== uvfio serve dma --socket $sock -v"
"$BUILD/tools/uvfio" serve dma --socket "$sock" -v &
srv=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
[ -S "$sock" ] || { echo "demo: the server did not come up" >&2; exit 1; }

echo
echo "== uvfio info $sock"
"$BUILD/tools/uvfio" info "$sock"

echo
echo "== dma-copy $sock --bytes 256M --chunk 4M"
"$BUILD/drivers/dma-copy" "$sock" --bytes 256M --chunk 4M

echo
echo "== stopping the server (SIGTERM)"
kill -TERM "$srv"
wait "$srv"
srv=
if [ -e "$sock" ]; then
	echo "demo: the server left its socket behind" >&2
	exit 1
fi
echo "== done: the server exited cleanly and removed its socket"
