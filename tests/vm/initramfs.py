# SPDX-License-Identifier: BSD-3-Clause
"""The guest's root file system: an uncompressed newc cpio archive, written
here byte by byte (no cpio tool, no root: device nodes are just entries).

It holds busybox, the kit's modules, the guest scripts (tests/vm/guest), a
configuration file, and the project's binaries from a meson build directory
with the shared libraries `ldd` says they load (and the dynamic loader at
the path the binaries name). The guest sets LD_LIBRARY_PATH to the flat
library directory, so the build's RPATHs need not resolve there.
"""
import os
import re
import stat
import subprocess

# Binaries taken from the build directory, and where the guest finds them.
BINARIES = {
    "tools/uvfio": "bin/uvfio",
    "tests/test_driver": "opt/uvfio/test_driver",
    "drivers/nvme-test": "opt/uvfio/nvme-test",
}
GUEST_LIBDIR = "lib/uvfio"


class ImageError(Exception):
    pass


class Cpio:
    """newc ("070701") archive writer: header, name, data, each 4-byte aligned."""

    def __init__(self):
        self.out = bytearray()
        self.ino = 300000
        self.dirs = set()

    def _entry(self, name, mode, data=b"", rdev=(0, 0), nlink=1):
        self.ino += 1
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1],
            len(name) + 1, 0))
        self.out += hdr.encode() + name.encode() + b"\0"
        self.out += b"\0" * (-len(self.out) % 4)
        self.out += data
        self.out += b"\0" * (-len(self.out) % 4)

    def mkdir(self, path):
        path = path.strip("/")
        if not path or path in self.dirs:
            return
        self.mkdir(os.path.dirname(path))
        self.dirs.add(path)
        self._entry(path, stat.S_IFDIR | 0o755, nlink=2)

    def file(self, path, data, mode=0o644):
        path = path.strip("/")
        self.mkdir(os.path.dirname(path))
        self._entry(path, stat.S_IFREG | mode, data)

    def copy(self, path, src, mode=None):
        with open(src, "rb") as f:
            data = f.read()
        if mode is None:
            mode = 0o755 if os.access(src, os.X_OK) else 0o644
        self.file(path, data, mode)

    def chardev(self, path, major, minor, mode=0o600):
        path = path.strip("/")
        self.mkdir(os.path.dirname(path))
        self._entry(path, stat.S_IFCHR | mode, rdev=(major, minor))

    def finish(self):
        self._entry("TRAILER!!!", 0)
        self.out += b"\0" * (-len(self.out) % 512)
        return bytes(self.out)


def shared_libs(binary):
    """{soname: resolved path} and the interpreter, from ldd."""
    p = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=30)
    if p.returncode:
        if "not a dynamic executable" in p.stdout:
            return {}, None
        raise ImageError(f"ldd {binary} failed: {p.stdout.strip()}")
    libs, interp = {}, None
    for line in p.stdout.splitlines():
        m = re.match(r"^\s*(\S+) => (/\S+) \(0x", line)
        if m:
            libs[m.group(1)] = m.group(2)
            continue
        if "=> not found" in line:
            raise ImageError(f"{binary} needs {line.split()[0]}, which ldd cannot find")
        m = re.match(r"^\s*(/\S+) \(0x", line)
        if m:
            interp = m.group(1)
    return libs, interp


def build(path, build_dir, kit, manifest, guest_dir, conf_text):
    """Write the archive to @path; return a one-line description."""
    a = Cpio()
    for d in ("dev", "proc", "sys", "tmp", "run", "mnt", "bin", "sbin", "etc", "root"):
        a.mkdir(d)
    # PID 1 gets its stdio from /dev/console before any mount.
    a.chardev("dev/console", 5, 1)
    a.copy("bin/busybox", os.path.join(kit, "busybox"), 0o755)
    for m in manifest["modules"]:
        a.copy(f"lib/modules-uvfio/{m}", os.path.join(kit, "modules", m), 0o644)
    a.file("lib/modules-uvfio/load-order", ("\n".join(manifest["modules"]) + "\n").encode())

    libs, interps = {}, set()
    for src, dst in BINARIES.items():
        full = os.path.join(build_dir, src)
        if not os.path.isfile(full):
            raise ImageError(f"{full} is missing: build it first (ninja -C {build_dir})")
        a.copy(dst, full, 0o755)
        found, interp = shared_libs(full)
        libs.update(found)
        if interp:
            interps.add(interp)
    for soname, real in sorted(libs.items()):
        a.copy(f"{GUEST_LIBDIR}/{soname}", real, 0o755)
    for interp in interps:
        a.copy(interp, os.path.realpath(interp), 0o755)

    for f in sorted(os.listdir(guest_dir)):
        src = os.path.join(guest_dir, f)
        if f == "init":
            a.copy("init", src, 0o755)
        elif f.endswith(".sh"):
            a.copy(f"lib/uvfio-vm/{f}", src, 0o644)
    a.file("etc/uvfio-vm.conf", conf_text.encode())
    data = a.finish()
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)
    return (f"{len(BINARIES)} binaries, {len(libs)} shared libraries, "
            f"{len(manifest['modules'])} modules, {len(data) >> 20} MiB")
