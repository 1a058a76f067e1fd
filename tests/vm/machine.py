# SPDX-License-Identifier: BSD-3-Clause
"""The QEMU guest: its command line, and running it under a hard timeout.

The machine is a q35 with an emulated Intel IOMMU doing interrupt remapping
(which type1 requires, and which needs the split irqchip), QEMU's edu alone
on the root bus, and behind a conventional pci-bridge a second edu and an
NVMe controller: devices behind such a bridge share its requester ID, so
the three form one IOMMU group.

The console (ttyS0) streams through a pipe into console.log; results come
on ttyS1, which QEMU writes into a file that is read as it grows. KVM is
used only where it really works: a /dev/kvm is not enough (on PVM hosts it
opens, but a stock kernel dies in its instruction emulator), the CPU must
show vmx or svm too. QEMU runs under `timeout -k`, in a session of its own
so that the whole tree can be killed; a KVM internal error pauses QEMU
rather than ending it, so that line in the console ends it too.
"""
import os
import re
import selectors
import signal
import subprocess
import time

QEMU = "qemu-system-x86_64"


def choose_accel(want):
    """Return (accel, why)."""
    kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            hw = re.search(r"^flags\s*:.*\b(vmx|svm)\b", f.read(), re.M) is not None
    except OSError:
        hw = False
    if want == "kvm":
        return "kvm", "asked for"
    if want == "tcg":
        return "tcg", "asked for"
    if kvm and hw:
        return "kvm", "/dev/kvm with vmx/svm"
    if kvm:
        pvm = " (kvm_pvm is loaded)" if os.path.isdir("/sys/module/kvm_pvm") else ""
        return "tcg", f"/dev/kvm is there but the CPU shows no vmx/svm{pvm}"
    return "tcg", "no usable /dev/kvm"


def command(kit, manifest, accel, initrd, disk, results, serial, mem=512, append=""):
    pvh = manifest.get("boot") == "pvh"
    kernel = os.path.join(kit, "vmlinux" if pvh else "vmlinuz")
    cpu = ["-accel", "kvm", "-cpu", "host"] if accel == "kvm" else \
        ["-accel", "tcg", "-cpu", "qemu64"]
    return [
        QEMU, "-name", "uvfio-vm",
        "-machine", "q35,kernel-irqchip=split", *cpu, "-m", str(mem), "-smp", "1",
        "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-serial", "stdio", "-serial", f"file:{results}",
        # The IOMMU before the devices it translates for.
        "-device", "intel-iommu,intremap=on",
        "-kernel", kernel, "-initrd", initrd,
        "-append", ("console=ttyS0 panic=-1 loglevel=4 intel_iommu=on " + append).strip(),
        "-device", "edu,addr=03.0",
        "-device", "pci-bridge,id=br0,chassis_nr=1,shpc=off,addr=04.0",
        "-device", "edu,bus=br0,addr=01.0",
        "-drive", f"if=none,id=disk0,file={disk},format=raw",
        "-device", f"nvme,bus=br0,addr=02.0,drive=disk0,serial={serial}",
    ]


class Outcome:
    def __init__(self):
        self.rc = None          # QEMU's exit status (timeout's: 124 = timed out)
        self.timed_out = False
        self.kvm_error = False
        self.seconds = 0.0


def run(argv, timeout, console_log, results, on_result, echo_console=None):
    """Run QEMU; call on_result(line) for each line of the results file as
    it arrives and echo_console(line) for each console line (if given)."""
    out = Outcome()
    t0 = time.time()
    open(results, "w").close()
    res = open(results, "rb")
    log = open(console_log, "w", encoding="utf-8", errors="replace")
    p = subprocess.Popen(["timeout", "-k", "5", str(timeout)] + argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         start_new_session=True)

    def kill(*_):
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    old = {s: signal.signal(s, lambda *a: (kill(), os._exit(130))) for s in
           (signal.SIGINT, signal.SIGTERM)}
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    cbuf = rbuf = b""
    deadline = t0 + timeout + 15   # timeout(1) should have ended it long before
    try:
        while True:
            events = sel.select(0.1)
            chunk = os.read(p.stdout.fileno(), 65536) if events else b""
            if events and not chunk:
                break                   # EOF: QEMU has exited
            cbuf += chunk
            *lines, cbuf = cbuf.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace").replace("\r", "")
                log.write(line + "\n")
                if echo_console:
                    echo_console(line)
                if "KVM internal error" in line:
                    out.kvm_error = True
            rbuf += res.read()
            *rlines, rbuf = rbuf.split(b"\n")
            for r in rlines:
                on_result(r.decode("utf-8", "replace").rstrip("\r"))
            if out.kvm_error:
                time.sleep(0.5)         # let the register dump reach the log
                kill()
            if time.time() > deadline:
                kill()
        out.rc = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        kill()
        out.rc = p.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        if cbuf:
            log.write(cbuf.decode("utf-8", "replace") + "\n")
        log.close()
        rbuf += res.read()
        for r in rbuf.split(b"\n"):
            if r.strip():
                on_result(r.decode("utf-8", "replace").rstrip("\r"))
        res.close()
    out.timed_out = out.rc in (124, 137) or out.rc == -signal.SIGKILL
    out.seconds = time.time() - t0
    return out
