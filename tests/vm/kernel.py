# SPDX-License-Identifier: BSD-3-Clause
"""The iommufd run's guest kernel, built here from Debian's linux-source.

Debian 12's kernels have no CONFIG_IOMMUFD, so the stock kit can only test
the type1 backend. This builds a small x86_64 kernel that has both paths:
`make tinyconfig`, tests/vm/iommufd.config merged on top, olddefconfig,
then `make vmlinux` (booted uncompressed through its PVH entry, like the
stock kit's). Everything is built in; the guest loads no modules.

The result is cached in CACHE/iommufd-KEY (vmlinux, .config, busybox and
a manifest, ~15 MB), KEY hashing the source package's version, the
fragment, the compiler's version line and KERNEL_FORMAT: a Debian security
update, an edited fragment or another gcc builds a new kernel, and the old
directories are removed once it is in place. The build itself (~6 minutes
on two idle cores, ~1.7 GB of source and objects) happens in a scratch
directory of the cache, under a lock, and is deleted afterwards; a build
that fails leaves only its log there, until the next attempt.

The source comes from /usr/src when that package is installed, otherwise
from `apt-get download`; no root is needed either way, only the build
tools scripts/deps.sh installs.
"""
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import kit

HERE = os.path.dirname(os.path.abspath(__file__))
FRAGMENT = os.path.join(HERE, "iommufd.config")
SOURCE_PACKAGE = "linux-source-6.12"
KERNEL_FORMAT = 1       # bump when the directory's layout or the recipe changes
MANIFEST = "manifest.json"
BUILD_TIMEOUT = 1800    # seconds for `make vmlinux`
PROGRESS_EVERY = 30     # seconds between progress lines during the build
TOOLS = ["gcc", "make", "bison", "flex", "bc", "perl", "tar", "xz"]


def source_package():
    return os.environ.get("UVFIO_VM_KSRC") or SOURCE_PACKAGE


def _out(cmd, timeout=30):
    """stdout of a command, or None if it fails or is missing."""
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                           timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout if p.returncode == 0 else None


def _installed_source(pkg):
    """(version, tarball) of the installed source package, or None."""
    ver = _out(["dpkg-query", "-W", "-f=${Status} ${Version}", pkg])
    tarball = f"/usr/src/{pkg}.tar.xz"
    if not ver or not ver.startswith("install ok installed ") or not os.path.isfile(tarball):
        return None
    return ver.split()[-1], tarball


def _candidate_version(pkg):
    out = _out(["apt-cache", "policy", pkg]) or ""
    m = re.search(r"^\s*Candidate:\s*(\S+)", out, re.M)
    if not m or m.group(1) == "(none)":
        raise kit.KitError(f"apt knows no package {pkg} (run 'apt-get update' as root; the "
                           "bookworm-security suite carries linux-source-6.12)")
    return m.group(1)


def _source(pkg):
    """(version, tarball or None): the installed source wins over the archive's."""
    inst = _installed_source(pkg)
    return inst if inst else (_candidate_version(pkg), None)


def _compiler():
    out = _out(["gcc", "--version"])
    if not out:
        raise kit.KitError("gcc does not run: run scripts/deps.sh")
    return out.splitlines()[0]


def _check_tools():
    missing = [t for t in TOOLS if not shutil.which(t)]
    if not os.path.exists("/usr/include/gelf.h"):
        missing.append("libelf-dev (objtool)")
    if missing:
        raise kit.KitError(f"building the iommufd kernel needs {', '.join(missing)}: run "
                           "scripts/deps.sh")


def cache_key(pkg, version, compiler):
    h = hashlib.sha256()
    h.update(f"format {KERNEL_FORMAT}\n{pkg} {version}\n{compiler}\n".encode())
    with open(FRAGMENT, "rb") as f:
        h.update(f.read())
    return h.hexdigest()[:16]


def fragment_options():
    """The CONFIG_X=y lines of the fragment, which must all survive."""
    with open(FRAGMENT, encoding="utf-8") as f:
        return [l.strip() for l in f if re.match(r"^CONFIG_\w+=y\s*$", l)]


def _cached(kdir, key):
    try:
        with open(os.path.join(kdir, MANIFEST), encoding="utf-8") as f:
            m = json.load(f)
    except (OSError, ValueError):
        return None
    if m.get("key") != key:
        return None
    if not all(os.path.isfile(os.path.join(kdir, x)) for x in ("vmlinux", "busybox")):
        return None
    return m


def _step(cmd, what, log_path, timeout, cwd=None):
    with open(log_path, "a", encoding="utf-8") as lf:
        lf.write(f"$ {' '.join(cmd)}\n")
        lf.flush()
        try:
            p = subprocess.run(["timeout", "-k", "5", str(timeout)] + cmd, cwd=cwd,
                               stdout=lf, stderr=subprocess.STDOUT)
        except FileNotFoundError as e:
            raise kit.KitError(f"{e.filename} is not installed (run scripts/deps.sh)") from None
    if p.returncode:
        raise kit.KitError(f"{what} failed (exit {p.returncode}); the log is {log_path}: "
                           + _tail(log_path))


