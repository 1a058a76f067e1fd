# SPDX-License-Identifier: BSD-3-Clause
# The guest's stages: stage_NAME functions, run in the order the host asks.
#
# Each leaves the devices as setup left them, so any one can run alone
# (tests/vm/run.py --stage NAME):
#   $EDU     QEMU's edu on the root bus, alone in group $G_EDU, on vfio-pci
#            (its VFIO cdev, where the kernel has them: /dev/vfio/devices/$CDEV);
#   $G_BR    the group behind the conventional PCI bridge $BRIDGE: a second
#            edu ($EDU_BR, no driver) and the NVMe controller ($NVME, on the
#            kernel's nvme driver, its namespace holding an ext2 file system
#            and the host's marker in LBA 0).
# $BACKEND is the backend a plain open must choose: type1 on the stock
# kernel, iommufd on the one tests/vm/kernel.py builds.

# --- driver, cdev, type1: the driver-side integration suite -----------------------------

# suite PREFIX WANT DEVICE [VAR=VALUE...]: test_driver on DEVICE, which must
# have run over the WANT backend; then the edu fault case's DMAR faults.
suite() {
	_sp=$1
	_want=$2
	_dev=$3
	shift 3
	dmar_quiet
	_mark_w=$(edu_fault_lines Write)
	_mark_r=$(edu_fault_lines Read)
	run_tap "$_sp" env UVFIO_TEST_DEVICE="$_dev" "$@" test_driver
	_got=$(sed -n 's/^# backend: //p' "/tmp/$_sp.log" | head -n 1)
	if [ "$_got" = "$_want" ]; then pass "$_sp: the suite ran over the $_want backend"
	else fail "$_sp: the suite ran over the $_want backend" "it says: '${_got:-nothing}'"; fi
	# The edu fault case prints the IOVA it was refused at; the IOMMU must have
	# logged the refusal, as a write and as a read fault, during this run.
	_iova=$(sed -n 's/^# edu: DMA to unmapped IOVA \(0x[0-9a-f]*\).*/\1/p' "/tmp/$_sp.log" |
		head -n 1)
	for _dir in Write Read; do
		_name="$_sp: dmesg shows a DMAR $_dir fault from ${EDU#0000:} at the unmapped IOVA"
		[ $_dir = Write ] && _mark=$_mark_w || _mark=$_mark_r
		if [ -z "$_iova" ]; then
			fail "$_name" "the edu fault test printed no IOVA (did it run?)"
		elif wait_for 3 edu_fault_logged "$_dir" "$_iova" "$_mark"; then
			pass "$_name ($_iova)"
		else
			fail "$_name ($_iova)" "no new such line in dmesg"
		fi
	done
}

# edu_fault_lines DIR [IOVA]: how many DMAR faults of that direction from
# $EDU (at IOVA) dmesg holds.
edu_fault_lines() {
	dmesg | grep -Ec "DMAR: \\[DMA $1 .*\\[${EDU#0000:}\\] fault addr ${2:-0x[0-9a-f]*} "
}

# edu_fault_logged DIR IOVA BEFORE: more of them at IOVA than BEFORE (of any IOVA).
edu_fault_logged() {
	[ "$(edu_fault_lines "$1" "$2")" -gt 0 ] && [ "$(edu_fault_lines "$1")" -gt "$3" ]
}

# dmar_quiet: wait until the kernel's DMAR fault messages are out of their
# rate limit (10 a 5 s window, two or three per fault), or the next run's
# faults go unlogged. Every window opens with a message that is printed, so
# 5 s after the last one printed a new window is due.
dmar_quiet() {
	_last=$(dmesg | grep -E 'DRHD: handling fault|DMAR: \[DMA ' | tail -n 1 |
		sed -n 's/^\[ *\([0-9.]*\)\].*/\1/p')
	[ -n "$_last" ] || return 0
	sleep "$(awk -v t="$_last" '{ w = t + 5.5 - $1; printf "%.1f", (w > 0 ? w : 0) }' /proc/uptime)"
}

stage_driver() {
	suite driver "$BACKEND" "$EDU"
}

# By the cdev's path the open can only go through iommufd.
stage_cdev() {
	if [ -z "$CDEV" ]; then
		fail "cdev: $EDU has a VFIO cdev" "no $PCI/$EDU/vfio-dev: no CONFIG_VFIO_DEVICE_CDEV?"
		return
	fi
	suite cdev iommufd "/dev/vfio/devices/$CDEV"
}

# The legacy container on a kernel where iommufd works too.
stage_type1() {
	suite type1 type1 "$EDU" UVFIO_TEST_NO_IOMMUFD=1
}

# --- info: uvfio info of a PCI address ------------------------------------------------

