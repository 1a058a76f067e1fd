# SPDX-License-Identifier: BSD-3-Clause
"""The guest kit: a stock Debian kernel (plus the modules the guest needs)
and a static busybox, fetched with `apt-get download` and cached.

The kit lives in one directory of the cache and is described by its
manifest.json; a kit without a manifest is unfinished and is rebuilt. It is
built in a scratch directory and renamed into place, under a lock, so two
runs never see half a kit. The .deb files are deleted once the kit is built:
the kit is what is worth caching (~90 MB, mostly the uncompressed kernel).

Hazards: Debian ships no modules.dep in the .deb (depmod runs at install
time), so dependencies come from each module's own .modinfo section; and an
x86 bzImage's kernel decompresses itself slowly under TCG, so the kit keeps
the uncompressed vmlinux too and the guest boots it through its PVH entry.
"""
import fcntl
import gzip
import json
import lzma
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time

# What the guest loads; their dependencies are added from .modinfo.
WANT_MODULES = ["vfio", "vfio_iommu_type1", "vfio_pci", "nvme"]
APT_TIMEOUT = 90  # seconds for one apt-get call; the kernel .deb is ~70 MB
MANIFEST = "manifest.json"
KIT_FORMAT = 2    # bump when the kit's layout changes


class KitError(Exception):
    """Something a user can act on, in a sentence."""


def default_cache():
    if os.environ.get("UVFIO_VM_CACHE"):
        return os.environ["UVFIO_VM_CACHE"]
    base = os.environ.get("XDG_CACHE_HOME") or (
        os.path.join(os.environ["HOME"], ".cache") if os.environ.get("HOME") else
        os.path.join(tempfile.gettempdir(), f"uvfio-cache-{os.getuid()}"))
    return os.path.join(base, "uvfio", "vm")


