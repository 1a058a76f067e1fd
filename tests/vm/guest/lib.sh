# SPDX-License-Identifier: BSD-3-Clause
# Guest helpers (busybox sh): reporting results to the host, relaying a
# test program's TAP, and PCI devices through sysfs.
#
# Results go to /dev/ttyS1, which QEMU writes to a file on the host. The
# kernel never prints there, so a kernel message can't cut a result line in
# half as it can on the console. The lines, one per check:
#   ok NAME          not ok NAME # WHY          skip NAME # WHY
#   stage NAME       end NAME                   done PASSED FAILED SKIPPED
# Each is echoed to the console too, for whoever reads it (run.py --console).

NPASS=0
NFAIL=0
NSKIP=0

res() {
	echo "$*" >&3
	echo "uvfio-vm: $*"
}

pass() {
	NPASS=$((NPASS + 1))
	res "ok $1"
}

# fail NAME [WHY]
fail() {
	NFAIL=$((NFAIL + 1))
	if [ -n "$2" ]; then res "not ok $1 # $2"; else res "not ok $1"; fi
}

# skip NAME WHY
skip() {
	NSKIP=$((NSKIP + 1))
	res "skip $1 # $2"
}

# check NAME COMMAND...: pass when the command succeeds.
check() {
	_name=$1
	shift
	if "$@"; then pass "$_name"; else fail "$_name"; fi
}

# wait_for SECONDS COMMAND...: poll every 0.1 s until the command succeeds.
wait_for() {
	_tries=$(($1 * 10))
	shift
	while ! "$@"; do
		_tries=$((_tries - 1))
		[ "$_tries" -gt 0 ] || return 1
		sleep 0.1
	done
}

# relay PREFIX LOG STATUS: one result per test line of a TAP log (cmocka's
# or nvme-test's). A failed test carries its diagnostic: the first "# " line
# after it (cmocka prints the failed assertion there), else the last before
# it. A plan that isn't met, a bail-out, or a non-zero exit without a failed
# test (a crash) is a failure of its own.
relay() {
	_prefix=$1
	_log=$2
	_rc=$3
	_plan=0
	_seen=0
	_bad=0
	_diag=
	_pend=
	while IFS= read -r _line; do
		case $_line in
		"# "*)
			if [ -n "$_pend" ] && [ -z "$_after" ]; then _after=${_line#\# }
			else _diag=${_line#\# }; fi
			continue ;;
		esac
		relay_flush
		case $_line in
		"ok "[0-9]*" # SKIP "*)
			_seen=$((_seen + 1))
			skip "$_prefix: ${_line#*# SKIP }" "${_diag:-not for this device}" ;;
		"ok "[0-9]*)
			_seen=$((_seen + 1))
			pass "$_prefix: ${_line#ok [0-9]* - }" ;;
		"not ok "[0-9]*)
			_seen=$((_seen + 1))
			_bad=$((_bad + 1))
			_pend="$_prefix: ${_line#not ok [0-9]* - }"
			_before=$_diag
			_after= ;;
		"1.."[0-9]*)
			_plan=${_line#1..} ;;
		"Bail out!"*)
			_bad=$((_bad + 1))
			fail "$_prefix: ${_line}" ;;
		esac
		_diag=
	done < "$_log"
	relay_flush
	if [ "$_plan" -gt 0 ] && [ "$_seen" -ne "$_plan" ]; then
		_bad=$((_bad + 1))
		fail "$_prefix: all $_plan tests ran" "only $_seen reported; see the console"
	fi
	if [ "$_rc" -ne 0 ] && [ "$_bad" -eq 0 ]; then
		fail "$_prefix: exit status 0" "it exited with $_rc; see the console"
	fi
}

relay_flush() {
	[ -n "$_pend" ] || return 0
	fail "$_pend" "${_after:-$_before}"
	_pend=
}

# run_tap PREFIX COMMAND...: run a TAP program, show its output, relay it.
run_tap() {
	_p=$1
	shift
	"$@" > /tmp/tap.log 2>&1
	_st=$?
	sed "s/^/[$_p] /" /tmp/tap.log
	relay "$_p" /tmp/tap.log "$_st"
	cp /tmp/tap.log "/tmp/$_p.log"
}

# --- PCI through sysfs ------------------------------------------------------------

PCI=/sys/bus/pci/devices

# find_pci VENDOR:DEVICE: the addresses of such devices, one a line.
find_pci() {
	for _d in $PCI/*; do
		[ "$(cat "$_d/vendor"):$(cat "$_d/device")" = "$1" ] && echo "${_d##*/}"
	done
}

driver_of() {
	if [ -e "$PCI/$1/driver" ]; then basename "$(readlink "$PCI/$1/driver")"; else echo none; fi
}

group_of() {
	if [ -e "$PCI/$1/iommu_group" ]; then basename "$(readlink "$PCI/$1/iommu_group")"; else echo none; fi
}

group_members() {
	ls "/sys/kernel/iommu_groups/$1/devices" 2>/dev/null
}

# cdev_of BDF: the name of the device's VFIO cdev (vfioN), if it has one.
cdev_of() {
	ls "$PCI/$1/vfio-dev" 2>/dev/null | head -n 1
}

is_bridge() {
	case $(cat "$PCI/$1/class") in 0x0604*) return 0 ;; esac
	return 1
}

# to_vfio BDF: hand one device to vfio-pci through driver_override.
to_vfio() {
	echo vfio-pci > "$PCI/$1/driver_override"
	[ -e "$PCI/$1/driver" ] && echo "$1" > "$PCI/$1/driver/unbind"
	echo "$1" > /sys/bus/pci/drivers_probe 2>/dev/null
	[ "$(driver_of "$1")" = vfio-pci ]
}

# from_vfio BDF: clear the override and let the kernel pick the driver again.
from_vfio() {
	echo > "$PCI/$1/driver_override"
	[ -e "$PCI/$1/driver" ] && echo "$1" > "$PCI/$1/driver/unbind"
	echo "$1" > /sys/bus/pci/drivers_probe 2>/dev/null
	[ "$(driver_of "$1")" != vfio-pci ]
}

# The block device of namespace 1 of the NVMe controller at BDF, if there is one.
nvme_ns_of() {
	for _n in "$PCI/$1"/nvme/nvme*/nvme*n1; do
		[ -e "$_n" ] && echo "${_n##*/}" && return 0
	done
	return 1
}

# nvme_ready BDF: on the nvme driver, live, namespace 1 in /dev.
nvme_ready() {
	[ "$(driver_of "$1")" = nvme ] || return 1
	_ns=$(nvme_ns_of "$1") || return 1
	[ "$(cat "$PCI/$1"/nvme/nvme*/state 2>/dev/null)" = live ] && [ -b "/dev/$_ns" ]
}

# dmesg_has REGEX
dmesg_has() {
	dmesg | grep -Eq "$1"
}

# send NAME FILE: a file to the host, one "data NAME LINE" per line.
send() {
	while IFS= read -r _l || [ -n "$_l" ]; do
		echo "data $1 $_l" >&3
	done < "$2"
}
