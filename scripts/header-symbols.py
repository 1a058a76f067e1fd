#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Print the functions the public headers export (UVFIO_EXPORT), one per line, sorted.

Used to write lib/libuvfio.map and by tests/abi to check that the library
exports exactly what the headers declare.
"""
import re
import sys

names = set()
for path in sys.argv[1:]:
    text = open(path, encoding="utf-8").read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    for m in re.finditer(r"UVFIO_EXPORT\b([^;{]*?)\(", text, flags=re.S):
        ident = re.findall(r"[A-Za-z_][A-Za-z0-9_]*", m.group(1))
        if ident:
            names.add(ident[-1])
print("\n".join(sorted(names)))
