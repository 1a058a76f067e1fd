# SPDX-License-Identifier: BSD-3-Clause
"""The NVMe namespace's backing image: an ext2 file system whose first
sector also carries a marker.

ext2 leaves the first 1024 bytes of its device alone (the superblock starts
at 1024), so the marker written at byte 0 after mke2fs and the file system
live side by side: the userspace NVMe driver reads the marker from LBA 0,
and the kernel mounts the file system once the controller is back on the
nvme driver. Both are checked here before the guest boots — the marker
read back and e2fsck finding the file system clean.
"""
import os
import shutil
import subprocess
import tempfile

SIZE = 16 << 20
HELLO = "hello.txt"   # a file in the file system, holding the marker


class DiskError(Exception):
    pass


def _tool(cmd, what):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=60)
    except FileNotFoundError:
        raise DiskError(f"{cmd[0]} is not installed (run scripts/deps.sh: e2fsprogs)") from None
    return p.returncode, p.stdout.strip()


def build(path, marker):
    """Write the image; return a description. @marker: ASCII, under 512 bytes."""
    raw = marker.encode()
    if len(raw) >= 512:
        raise DiskError("the marker must fit in one 512-byte sector")
    content = tempfile.mkdtemp(prefix="uvfio-vm-fs-")
    try:
        with open(os.path.join(content, HELLO), "w", encoding="ascii") as f:
            f.write(marker + "\n")
        with open(path, "wb") as f:
            f.truncate(SIZE)
        rc, out = _tool(["mke2fs", "-q", "-F", "-t", "ext2", "-L", "uvfio-vm", "-d", content,
                         path], "mke2fs")
        if rc:
            raise DiskError(f"mke2fs failed: {out}")
    finally:
        shutil.rmtree(content, ignore_errors=True)
    with open(path, "r+b") as f:
        head = f.read(1024)
        if head[:512] != bytes(512):
            raise DiskError("mke2fs wrote into the first sector: no room for the marker")
        f.seek(0)
        f.write(raw)
    with open(path, "rb") as f:
        if f.read(len(raw)) != raw:
            raise DiskError("the marker did not read back from the image")
    rc, out = _tool(["e2fsck", "-f", "-n", path], "e2fsck")
    if rc:
        raise DiskError(f"with the marker in sector 0, e2fsck finds the file system damaged: "
                        f"{out.splitlines()[-1] if out else rc}")
    return f"{SIZE >> 20} MiB ext2 image, marker in LBA 0, e2fsck clean"
