#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# ABI checks, TAP output:
#  - libuvfio.so exports exactly the functions the public headers declare,
#  - lib/libuvfio.map lists exactly those,
#  - every public header compiles on its own, as C and as C++.
# usage: check-abi.sh SRCDIR LIBUVFIO.SO CC CXX
SRC=$1 LIB=$2 CC=${3:-cc} CXX=${4:-c++}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }

python3 "$SRC/scripts/header-symbols.py" "$SRC"/include/uvfio/*.h > "$tmp/headers"
nm -D --defined-only "$LIB" | awk '$2 == "T" { print $3 }' | sed 's/@.*//' | sort > "$tmp/exported"
if diff -u "$tmp/headers" "$tmp/exported" > "$tmp/d1"; then
	ok "exported symbols match the headers ($(wc -l < "$tmp/headers") functions)"
else
	sed 's/^/# /' "$tmp/d1"
	notok "exported symbols match the headers"
fi
sed -n 's/^[[:space:]]*\(uvfio_[a-z0-9_]*\);$/\1/p' "$SRC/lib/libuvfio.map" | sort > "$tmp/map"
if diff -u "$tmp/headers" "$tmp/map" > "$tmp/d2"; then
	ok "lib/libuvfio.map matches the headers"
else
	sed 's/^/# /' "$tmp/d2"
	notok "lib/libuvfio.map matches the headers (run scripts/gen-map.sh)"
fi
for h in "$SRC"/include/uvfio/*.h; do
	name=uvfio/$(basename "$h")
	printf '#include <%s>\n#include <%s>\nint main(void) { return 0; }\n' "$name" "$name" > "$tmp/t.c"
	if "$CC" -std=c11 -Wall -Wextra -Werror -pedantic -I"$SRC/include" -c "$tmp/t.c" -o "$tmp/t.o" 2> "$tmp/err"; then
		ok "$name compiles alone as C11 (included twice)"
	else
		sed 's/^/# /' "$tmp/err"
		notok "$name compiles alone as C11"
	fi
	cp "$tmp/t.c" "$tmp/t.cc"
	if "$CXX" -std=c++11 -Wall -Wextra -Werror -I"$SRC/include" -c "$tmp/t.cc" -o "$tmp/t.o" 2> "$tmp/err"; then
		ok "$name compiles from C++11"
	else
		sed 's/^/# /' "$tmp/err"
		notok "$name compiles from C++11"
	fi
done
echo "1..$n"
[ "$fail" = 0 ]
