#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""tests/vm: the kernel VFIO backend for real, in a QEMU guest.

    tests/vm/run.py BUILD_DIR [--stage NAME]... [--console] [--accel auto|kvm|tcg]
                              [--timeout S] [--refresh-kit] [--cache DIR] [--kernel PKG]
                              [--iommufd [--iommufd-kernel VMLINUX]] [--shell]

Fetches (once; cached) a stock Debian kernel and busybox, builds an
initramfs around the project's binaries from BUILD_DIR (a meson build
directory), boots QEMU with an emulated Intel IOMMU, and runs the guest
stages (tests/vm/guest/stages.sh): the driver-side integration suite and
drivers/nvme over the type1 container, `uvfio info` and `uvfio ls`, and
`uvfio bind`/`unbind` once that command exists. Prints TAP: a line per
host step, one per guest check, and a verdict; exits 1 if anything failed.
Nothing is skipped silently: a missing tool or a failed download is a
failed line that says what to do.

--iommufd boots instead a kernel with CONFIG_IOMMUFD and
CONFIG_VFIO_DEVICE_CDEV, which Debian's lack: built once from Debian's
linux-source by tests/vm/kernel.py (~5 minutes; cached), or the one
--iommufd-kernel names. Its stages run the suite over iommufd by PCI address
and by cdev path and over type1 on the same kernel, and check that a group
the nvme driver spoils is refused.

Environment: UVFIO_VM_CACHE (kit cache, default
${XDG_CACHE_HOME:-$HOME/.cache}/uvfio/vm), UVFIO_VM_KERNEL (kernel package,
default linux-image-amd64), UVFIO_VM_ACCEL, UVFIO_VM_TIMEOUT,
UVFIO_VM_IOMMUFD_KERNEL (--iommufd-kernel), UVFIO_VM_KSRC (the source
package for --iommufd, default linux-source-6.12). docs/testing.md has the
details.
"""
import argparse
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import disk         # noqa: E402
import initramfs    # noqa: E402
import kernel       # noqa: E402
import kit          # noqa: E402
import machine      # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
STAGES = ["driver", "info", "ls", "nvme", "bind"]
IOMMUFD_STAGES = ["driver", "cdev", "type1", "info", "ls", "nvme", "nonviable", "bind"]
NVME_SERIAL = "UVFIOVM0001"
HOST_TOOLS = [machine.QEMU, "timeout", "apt-get", "dpkg-deb", "mke2fs", "e2fsck", "ldd"]


class Tap:
    """TAP on stdout: numbered lines as they come, the plan at the end."""

    def __init__(self):
        self.n = self.passed = self.failed = self.skipped = 0

    def _line(self, text):
        print(text, flush=True)

    @staticmethod
    def _clean(s):
        return s.replace("\n", " ").replace("#", "\\#")

    def ok(self, name, note=None):
        self.n += 1
        self.passed += 1
        self._line(f"ok {self.n} - {self._clean(name)}")
        if note:
            self.diag(note)

    def not_ok(self, name, why=None):
        self.n += 1
        self.failed += 1
        self._line(f"not ok {self.n} - {self._clean(name)}")
        if why:
            self.diag(why)

    def skip(self, name, why):
        self.n += 1
        self.skipped += 1
        self._line(f"ok {self.n} - {self._clean(name)} # SKIP {self._clean(why)}")

    def check(self, good, name, why=None):
        (self.ok if good else self.not_ok)(name, None if good else why)

    def diag(self, text):
        for line in str(text).splitlines():
            self._line(f"#   {line}")


def log(msg):
    print(f"# {msg}", flush=True)


# --- the reference: uvfio info of a vfio-user socket ---------------------------------

def info_sections(text):
    """The headings of `uvfio info`: the first word of each unindented line."""
    return [l.split()[0] for l in text.splitlines() if l.strip() and not l[0].isspace()]


def info_reference(build, work):
    """uvfio info (text, JSON) of the dma model served on a socket here."""
    uvfio = os.path.join(build, "tools", "uvfio")
    sock = os.path.join(work, "dma.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    srv = subprocess.Popen([uvfio, "serve", "dma", "--socket", sock], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(sock) or srv.poll() is not None:
                break
            time.sleep(0.05)
        out = []
        for extra in ([], ["--json"]):
            p = subprocess.run([uvfio, "info"] + extra + [sock], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=30)
            if p.returncode:
                raise RuntimeError(f"uvfio info {' '.join(extra)} {sock}: exit {p.returncode}: "
                                   f"{p.stdout.strip()[-300:]}")
            out.append(p.stdout)
        return out[0], json.loads(out[1])
    finally:
        srv.terminate()
        try:
            srv.wait(timeout=5)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()


def json_shape_diff(ref, got):
    """Where the guest's `uvfio info --json` lacks or adds keys, as sentences."""
    diffs = []

    def cmp(where, a, b, optional=()):
        a, b = set(a) - set(optional), set(b) - set(optional)
        if a != b:
            diffs.append(f"{where}: missing {sorted(a - b)}, extra {sorted(b - a)}")

    def union(items):
        s = set()
        for i in items or []:
            s |= set(i)
        return s

    cmp("top level", ref, got)
    cmp("device", ref.get("device", {}), got.get("device", {}))
    if isinstance(got.get("config"), dict) and isinstance(ref.get("config"), dict):
        cmp("config", ref["config"], got["config"], ("error",))
        for cap in got["config"].get("capabilities", []):
            missing = {"offset", "name", "id", "extended"} - set(cap)
            if missing:
                diffs.append(f"capability {cap}: missing {sorted(missing)}")
    else:
        diffs.append("config: not an object in both")
    cmp("regions", union(ref.get("regions")), union(got.get("regions")),
        ("type", "subtype", "error"))
    cmp("irqs", union(ref.get("irqs")), union(got.get("irqs")), ("error",))
    return diffs