def _tail(path, n=3):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [l.rstrip() for l in f if l.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-n:])


def _make_vmlinux(src, out, jobs, log_path, log):
    """`make vmlinux`, with a progress line every PROGRESS_EVERY seconds."""
    t0 = time.time()
    cmd = ["make", "-C", src, f"O={out}", f"-j{jobs}", "vmlinux"]

    def stop(sig, _):
        raise kit.KitError(f"the kernel build was stopped by signal {sig}")

    # make runs in a session of its own, which a signal to ours (timeout(1),
    # ^C) would not reach: turn the signal into an error that ends it.
    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    with open(log_path, "a", encoding="utf-8") as lf:
        lf.write(f"$ {' '.join(cmd)}\n")
        lf.flush()
        p = subprocess.Popen(cmd, stdout=lf, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            while True:
                try:
                    rc = p.wait(timeout=PROGRESS_EVERY)
                    break
                except subprocess.TimeoutExpired:
                    pass
                spent = time.time() - t0
                if spent > BUILD_TIMEOUT:
                    os.killpg(p.pid, 9)
                    p.wait()
                    raise kit.KitError(f"make vmlinux ran past {BUILD_TIMEOUT} s; the log is "
                                       f"{log_path}")
                with open(log_path, encoding="utf-8", errors="replace") as f:
                    cc = sum(1 for l in f if l.startswith("  CC "))
                log(f"kernel: building: {spent:.0f} s, {cc} files compiled")
        except BaseException:
            if p.poll() is None:
                os.killpg(p.pid, 9)
                p.wait()
            raise
        finally:
            for s, h in old.items():
                signal.signal(s, h)
    if rc:
        raise kit.KitError(f"make vmlinux failed (exit {rc}); the log is {log_path}: "
                           + _tail(log_path))
    return time.time() - t0


def _fetch_busybox(debs, dest, log):
    deb = kit._download("busybox-static", debs, log)
    tree = os.path.join(debs, "busybox-tree")
    rc, out = kit._run(["dpkg-deb", "-x", deb, tree], 120)
    if rc:
        raise kit.KitError(f"dpkg-deb -x {os.path.basename(deb)} failed: {out.strip()}")
    shutil.copy(os.path.join(tree, "bin", "busybox"), dest)
    return kit._deb_field(deb, "Version")


def _fetch_source(pkg, debs, log):
    deb = kit._download(pkg, debs, log)
    tree = os.path.join(debs, "source-tree")
    rc, out = kit._run(["dpkg-deb", "-x", deb, tree], 300)
    if rc:
        raise kit.KitError(f"dpkg-deb -x {os.path.basename(deb)} failed: {out.strip()}")
    tarball = os.path.join(tree, "usr", "src", f"{pkg}.tar.xz")
    if not os.path.isfile(tarball):
        raise kit.KitError(f"{pkg} holds no usr/src/{pkg}.tar.xz")
    os.unlink(deb)
    return tarball


def _build(cache, pkg, version, tarball, compiler, key, jobs, log):
    _check_tools()
    scratch = os.path.join(cache, f"iommufd-build-{key}")
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        return _build_in(scratch, cache, pkg, version, tarball, compiler, key, jobs, log)
    except BaseException:
        # Keep the log, not the 1.5 GB of source and objects (a CI cache
        # would save them).
        for d in ("src", "out", "debs", "kernel"):
            shutil.rmtree(os.path.join(scratch, d), ignore_errors=True)
        raise


def _build_in(scratch, cache, pkg, version, tarball, compiler, key, jobs, log):
    t0 = time.time()
    new = os.path.join(scratch, "kernel")
    debs = os.path.join(scratch, "debs")
    src = os.path.join(scratch, "src")
    out = os.path.join(scratch, "out")
    for d in (new, debs, src, out):
        os.makedirs(d)
    blog = os.path.join(scratch, "build.log")
    log(f"kernel: building {pkg} {version} with tinyconfig + {os.path.basename(FRAGMENT)} "
        f"(first time only: ~6 min on two idle cores; cache key {key})")

    kit._apt_prepare(log)
    busybox_version = _fetch_busybox(debs, os.path.join(new, "busybox"), log)
    if tarball is None:
        tarball = _fetch_source(pkg, debs, log)
        fetched = "downloaded"
    else:
        fetched = "installed"
    t = time.time()
    _step(["tar", "-xf", tarball, "-C", src, "--strip-components=1"], f"unpacking {tarball}",
          blog, 600)
    log(f"kernel: unpacked the {fetched} {os.path.basename(tarball)} in {time.time() - t:.0f} s")

    t = time.time()
    _step(["make", "-C", src, f"O={out}", "tinyconfig"], "make tinyconfig", blog, 300)
    _step([os.path.join(src, "scripts", "kconfig", "merge_config.sh"), "-m", "-O", out,
           os.path.join(out, ".config"), FRAGMENT], "merge_config.sh", blog, 300, cwd=src)
    _step(["make", "-C", src, f"O={out}", "olddefconfig"], "make olddefconfig", blog, 300)
    with open(os.path.join(out, ".config"), encoding="utf-8") as f:
        have = {l.strip() for l in f}
    lost = [o for o in fragment_options() if o not in have]
    if lost:
        raise kit.KitError(f"olddefconfig dropped {', '.join(lost)} (a dependency the "
                           f"fragment lacks?); the log is {blog}")
    log(f"kernel: configured in {time.time() - t:.0f} s")

    spent = _make_vmlinux(src, out, jobs, blog, log)
    kver = (_out(["make", "-s", "-C", src, f"O={out}", "kernelrelease"]) or "").strip()
    log(f"kernel: vmlinux {kver} built with -j{jobs} in {spent:.0f} s")
    shutil.copy(os.path.join(out, "vmlinux"), os.path.join(new, "vmlinux"))
    shutil.copy(os.path.join(out, ".config"), os.path.join(new, "config"))
    manifest = {
        "format": KERNEL_FORMAT,
        "key": key,
        "kernel_package": f"{pkg} (tinyconfig + {os.path.basename(FRAGMENT)})",
        "kernel_version": version,
        "compiler": compiler,
        "busybox_version": busybox_version,
        "kver": kver or "?",
        "boot": "pvh",
        "modules": [],
        "iommufd": "y",
        "build_seconds": round(time.time() - t0),
        "built": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    with open(os.path.join(new, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    final = os.path.join(cache, f"iommufd-{key}")
    shutil.rmtree(final, ignore_errors=True)
    os.rename(new, final)
    shutil.rmtree(scratch, ignore_errors=True)
    log(f"kernel: cached in {final} ({_size(final) >> 20} MiB); built in "
        f"{time.time() - t0:.0f} s in all")
    return final, manifest



def _size(path):
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def get(cache, refresh, log, jobs=None):
    """Return (directory, manifest, whether it came from the cache).

    The directory has the stock kit's layout (vmlinux, busybox, manifest),
    so initramfs.build and machine.command take it as a kit.
    """
    pkg = source_package()
    try:
        os.makedirs(cache, exist_ok=True)
        lock = open(os.path.join(cache, "lock-iommufd"), "w")
    except OSError as e:
        raise kit.KitError(f"cannot use the cache directory {cache}: {e.strerror} "
                           "(set UVFIO_VM_CACHE to another one)") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        version, tarball = _source(pkg)
        compiler = _compiler()
        key = cache_key(pkg, version, compiler)
        kdir = os.path.join(cache, f"iommufd-{key}")
        m = None if refresh else _cached(kdir, key)
        if m:
            return kdir, m, True
        kdir, m = _build(cache, pkg, version, tarball, compiler, key,
                         jobs or (os.cpu_count() or 1) + 1, log)
        for stale in os.listdir(cache):
            if stale.startswith("iommufd-") and stale != os.path.basename(kdir) and \
                    stale != f"iommufd-build-{key}":
                shutil.rmtree(os.path.join(cache, stale), ignore_errors=True)
                log(f"kernel: removed {stale}, a kernel of an older key")
        return kdir, m, False


def own(path, cache, work, log):
    """A kit view around a kernel the user built: @path is a vmlinux (PVH)
    or a bzImage with everything the guest needs built in; busybox comes
    from the cache (fetched once). Return (directory, manifest)."""
    if not os.path.isfile(path):
        raise kit.KitError(f"no kernel at {path}")
    with open(path, "rb") as f:
        elf = f.read(4) == b"\x7fELF"
    bdir = os.path.join(cache, "busybox")
    bb = os.path.join(bdir, "busybox")
    if not os.path.isfile(bb):
        os.makedirs(bdir, exist_ok=True)
        kit._apt_prepare(log)
        debs = tempfile.mkdtemp(prefix="debs-", dir=bdir)
        try:
            ver = _fetch_busybox(debs, bb + ".tmp", log)
            os.replace(bb + ".tmp", bb)
            with open(os.path.join(bdir, "version"), "w", encoding="utf-8") as f:
                f.write(ver + "\n")
        finally:
            shutil.rmtree(debs, ignore_errors=True)
    try:
        with open(os.path.join(bdir, "version"), encoding="utf-8") as f:
            bver = f.read().strip()
    except OSError:
        bver = "?"
    view = os.path.join(work, "own-kernel")
    shutil.rmtree(view, ignore_errors=True)
    os.makedirs(view)
    os.symlink(os.path.abspath(path), os.path.join(view, "vmlinux" if elf else "vmlinuz"))
    os.symlink(bb, os.path.join(view, "busybox"))
    return view, {
        "kernel_package": f"own kernel {path}",
        "kernel_version": "",
        "busybox_version": bver,
        "boot": "pvh" if elf else "bzimage",
        "modules": [],
        "iommufd": "?",
    }