def _run(cmd, timeout, cwd=None):
    try:
        p = subprocess.run(["timeout", "-k", "5", str(timeout)] + cmd, cwd=cwd,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    except FileNotFoundError as e:
        raise KitError(f"{e.filename} is not installed (run scripts/deps.sh)") from None
    if p.returncode in (124, 137):
        raise KitError(f"'{' '.join(cmd)}' took more than {timeout} s (is the Debian mirror "
                       "reachable?)")
    return p.returncode, p.stdout


def _apt_lists_ready():
    rc, _ = _run(["apt-cache", "show", "busybox-static"], 30)
    return rc == 0


def _apt_prepare(log):
    if _apt_lists_ready():
        return
    if os.geteuid() != 0:
        raise KitError("apt has no package lists and this is not root: run 'apt-get update' "
                       "as root once (or scripts/deps.sh)")
    log("no apt package lists yet: running apt-get update")
    rc, out = _run(["apt-get", "update", "-q"], APT_TIMEOUT)
    if rc or not _apt_lists_ready():
        raise KitError("apt-get update failed: " + out.strip().splitlines()[-1:][0]
                       if out.strip() else "apt-get update failed")


def _resolve_kernel(requested):
    """A meta package (linux-image-amd64) to the versioned image it depends on."""
    if re.match(r"^linux-image-\d", requested):
        return requested
    rc, out = _run(["apt-cache", "depends", requested], 30)
    if rc:
        raise KitError(f"apt knows no package {requested}: {out.strip()}")
    for line in out.splitlines():
        m = re.match(r"^\s*Depends:\s*(linux-image-\d\S*)", line)
        if m:
            return m.group(1)
    raise KitError(f"{requested} depends on no versioned linux-image package")


def _download(pkg, debs, log):
    log(f"downloading {pkg}")
    t = time.time()
    cmd = ["apt-get", "download", "-q"]
    if os.geteuid() == 0:
        # apt's _apt user could not write into a root-owned directory.
        cmd += ["-o", "APT::Sandbox::User=root"]
    rc, out = _run(cmd + [pkg], APT_TIMEOUT, cwd=debs)
    found = [f for f in os.listdir(debs) if f.startswith(pkg + "_") and f.endswith(".deb")]
    if rc or not found:
        last = out.strip().splitlines()[-1] if out.strip() else f"exit status {rc}"
        raise KitError(f"apt-get download {pkg} failed: {last}")
    path = os.path.join(debs, found[0])
    log(f"  {found[0]}: {os.path.getsize(path) >> 20} MiB in {time.time() - t:.1f} s")
    return path


def _deb_field(deb, field):
    rc, out = _run(["dpkg-deb", "-f", deb, field], 30)
    if rc:
        raise KitError(f"dpkg-deb cannot read {deb}: {out.strip()}")
    return out.strip()


def _decompress(data, what):
    """xz, zstd or gzip data (a kernel payload or a module) to plain bytes."""
    if data[:6] == b"\xfd7zXZ\x00":
        d = lzma.LZMADecompressor()
        return d.decompress(data)   # stops at the stream's end; padding is left over
    if data[:4] == b"\x28\xb5\x2f\xfd":
        try:
            p = subprocess.run(["zstd", "-qdc"], input=data, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=120)
        except FileNotFoundError:
            raise KitError(f"{what} is zstd-compressed and zstd is not installed "
                           "(run scripts/deps.sh)") from None
        if p.returncode and not p.stdout:
            raise KitError(f"zstd could not decompress {what}")
        return p.stdout
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    return data


def _vmlinux_from_bzimage(image):
    """The compressed kernel inside a bzImage, decompressed (an ELF file), or None.

    The x86 boot protocol (2.08+) says where it is: payload_offset and
    payload_length at 0x248, counted from the protected-mode code, which
    starts after the (setup_sects + 1) real-mode sectors.
    """
    if len(image) < 0x250 or image[0x202:0x206] != b"HdrS":
        return None
    if struct.unpack_from("<H", image, 0x206)[0] < 0x208:
        return None
    setup_sects = image[0x1f1] or 4
    off, length = struct.unpack_from("<II", image, 0x248)
    start = (setup_sects + 1) * 512 + off
    if length == 0 or start + length > len(image):
        return None
    elf = _decompress(image[start:start + length], "the kernel image")
    return elf if elf[:4] == b"\x7fELF" else None


def _modinfo(ko):
    """The key=value strings of a module's .modinfo section (an ELF64 file)."""
    if ko[:4] != b"\x7fELF" or ko[4] != 2:
        return {}
    shoff, = struct.unpack_from("<Q", ko, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", ko, 0x3a)
    if shoff + shnum * shentsize > len(ko) or shstrndx >= shnum:
        return {}

    def section(i):
        name, _, _, _, off, size = struct.unpack_from("<IIQQQQ", ko, shoff + i * shentsize)
        return name, off, size

    _, stroff, _ = section(shstrndx)
    info = {}
    for i in range(shnum):
        name, off, size = section(i)
        if ko[stroff + name:stroff + name + 9] == b".modinfo\x00":
            for kv in ko[off:off + size].split(b"\x00"):
                k, _, v = kv.decode("utf-8", "replace").partition("=")
                info.setdefault(k, v)
    return info


def _norm(name):
    return name.replace("-", "_")


def _collect_modules(moddir, want, out):
    """Copy @want and what they depend on, decompressed, into @out.

    Return the file names in load order (dependencies first).
    """
    paths = {}
    for root, _, files in os.walk(os.path.join(moddir, "kernel")):
        for f in files:
            m = re.match(r"^(.*)\.ko(\.xz|\.zst|\.gz)?$", f)
            if m:
                paths[_norm(m.group(1))] = os.path.join(root, f)
    order, seen = [], set()

    def add(name, chain):
        name = _norm(name)
        if name in seen:
            return
        if name not in paths:
            raise KitError(f"the kernel has no module {name} (needed by "
                           f"{' -> '.join(chain) or 'the guest'}); is it built in?")
        seen.add(name)
        with open(paths[name], "rb") as f:
            ko = _decompress(f.read(), paths[name])
        base = os.path.basename(paths[name])
        base = base[:base.index(".ko")] + ".ko"
        with open(os.path.join(out, base), "wb") as f:
            f.write(ko)
        for dep in filter(None, _modinfo(ko).get("depends", "").split(",")):
            add(dep, chain + [name])
        order.append(base)

    for w in want:
        add(w, [])
    return order


def _kernel_config(tree, kver):
    path = os.path.join(tree, "boot", f"config-{kver}")
    conf = {}
    if os.path.exists(path):
        for line in open(path, encoding="utf-8", errors="replace"):
            m = re.match(r"^(CONFIG_\w+)=(.*)$", line.strip())
            if m:
                conf[m.group(1)] = m.group(2)
    return conf


def _build(cache, requested, log):
    _apt_prepare(log)
    kpkg = _resolve_kernel(requested)
    debs = os.path.join(cache, "debs")
    shutil.rmtree(debs, ignore_errors=True)
    os.makedirs(debs)
    kdeb = _download(kpkg, debs, log)
    bdeb = _download("busybox-static", debs, log)

    scratch = tempfile.mkdtemp(prefix="kit-new-", dir=cache)
    tree = os.path.join(scratch, "tree")
    kit = os.path.join(scratch, "kit")
    os.makedirs(os.path.join(kit, "modules"))
    for deb in (kdeb, bdeb):
        rc, out = _run(["dpkg-deb", "-x", deb, tree], 120)
        if rc:
            raise KitError(f"dpkg-deb -x {os.path.basename(deb)} failed: {out.strip()}")
    mods = os.path.join(tree, "lib", "modules")
    kvers = sorted(os.listdir(mods)) if os.path.isdir(mods) else []
    if len(kvers) != 1:
        raise KitError(f"{kpkg} holds {len(kvers)} module trees, expected one")
    kver = kvers[0]
    conf = _kernel_config(tree, kver)
    for need in ("CONFIG_INTEL_IOMMU", "CONFIG_IRQ_REMAP", "CONFIG_VFIO"):
        if conf and conf.get(need) not in ("y", "m"):
            raise KitError(f"{kpkg} is built without {need}: the guest needs it")

    with open(os.path.join(tree, "boot", f"vmlinuz-{kver}"), "rb") as f:
        bz = f.read()
    with open(os.path.join(kit, "vmlinuz"), "wb") as f:
        f.write(bz)
    boot = "bzimage"
    if conf.get("CONFIG_PVH") == "y":
        elf = _vmlinux_from_bzimage(bz)
        if elf:
            with open(os.path.join(kit, "vmlinux"), "wb") as f:
                f.write(elf)
            boot = "pvh"
    if boot != "pvh":
        log("note: no PVH-bootable vmlinux: booting the bzImage (slower under TCG)")

    # ext2 comes from ext2.ko or ext4.ko (CONFIG_EXT4_USE_FOR_EXT2), or is built in.
    want = list(WANT_MODULES)
    if conf.get("CONFIG_EXT2_FS") == "m":
        want.append("ext2")
    elif conf.get("CONFIG_EXT2_FS") != "y" and conf.get("CONFIG_EXT4_FS") == "m":
        want.append("ext4")
        # ext4 asks the crypto API for crc32c at mount, by request_module,
        # which finds nothing in the guest: load it beforehand.
        if conf.get("CONFIG_CRYPTO_CRC32C") == "m":
            want.append("crc32c_generic")
    order = _collect_modules(os.path.join(mods, kver), want, os.path.join(kit, "modules"))
    shutil.copy(os.path.join(tree, "bin", "busybox"), os.path.join(kit, "busybox"))

    manifest = {
        "format": KIT_FORMAT,
        "requested": requested,
        "kernel_package": kpkg,
        "kernel_version": _deb_field(kdeb, "Version"),
        "busybox_version": _deb_field(bdeb, "Version"),
        "kver": kver,
        "boot": boot,
        "modules": order,
        "iommufd": conf.get("CONFIG_IOMMUFD", "n"),
        "built": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    with open(os.path.join(kit, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
    final = os.path.join(cache, "kit")
    shutil.rmtree(final, ignore_errors=True)
    os.rename(kit, final)
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.rmtree(debs, ignore_errors=True)
    return final, manifest


def _cached(cache, requested):
    kit = os.path.join(cache, "kit")
    try:
        with open(os.path.join(kit, MANIFEST), encoding="utf-8") as f:
            m = json.load(f)
    except (OSError, ValueError):
        return None
    if m.get("format") != KIT_FORMAT or m.get("requested") != requested:
        return None
    need = ["busybox", "vmlinux" if m.get("boot") == "pvh" else "vmlinuz"]
    need += [os.path.join("modules", x) for x in m.get("modules", [])]
    if not all(os.path.isfile(os.path.join(kit, x)) for x in need):
        return None
    return kit, m


def get(cache, requested, refresh, log):
    """Return (kit directory, manifest, whether it came from the cache)."""
    try:
        os.makedirs(cache, exist_ok=True)
        lock = open(os.path.join(cache, "lock"), "w")
    except OSError as e:
        raise KitError(f"cannot use the cache directory {cache}: {e.strerror} "
                       "(set UVFIO_VM_CACHE to another one)") from None
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        hit = None if refresh else _cached(cache, requested)
        if hit:
            return hit[0], hit[1], True
        for stale in os.listdir(cache):
            if stale.startswith("kit-new-"):
                shutil.rmtree(os.path.join(cache, stale), ignore_errors=True)
        kit, m = _build(cache, requested, log)
        return kit, m, False