# --- the guest's results --------------------------------------------------------------

class Guest:
    """Turns the guest's result lines into TAP as they arrive."""

    def __init__(self, tap, reference, accel, prefix):
        self.tap = tap
        self.prefix = prefix
        self.reference = reference      # (text, json) or None
        self.accel = accel
        self.booted = False
        self.done = None                # (passed, failed, skipped) as the guest counted
        self.counted = [0, 0, 0]
        self.started, self.ended = [], []
        self.data = {}

    def __call__(self, line):
        word, _, rest = line.partition(" ")
        name, _, why = rest.partition(" # ")
        if line.startswith("not ok "):
            name, _, why = line[7:].partition(" # ")
            self.counted[1] += 1
            self.tap.not_ok(name, why or None)
        elif word == "ok":
            self.counted[0] += 1
            self.tap.ok(rest)
        elif word == "skip":
            self.counted[2] += 1
            self.tap.skip(name, why)
        elif word == "data":
            key, _, text = rest.partition(" ")
            self.data.setdefault(key, []).append(text)
        elif word == "hello":
            rel, _, up = rest.partition(" ")
            self.booted = True
            self.tap.ok(f"{self.prefix}: guest booted: kernel {rel}, /init at {up} s "
                        f"({self.accel})")
        elif word == "stage":
            self.started.append(rest)
        elif word == "end":
            self.ended.append(rest)
            if rest == "info":
                self.compare_info()
        elif word == "done":
            try:
                self.done = tuple(int(x) for x in rest.split())
            except ValueError:
                self.done = None
        elif line.strip():
            log(f"guest said something unexpected: {line!r}")

    def compare_info(self):
        name_t = "info: uvfio info of the PCI address prints the same sections as for a socket"
        name_j = "info: uvfio info --json has the same keys for the PCI address as for a socket"
        if not self.reference:
            self.tap.not_ok(name_t, "no reference: uvfio info of a socket failed on the host")
            self.tap.not_ok(name_j, "no reference: uvfio info of a socket failed on the host")
            return
        ref = info_sections(self.reference[0])
        got = info_sections("\n".join(self.data.get("info.txt", [])))
        self.tap.check(got == ref, f"{name_t} ({' '.join(ref)})",
                       f"socket: {ref}\nguest:  {got}")
        try:
            gj = json.loads("\n".join(self.data.get("info.json", [])))
            diffs = json_shape_diff(self.reference[1], gj)
        except ValueError as e:
            diffs = [f"the guest's output is no JSON: {e}"]
        self.tap.check(not diffs, name_j, "\n".join(diffs))


