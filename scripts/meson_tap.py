# SPDX-License-Identifier: BSD-3-Clause
"""Shared by the scripts/check.d steps that run meson test suites.

suite_step(name, builddir, meson_opts, env, suites, wrap) configures and
builds @builddir, runs the @suites (all when empty) under @wrap, and prints
one TAP line per subtest from meson's test log (a test that crashed or
printed no TAP is one "not ok" line with its result). Returns the exit
status for check.py: 0 when nothing failed.
"""
import glob
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAP = re.compile(r"^(not )?ok \d+")


def sh(cmd, env=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run(cmd, cwd=ROOT, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    return p.returncode, p.stdout


def build(builddir, meson_opts, env=None):
    if os.path.exists(os.path.join(ROOT, builddir, "build.ninja")):
        rc, out = sh(["meson", "configure", builddir] + [o for o in meson_opts if o.startswith("-D")])
    else:
        rc, out = sh(["meson", "setup", builddir] + meson_opts, env)
    if not rc:
        rc, out2 = sh(["ninja", "-C", builddir])
        out += out2
    return rc, out


def suite_step(name, builddir, meson_opts, env, suites, wrap=None, build_env=None):
    rc, out = build(builddir, meson_opts, build_env)
    if rc:
        print(out[-4000:])
        print(f"not ok 1 - {name}: the build in {builddir} failed")
        return 1
    # A log of its own: meson names the default one after the wrapper, and
    # an older testlog.json must never be read as this run's.
    # (With --wrap, meson adds the wrapper's name: check-NAME-valgrind.json.)
    logbase = "check-" + name
    logs = os.path.join(ROOT, builddir, "meson-logs")
    for old in glob.glob(os.path.join(logs, logbase + "*.json")):
        os.unlink(old)
    cmd = ["meson", "test", "-C", builddir, "--no-rebuild", "--print-errorlogs",
           "--logbase", logbase]
    for s in suites:
        cmd += ["--suite", s]
    if wrap:
        cmd += ["--wrap", wrap]
    rc, out = sh(cmd, env)
    failed = 0
    found = glob.glob(os.path.join(logs, logbase + "*.json"))
    log = found[0] if len(found) == 1 else None
    if not log:
        print(out[-4000:])
        print(f"not ok 1 - {name}: meson test wrote no log (exit status {rc})")
        return 1
    for line in open(log, encoding="utf-8"):
        t = json.loads(line)
        tap = [l for l in (t.get("stdout") or "").splitlines() if TAP.match(l)]
        ok = t["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
        for l in tap:
            print(f"{l.split(' - ', 1)[0]} - {name} {t['name']}: {l.split(' - ', 1)[-1]}")
            failed += l.startswith("not ok")
        if not ok and not any(l.startswith("not ok") for l in tap):
            print(f"not ok - {name} {t['name']}: {t['result']} (exit status {t.get('returncode')})")
            failed += 1
    if failed:
        print(out[-8000:])
    return 1 if failed else 0
