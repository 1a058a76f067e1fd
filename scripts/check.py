#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""make check: build and run every suite in each build variant, then print
one summary. The last line is always "N passed, M failed", counting test
cases (TAP lines), not programs; a program that crashes or times out counts
as one more failure.

Variants:
  gcc     -Werror, the suites as they are
  asan    gcc with AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer)
  clang   -Werror, to keep the tree clean for both compilers
Extra steps (added by later work) run after the variants and are counted too.

Then the VM rig (tests/vm/run.py, docs/testing.md), twice, with the gcc
build's binaries: `vm` boots a stock Debian kernel (type1), `vm-iommufd` a
kernel with IOMMUFD and VFIO_DEVICE_CDEV that the rig builds from Debian's
linux-source the first time (~5 minutes, its progress printed here) and
caches. Their TAP lines are counted like the rest; a missing QEMU, a failed
download or build, or a guest that never answers is a failure with the
rig's own sentence, never a silent skip.

`scripts/check.py NAME...` runs only the named variants and steps (e.g.
`scripts/check.py vm vm-iommufd`, which builds the gcc variant first if it
must).
"""
import json
import os
import re
import subprocess
import sys
import time

import meson_tap  # scripts/meson_tap.py: the build and TAP helpers the check.d steps share

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

VARIANTS = [
    ("gcc", "build", {}, ["-Dwerror=true"]),
    ("asan", "build-asan", {}, ["-Dwerror=true", "-Db_sanitize=address,undefined",
                                "-Db_lundef=false", "--buildtype=debug"]),
    ("clang", "build-clang", {"CC": "clang"}, ["-Dwerror=true"]),
]

SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:halt_on_error=1:abort_on_error=0:strict_string_checks=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
    "LSAN_OPTIONS": "exitcode=23",
}

TAP_OK = re.compile(r"^ok \d+")
TAP_NOT_OK = re.compile(r"^not ok \d+")
TAP_SKIP = re.compile(r"^ok \d+.*# SKIP")

VM_BUILD = "build"   # the gcc variant's directory: the rig boots its binaries
# (step, run.py arguments, limit in seconds). The rig's own limits (QEMU 90 s,
# 180 s for the iommufd guest; apt 90 s) come first; vm-iommufd's allows for
# building its kernel the first time: ~6 min on two idle cores, 15 min
# measured on two cores shared with other work.
VM_STEPS = [
    ("vm", [], 180),
    ("vm-iommufd", ["--iommufd"], 1500),
]


def run(cmd, env=None, log=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run(cmd, cwd=ROOT, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if log is not None:
        log.append(p.stdout)
    return p.returncode, p.stdout


def setup(name, builddir, env, opts):
    """Configure (or reconfigure) and build one variant: (status, output)."""
    return meson_tap.build(builddir, opts, env)


def count(builddir):
    """(passed, failed, failed test names) from meson's test log."""
    passed = failed = 0
    names = []
    path = os.path.join(ROOT, builddir, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        return 0, 1, ["(no test log)"]
    for line in open(path, encoding="utf-8"):
        t = json.loads(line)
        out = t.get("stdout") or ""
        oks = sum(1 for l in out.splitlines() if TAP_OK.match(l))
        bad = [l for l in out.splitlines() if TAP_NOT_OK.match(l)]
        ok_result = t["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
        if not oks and not bad:
            if ok_result:
                passed += 1
            else:
                failed += 1
                names.append(f'{t["name"]} ({t["result"]})')
            continue
        passed += oks
        failed += len(bad)
        names += [f'{t["name"]}: {l}' for l in bad]
        if not ok_result and not bad:
            failed += 1
            names.append(f'{t["name"]} ({t["result"]}, rc {t.get("returncode")})')
    return passed, failed, names


def run_vm(built, step, args, limit):
    """One run of the VM rig: (passed, failed, skipped, output). The rig's
    "# kernel:" lines (the iommufd kernel's build) are echoed as they come."""
    if not built:
        return 0, 1, 0, f"check: {step}: not run: the gcc build it boots failed\n"
    t0 = time.time()
    p = subprocess.Popen(["timeout", "-k", "10", str(limit), sys.executable,
                          os.path.join(ROOT, "tests", "vm", "run.py"), VM_BUILD] + args,
                         cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = []
    for line in p.stdout:
        out.append(line)
        if line.startswith("# kernel:"):
            print(f"check: {step} [{time.time() - t0:4.0f} s] {line[2:].rstrip()}", flush=True)
    rc = p.wait()
    out = "".join(out)
    lines = out.splitlines()
    passed = sum(1 for l in lines if TAP_OK.match(l))
    f = sum(1 for l in lines if TAP_NOT_OK.match(l))
    s = sum(1 for l in lines if TAP_SKIP.match(l))
    if rc in (124, 137):
        out += f"check: {step}: the rig ran past {limit} s and was stopped\n"
        f += 1
    elif rc and not f:
        out += f"check: {step}: the rig exited with status {rc} without a failed test\n"
        f += 1
    return passed, f, s, out


def main():
    total_p = total_f = 0
    lines = []
    t0 = time.time()
    only = sys.argv[1:]
    built = {}
    for name, builddir, env, opts in VARIANTS:
        if only and name not in only:
            continue
        t = time.time()
        rc, out = setup(name, builddir, env, opts)
        built[name] = not rc
        if rc:
            print(out[-4000:])
            print(f"check: the {name} build failed")
            total_f += 1
            lines.append(f"{name:6} build FAILED")
            continue
        tenv = SAN_ENV if name == "asan" else {}
        rc, out = run(["meson", "test", "-C", builddir, "--no-rebuild", "--print-errorlogs"],
                      env=tenv)
        p, f, names = count(builddir)
        if f:
            print(out[-8000:])
            for n in names:
                print(f"check: FAILED {name}: {n}")
        total_p += p
        total_f += f
        lines.append(f"{name:6} {p} passed, {f} failed ({time.time() - t:.0f} s)")
    for extra in sorted(os.listdir(os.path.join(ROOT, "scripts", "check.d"))) \
            if os.path.isdir(os.path.join(ROOT, "scripts", "check.d")) else []:
        if only and extra not in only:
            continue
        t = time.time()
        rc, out = run([os.path.join(ROOT, "scripts", "check.d", extra)])
        p = sum(1 for l in out.splitlines() if TAP_OK.match(l))
        f = sum(1 for l in out.splitlines() if TAP_NOT_OK.match(l))
        if rc and not f:
            f = 1
        if f:
            print(out[-8000:])
        total_p += p
        total_f += f
        lines.append(f"{extra:6} {p} passed, {f} failed ({time.time() - t:.0f} s)")
    for step, args, limit in VM_STEPS:
        if only and step not in only:
            continue
        t = time.time()
        if "gcc" not in built:
            name, builddir, env, opts = VARIANTS[0]
            rc, out = setup(name, builddir, env, opts)
            built["gcc"] = not rc
            if rc:
                print(out[-4000:])
        p, f, s, out = run_vm(built["gcc"], step, args, limit)
        if f:
            print(out[-12000:])
            for l in out.splitlines():
                if TAP_NOT_OK.match(l):
                    print(f"check: FAILED {step}: {l}")
        total_p += p
        total_f += f
        lines.append(f"{step:6} {p} passed, {f} failed, of the passed {s} skipped "
                     f"({time.time() - t:.0f} s)")
    print()
    for l in lines:
        print(l)
    print(f"total time {time.time() - t0:.0f} s")
    print(f"{total_p} passed, {total_f} failed")
    return 1 if total_f else 0


if __name__ == "__main__":
    sys.exit(main())