# --- main ---------------------------------------------------------------------------------

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build", help="meson build directory with the project's binaries")
    ap.add_argument("--stage", action="append", default=[],
                    help=f"run only these guest stages (stock kernel: {', '.join(STAGES)}; "
                         f"--iommufd: {', '.join(IOMMUFD_STAGES)}); repeat or separate "
                         "with commas; setup always runs")
    ap.add_argument("--console", action="store_true",
                    help="stream the guest console to stderr (it is always in BUILD/vm/console.log)")
    ap.add_argument("--accel", choices=["auto", "kvm", "tcg"],
                    default=os.environ.get("UVFIO_VM_ACCEL", "auto"))
    ap.add_argument("--timeout", type=int, default=int(os.environ.get("UVFIO_VM_TIMEOUT", "0")),
                    help="hard limit for QEMU in seconds (default 90 under TCG, 60 under KVM; "
                         "twice that with --iommufd)")
    ap.add_argument("--shell", action="store_true",
                    help="interactive: after setup (and the stages --stage names; none by "
                         "default) a shell on the guest's console, no time limit; 'exit' "
                         "powers the guest off")
    ap.add_argument("--refresh-kit", action="store_true", help="download and build the kit again")
    ap.add_argument("--cache", default=kit.default_cache(), help="where the kit is cached")
    ap.add_argument("--kernel", default=os.environ.get("UVFIO_VM_KERNEL", "linux-image-amd64"),
                    help="the Debian kernel package (or meta package) to boot")
    ap.add_argument("--iommufd", action="store_true",
                    help="boot a kernel with IOMMUFD and VFIO_DEVICE_CDEV (built from Debian's "
                         "linux-source on first use, then cached) and run the iommufd stages")
    ap.add_argument("--iommufd-kernel", default=os.environ.get("UVFIO_VM_IOMMUFD_KERNEL"),
                    metavar="VMLINUX",
                    help="with --iommufd: boot this kernel (a PVH vmlinux or a bzImage, "
                         "everything built in) instead of building one")
    a = ap.parse_args()
    if a.iommufd_kernel and not a.iommufd:
        ap.error("--iommufd-kernel goes with --iommufd")
    known = IOMMUFD_STAGES if a.iommufd else STAGES
    stages = [s for arg in a.stage for s in arg.split(",") if s]
    bad = [s for s in stages if s not in known]
    if bad:
        ap.error(f"no stage {', '.join(bad)}; the stages are {', '.join(known)}")
    a.stages = [s for s in known if s in stages] if stages or a.shell else list(known)
    return a


def finish(tap, t0, timings, prefix="vm"):
    print(f"1..{tap.n}")
    spent = ", ".join(f"{k} {v:.1f} s" for k, v in timings)
    log(f"{prefix}: {tap.passed} passed, {tap.failed} failed, {tap.skipped} skipped in "
        f"{time.time() - t0:.1f} s" + (f" ({spent})" if spent else ""))
    return 1 if tap.failed else 0