# The outputs go to the host, which compares them with the same commands'
# output for a vfio-user socket (run.py).
stage_info() {
	uvfio info "$EDU" > /tmp/info.txt 2> /tmp/info.err
	_st=$?
	cat /tmp/info.err /tmp/info.txt | sed 's/^/[info] /'
	if [ "$_st" -eq 0 ]; then pass "info: uvfio info $EDU exits 0"
	else fail "info: uvfio info $EDU exits 0" "exit $_st: $(head -n 3 /tmp/info.err)"; fi
	check "info: it shows the $BACKEND backend and the edu's ID 1234:11e8" \
		sh -c "grep -q 'backend $BACKEND' /tmp/info.txt && grep -q 'ID 1234:11e8' /tmp/info.txt"
	send info.txt /tmp/info.txt
	uvfio info --json "$EDU" > /tmp/info.json 2> /tmp/info.err
	_st=$?
	if [ "$_st" -eq 0 ]; then pass "info: uvfio info --json $EDU exits 0"
	else fail "info: uvfio info --json $EDU exits 0" "exit $_st: $(head -n 3 /tmp/info.err)"; fi
	send info.json /tmp/info.json
}

# --- ls: groups and viability ---------------------------------------------------------

# group_block G < ls-output: the lines of group G in 'uvfio ls'.
group_block() {
	awk -v g="$1:" '/^  group / { p = ($2 == g) } p'
}

stage_ls() {
	uvfio ls > /tmp/ls.txt 2>&1
	_st=$?
	sed 's/^/[ls] /' /tmp/ls.txt
	check "ls: uvfio ls exits 0" [ "$_st" -eq 0 ]
	check "ls: it lists $EDU (1234:11e8) bound to vfio-pci in group $G_EDU" \
		grep -Eq "^  $EDU +1234:11e8 .* vfio-pci +$G_EDU\$" /tmp/ls.txt
	check "ls: group $G_EDU (the solo edu) is viable" grep -q "^  group $G_EDU: viable" /tmp/ls.txt
	check "ls: group $G_BR (behind the bridge) is not viable" \
		grep -q "^  group $G_BR: not viable" /tmp/ls.txt
	group_block "$G_BR" < /tmp/ls.txt > /tmp/ls-group.txt
	check "ls: it names $NVME and its driver nvme as the blocker and suggests 'uvfio bind'" \
		grep -Eq "$NVME .*nvme.*uvfio bind" /tmp/ls-group.txt
	check "ls: it lists $EDU_BR in that group, not as a blocker" \
		sh -c "grep '$EDU_BR' /tmp/ls-group.txt | grep -vq 'blocks'"
}

# --- nvme: drivers/nvme through the API -----------------------------------------------

# Until 'uvfio bind' exists the rig hands the group over itself.
rig_take_group() {
	_ok=0
	for _m in $(group_members "$G_BR"); do
		is_bridge "$_m" && continue
		to_vfio "$_m" || _ok=1
	done
	return $_ok
}

rig_give_group() {
	for _m in $(group_members "$G_BR"); do
		is_bridge "$_m" && continue
		from_vfio "$_m"
	done
	wait_for 10 nvme_ready "$NVME"
}

# mount_check NAME: mount namespace 1 of $NVME, find the marker in hello.txt.
mount_check() {
	_ns=$(nvme_ns_of "$NVME")
	if [ -z "$_ns" ] || ! mount -t ext2 "/dev/$_ns" /mnt 2>/tmp/mount.err; then
		fail "$1" "mount /dev/$_ns: $(cat /tmp/mount.err 2>/dev/null)"
		return 1
	fi
	check "$1" grep -qF "$MARKER" /mnt/hello.txt
}

stage_nvme() {
	if ! rig_take_group; then
		fail "nvme: group $G_BR handed to vfio-pci by the rig (driver_override)" \
			"drivers: $(for m in $(group_members "$G_BR"); do echo "$m=$(driver_of "$m")"; done)"
		rig_give_group
		return
	fi
	pass "nvme: group $G_BR handed to vfio-pci by the rig (driver_override)"
	run_tap nvme nvme-test "$NVME" --serial "$NVME_SERIAL" --marker "$MARKER" --not-nvme "$EDU"
	check "nvme: nvme-test drove $NVME over the $BACKEND backend" \
		grep -q "^ok .*(backend $BACKEND)" /tmp/nvme.log
	check "nvme: $NVME back on the kernel's nvme driver, its namespace back" rig_give_group
	mount_check "nvme: the namespace's ext2 mounts; hello.txt holds the marker" && umount /mnt
}

# --- nonviable: a group the kernel's nvme driver spoils --------------------------------

