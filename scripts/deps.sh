#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Install, with apt-get, the Debian 12 packages uvfio needs that are missing.
set -e
PKGS="gcc g++ make libc6-dev pkg-config meson ninja-build python3 libjson-c-dev libcmocka-dev
clang libclang-rt-14-dev"
# tests/vm: QEMU, mke2fs/e2fsck for the NVMe image, zstd for kernels whose
# image is zstd-compressed; the guest's kernel and busybox come with
# 'apt-get download' when the rig runs (apt and dpkg-deb are always there).
PKGS="$PKGS qemu-system-x86 e2fsprogs zstd"
# tests/vm --iommufd (the vm-iommufd step of make check) builds its guest
# kernel from Debian's linux-source, which it fetches itself.
PKGS="$PKGS bc bison flex libelf-dev libssl-dev xz-utils"
# scripts/check.d/valgrind: memcheck over the integration suites.
PKGS="$PKGS valgrind"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null; then
		SUDO=sudo
	else
		echo "uvfio: these packages are missing:$missing" >&2
		echo "uvfio: install them as root: apt-get install$missing" >&2
		exit 1
	fi
fi
echo "uvfio: installing$missing"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y -q --no-install-recommends $missing; then
	# A fresh machine may have no package lists yet.
	$SUDO apt-get update -q
	$SUDO apt-get install -y -q --no-install-recommends $missing
fi