def main():
    a = parse_args()
    t0 = time.time()
    tap = Tap()
    timings = []
    build = os.path.abspath(a.build)
    P = "vm-iommufd" if a.iommufd else "vm"
    work = os.path.join(build, P)
    log(f"uvfio VM rig{' (iommufd)' if a.iommufd else ''}: binaries from {build}, kit cache "
        f"{a.cache}, stages {' '.join(a.stages)}")

    missing = [t for t in HOST_TOOLS if not shutil.which(t)]
    if missing:
        tap.not_ok(f"{P}: host tools ({', '.join(HOST_TOOLS)})",
                   f"missing: {', '.join(missing)}; run scripts/deps.sh (it installs "
                   "qemu-system-x86 and e2fsprogs from Debian)")
        return finish(tap, t0, timings, P)
    tap.ok(f"{P}: host tools present (" + " ".join(HOST_TOOLS) + ")")

    absent = [b for b in initramfs.BINARIES if not os.path.isfile(os.path.join(build, b))]
    if absent:
        tap.not_ok(f"{P}: the project's binaries in {build}",
                   f"missing: {', '.join(absent)}; build them first (meson setup {a.build} && "
                   f"ninja -C {a.build})")
        return finish(tap, t0, timings, P)

    try:
        if a.iommufd_kernel:
            kdir, man = kernel.own(a.iommufd_kernel, a.cache, work, log)
            how = "your own"
        elif a.iommufd:
            kdir, man, cached = kernel.get(a.cache, a.refresh_kit, log)
            how = "cached" if cached else f"built in {man['build_seconds']} s"
        else:
            kdir, man, cached = kit.get(a.cache, a.kernel, a.refresh_kit, log)
            how = "cached" if cached else "downloaded"
    except kit.KitError as e:
        what = ("the iommufd kit (a kernel built from Debian's linux-source, busybox-static)"
                if a.iommufd else "the guest kit (Debian kernel and busybox-static)")
        tap.not_ok(f"{P}: {what}", str(e))
        return finish(tap, t0, timings, P)
    timings.append(("kit", time.time() - t0))
    iommufd = {"y": "yes", "m": "yes", "?": "not checked"}.get(man.get("iommufd"), "no")
    tap.ok(f"{P}: kit {man['kernel_package']} {man['kernel_version']}, busybox-static "
           f"{man['busybox_version']} ({how}, boot {man['boot']}, iommufd {iommufd})")

    t = time.time()
    os.makedirs(work, exist_ok=True)
    marker = f"UVFIO-VM-LBA0 {secrets.token_hex(8)}"
    img = os.path.join(work, "nvme.img")
    try:
        tap.ok(f"{P}: nvme backing file: " + disk.build(img, marker))
    except disk.DiskError as e:
        tap.not_ok(f"{P}: nvme backing file (ext2, marker in LBA 0)", str(e))
        return finish(tap, t0, timings, P)

    reference = None
    try:
        with tempfile.TemporaryDirectory(prefix="uvfio-vm-") as tmp:
            reference = info_reference(build, tmp)
        tap.ok(f"{P}: uvfio info of a dma socket on the host, the guest's reference (" +
               " ".join(info_sections(reference[0])) + ")")
    except (OSError, RuntimeError, ValueError, subprocess.TimeoutExpired) as e:
        tap.not_ok(f"{P}: uvfio info of a dma socket on the host, the guest's reference", str(e))

    conf = "".join(f"{k}={shlex.quote(v)}\n" for k, v in (
        ("STAGES", " ".join(a.stages)), ("MARKER", marker), ("NVME_SERIAL", NVME_SERIAL),
        ("BACKEND", "iommufd" if a.iommufd else "type1")))
    rd = os.path.join(work, "initramfs.cpio")
    try:
        tap.ok(f"{P}: initramfs: " + initramfs.build(rd, build, kdir, man,
                                                   os.path.join(HERE, "guest"), conf))
    except (initramfs.ImageError, OSError, subprocess.SubprocessError) as e:
        tap.not_ok(f"{P}: initramfs with the project's binaries", str(e))
        return finish(tap, t0, timings, P)
    timings.append(("build", time.time() - t))

    accel, why = machine.choose_accel(a.accel)
    if a.shell:
        argv = machine.command(kdir, man, accel, rd, img, os.path.join(work, "results.txt"),
                               NVME_SERIAL, append="uvfio.shell=1")
        log(f"booting under {accel} with a shell on the console at the end; 'exit' in it "
            "powers the guest off")
        return subprocess.call(argv)
    timeout = a.timeout or (60 if accel == "kvm" else 90) * (2 if a.iommufd else 1)
    log(f"booting under {accel} ({why}), hard limit {timeout} s; console in "
        f"{os.path.join(work, 'console.log')}")
    argv = machine.command(kdir, man, accel, rd, img, os.path.join(work, "results.txt"),
                           NVME_SERIAL)
    with open(os.path.join(work, "qemu.cmd"), "w", encoding="utf-8") as f:
        f.write(" ".join(shlex.quote(x) for x in argv) + "\n")
    guest = Guest(tap, reference, accel, P)
    echo = (lambda line: print(line, file=sys.stderr, flush=True)) if a.console else None
    out = machine.run(argv, timeout, os.path.join(work, "console.log"),
                      os.path.join(work, "results.txt"), guest, echo)
    timings.append(("guest", out.seconds))

    problems = []
    if out.kvm_error:
        problems.append("KVM could not run the guest (a PVM host? use --accel tcg)")
    if out.timed_out:
        problems.append(f"QEMU hit the {timeout} s limit")
    elif out.rc:
        problems.append(f"QEMU exited with status {out.rc}")
    if not guest.booted:
        tap.not_ok(f"{P}: guest booted", "; ".join(problems) or "/init never reported")
    if guest.done is None:
        problems.append("the guest never finished (no 'done' line)")
    elif list(guest.done) != guest.counted:
        problems.append(f"the guest counted {guest.done}, the host received {guest.counted}")
    lost = [s for s in a.stages if s not in guest.ended]
    if guest.booted and lost:
        problems.append(f"stages that did not run to the end: {' '.join(lost)}")
    p, f, s = guest.counted
    tap.check(not problems and not f,
              f"{P}: guest verdict: {p} passed, {f} failed, {s} skipped; "
              f"QEMU ran {out.seconds:.1f} s",
              "; ".join(problems) or f"{f} guest check(s) failed")
    if problems or f:
        with open(os.path.join(work, "console.log"), encoding="utf-8", errors="replace") as cl:
            tail = cl.read().splitlines()[-40:]
        tap.diag("last console lines (all of them: " + os.path.join(work, "console.log") + "):")
        tap.diag("\n".join("| " + l for l in tail))
    return finish(tap, t0, timings, P)


if __name__ == "__main__":
    sys.exit(main())