# $EDU_BR on vfio-pci while $NVME stays on nvme: opening it must fail with a
# sentence naming the blocker, by address and (with cdevs) by cdev path.
stage_nonviable() {
	if ! to_vfio "$EDU_BR"; then
		fail "nonviable: $EDU_BR bound to vfio-pci, $NVME left on nvme" \
			"$EDU_BR: $(driver_of "$EDU_BR")"
		from_vfio "$EDU_BR"
		return
	fi
	_cd=$(cdev_of "$EDU_BR")
	_devs=$EDU_BR
	if [ -n "$_cd" ]; then
		_devs="$_devs /dev/vfio/devices/$_cd"
	elif [ "$BACKEND" = iommufd ]; then
		fail "nonviable: $EDU_BR on vfio-pci has a VFIO cdev" "no $PCI/$EDU_BR/vfio-dev"
	fi
	for _d in $_devs; do
		uvfio info "$_d" > /tmp/nonviable.txt 2>&1
		_st=$?
		sed 's/^/[nonviable] /' /tmp/nonviable.txt
		_name="nonviable: uvfio info $_d fails: group $G_BR is not viable, $NVME (nvme) blocks it"
		if [ "$_st" -ne 0 ] && grep -q "not viable" /tmp/nonviable.txt &&
		   grep -q "$NVME.*nvme" /tmp/nonviable.txt; then
			pass "$_name"
		else
			fail "$_name" "exit $_st: $(tail -n 2 /tmp/nonviable.txt | tr '\n' ' ')"
		fi
	done
	check "nonviable: $NVME still on the kernel's nvme driver, its namespace there" \
		nvme_ready "$NVME"
	check "nonviable: $EDU_BR off vfio-pci again" from_vfio "$EDU_BR"
}

# --- bind: uvfio bind / unbind ----------------------------------------------------------

BIND_CHECKS="before, uvfio ls names $NVME as group $G_BR's blocker
uvfio bind $EDU_BR hands the whole group $G_BR to vfio-pci
uvfio ls shows group $G_BR viable
nvme-test drives $NVME through the API
uvfio unbind $EDU_BR gives $NVME back to nvme, its namespace back
uvfio bind refuses while the namespace is mounted, and changes nothing"

stage_bind() {
	if ! uvfio bind --help > /dev/null 2>&1; then
		while IFS= read -r _c; do
			skip "bind: $_c" "'uvfio bind' is not there yet ('uvfio bind --help' failed)"
		done <<-EOF
		$BIND_CHECKS
		EOF
		return
	fi
	uvfio ls > /tmp/ls.txt 2>&1
	group_block "$G_BR" < /tmp/ls.txt > /tmp/ls-group.txt
	check "bind: before, uvfio ls names $NVME as group $G_BR's blocker" \
		grep -Eq "$NVME .*nvme.*uvfio bind" /tmp/ls-group.txt

	uvfio bind "$EDU_BR" > /tmp/bind.txt 2>&1
	_st=$?
	sed 's/^/[bind] /' /tmp/bind.txt
	_drv=$(for m in $(group_members "$G_BR"); do is_bridge "$m" || driver_of "$m"; done |
		sort -u | tr '\n' ' ')
	if [ "$_st" -eq 0 ] && [ "$_drv" = "vfio-pci " ]; then
		pass "bind: uvfio bind $EDU_BR hands the whole group $G_BR to vfio-pci"
	else
		fail "bind: uvfio bind $EDU_BR hands the whole group $G_BR to vfio-pci" \
			"exit $_st, drivers now: $_drv"
	fi
	uvfio ls > /tmp/ls.txt 2>&1
	check "bind: uvfio ls shows group $G_BR viable" grep -q "^  group $G_BR: viable" /tmp/ls.txt
	run_tap "bind: nvme-test" nvme-test "$NVME" --serial "$NVME_SERIAL" --marker "$MARKER"

	uvfio unbind "$EDU_BR" > /tmp/unbind.txt 2>&1
	_st=$?
	sed 's/^/[unbind] /' /tmp/unbind.txt
	if [ "$_st" -eq 0 ] && wait_for 10 nvme_ready "$NVME" && [ "$(driver_of "$EDU_BR")" = none ]; then
		pass "bind: uvfio unbind $EDU_BR gives $NVME back to nvme, its namespace back"
	else
		fail "bind: uvfio unbind $EDU_BR gives $NVME back to nvme, its namespace back" \
			"exit $_st; $NVME: $(driver_of "$NVME"), $EDU_BR: $(driver_of "$EDU_BR")"
		rig_give_group
	fi

	if mount_check "bind: the namespace's ext2 mounts again; hello.txt holds the marker"; then
		uvfio bind "$EDU_BR" > /tmp/bind.txt 2>&1
		_st=$?
		sed 's/^/[bind] /' /tmp/bind.txt
		if [ "$_st" -ne 0 ] && [ "$(driver_of "$NVME")" = nvme ] &&
		   [ "$(driver_of "$EDU_BR")" = none ] && grep -qF "$MARKER" /mnt/hello.txt; then
			pass "bind: uvfio bind refuses while the namespace is mounted, and changes nothing"
		else
			fail "bind: uvfio bind refuses while the namespace is mounted, and changes nothing" \
				"exit $_st; $NVME: $(driver_of "$NVME"), $EDU_BR: $(driver_of "$EDU_BR")"
		fi
		umount /mnt
		[ "$_st" -eq 0 ] && { uvfio unbind "$EDU_BR" > /dev/null 2>&1 || rig_give_group; }
	else
		fail "bind: uvfio bind refuses while the namespace is mounted, and changes nothing" \
			"the namespace could not be mounted"
	fi
}
