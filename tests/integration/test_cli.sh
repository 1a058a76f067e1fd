#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# The uvfio tool end to end, printing TAP: 'uvfio info' against a dma device
# served on a temporary socket (text and --json agree on the device's IDs,
# regions, sparse area and MSI-X placement), its error path, 'uvfio ls'
# against fake sysfs trees (a group spoiled by a driver, one by two; no
# IOMMU at all) and against this machine, and 'uvfio bind'/'unbind' against
# fake sysfs and proc trees: plans, refusals and their sentences, and what
# happens when the "kernel" (plain files) ignores the writes. Binding for
# real is left to the unit tests' simulated kernel and the VM tests: nothing
# here writes to this machine's /sys. The server and the temporary directory
# go away however the script ends.
#
# usage: test_cli.sh PATH/TO/uvfio

UVFIO=${1:?usage: test_cli.sh PATH/TO/uvfio}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/uvfio-cli.XXXXXX") || exit 1
SOCK=$TMP/dma.sock
SERVER=
N=0
FAILED=0

cleanup() {
	if [ -n "$SERVER" ]; then
		kill "$SERVER" 2>/dev/null
		wait "$SERVER" 2>/dev/null
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ok() {
	N=$((N + 1))
	echo "ok $N - $1"
}

not_ok() {
	N=$((N + 1))
	FAILED=$((FAILED + 1))
	echo "not ok $N - $1"
}

# check DESCRIPTION COMMAND...: the command's exit status decides.
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# has FILE REGEX: the file has a line matching the extended regex (shown if not).
has() {
	if grep -Eq -- "$2" "$1"; then
		return 0
	fi
	echo "# no line matches /$2/ in:" >&2
	sed 's/^/#   /' "$1" >&2
	return 1
}

# runs EXPECTED_STATUS OUT ERR COMMAND...: run it, keeping its output.
runs() {
	want=$1 out=$2 err=$3
	shift 3
	"$@" >"$out" 2>"$err"
	got=$?
	[ "$got" -eq "$want" ] && return 0
	echo "# '$*' exited $got, expected $want; stderr:" >&2
	sed 's/^/#   /' "$err" >&2
	return 1
}

# pyjson FILE EXPRESSION: the JSON file parses and the Python expression on it (as d) holds.
pyjson() {
	python3 - "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
if not eval("(" + sys.argv[2] + "\n)"):
    print("# false: " + sys.argv[2])
    sys.exit(1)
EOF
}

# fake_dev TREE BDF VENDOR DEVICE CLASS DRIVER GROUP: one PCI device in a fake sysfs.
fake_dev() {
	t=$1 d=$1/bus/pci/devices/$2
	mkdir -p "$d"
	echo "$3" >"$d/vendor"
	echo "$4" >"$d/device"
	echo "$5" >"$d/class"
	echo "(null)" >"$d/driver_override"
	if [ -n "$6" ]; then
		mkdir -p "$t/bus/pci/drivers/$6"
		ln -s "../../../../bus/pci/drivers/$6" "$d/driver"
	fi
	if [ -n "$7" ]; then
		mkdir -p "$t/kernel/iommu_groups/$7/devices"
		ln -s "../../../../kernel/iommu_groups/$7" "$d/iommu_group"
		ln -s "../../../../bus/pci/devices/$2" "$t/kernel/iommu_groups/$7/devices/$2"
	fi
}

# --- uvfio info against a served dma device -------------------------------------------

"$UVFIO" serve dma --socket "$SOCK" 2>"$TMP/server.log" &
SERVER=$!
i=0
while [ ! -S "$SOCK" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "the dma server is listening" test -S "$SOCK"
check "the socket is owner-only (0600) by default" test "$(stat -c %a "$SOCK")" = 600

# --mode widens it; a bad mode is refused before anything is created.
"$UVFIO" serve dma --socket "$TMP/m.sock" --mode 0660 2>"$TMP/mode.log" &
MSERVER=$!
i=0
while [ ! -S "$TMP/m.sock" ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
check "serve --mode 0660 gives the socket mode 660" test "$(stat -c %a "$TMP/m.sock" 2>/dev/null)" = 660
kill "$MSERVER"
wait "$MSERVER" 2>/dev/null
check "serve --mode 0999 is refused with a sentence, exit 2" runs 2 /dev/null "$TMP/mode.err" \
	"$UVFIO" serve dma --socket "$TMP/m2.sock" --mode 0999
check "the refusal says what --mode takes" has "$TMP/mode.err" "octal permissions"
check "nothing was created for the refused mode" test ! -e "$TMP/m2.sock"

I="$TMP/info.txt"
check "uvfio info SOCKET exits 0" runs 0 "$I" "$TMP/info.err" "$UVFIO" info "$SOCK"
check "info shows the device IDs 1234:4d41" has "$I" "ID 1234:4d41"
check "info shows BAR0 of 4096 bytes" has "$I" "^ +0 +BAR0 +size 4096\b"
check "info shows BAR2 of 65536 bytes" has "$I" "^ +2 +BAR2 +size 65536\b"
check "info shows BAR2's mmap-able area [0x0, +0xe000)" has "$I" "mmap-able: \[0x0, \+0xe000\)"
check "info shows the MSI-X table in BIR 2 at 0xe000" has "$I" "table BIR 2 offset 0xe000\b"
check "info shows the absent regions on one line" has "$I" "absent: BAR1 BAR3 BAR5 VGA"
check "info shows the five IRQ indexes" has "$I" "^ +4 +REQ +1 vector"
check "info decodes the serial number" has "$I" "serial number 0d-d0-55-56-00-00-00-01"

J="$TMP/info.json"
check "uvfio info --json exits 0" runs 0 "$J" "$TMP/info.err" "$UVFIO" info --json "$SOCK"
check "info --json: device IDs" pyjson "$J" \
	'd["config"]["vendor_id"] == 0x1234 and d["config"]["device_id"] == 0x4d41'
check "info --json: BAR0 and BAR2 sizes" pyjson "$J" \
	'{r["name"]: r["size"] for r in d["regions"]}.get("BAR0") == 4096 and
	 {r["name"]: r["size"] for r in d["regions"]}.get("BAR2") == 65536'
check "info --json: BAR2 sparse area" pyjson "$J" \
	'[r for r in d["regions"] if r["index"] == 2][0]["mmap_areas"] == [{"offset": 0, "size": 0xe000}]'
check "info --json: MSI-X table BIR 2 offset 0xe000" pyjson "$J" \
	'[(c["table_bir"], c["table_offset"]) for c in d["config"]["capabilities"]
	  if c["name"] == "MSI-X"] == [(2, 0xe000)]'
check "info --json: the device section" pyjson "$J" \
	'd["device"]["backend"] == "vfio-user" and "pci" in d["device"]["flags"] and
	 d["device"]["num_irqs"] == 5'

# --- uvfio info errors ------------------------------------------------------------------

E="$TMP/err.txt"
check "uvfio info of a missing path exits 1" runs 1 "$TMP/out.txt" "$E" \
	"$UVFIO" info "$TMP/no-such.sock"
check "... and says why in a sentence" has "$E" "^uvfio info: .*no-such\.sock.*\.$"
check "uvfio info without a device exits 2" runs 2 "$TMP/out.txt" "$E" "$UVFIO" info

# --- uvfio ls on fake sysfs trees -------------------------------------------------------

F=$TMP/sys
fake_dev "$F" 0000:00:00.0 0x8086 0x1237 0x060000 "" 0
fake_dev "$F" 0000:01:00.0 0x1234 0x4d41 0x088000 vfio-pci 5
fake_dev "$F" 0000:02:00.0 0x8086 0x10d3 0x020000 e1000e 7
fake_dev "$F" 0000:02:00.1 0x8086 0x10d3 0x020000 vfio-pci 7
fake_dev "$F" 0000:00:1c.0 0x8086 0x2448 0x060400 shpchp 8
fake_dev "$F" 0000:03:00.0 0x1b36 0x0010 0x010802 nvme 8
fake_dev "$F" 0000:04:00.0 0x1b36 0x0010 0x010802 nvme 9
L="$TMP/ls.txt"
check "uvfio ls --sysfs FAKE exits 0" runs 0 "$L" "$TMP/ls.err" "$UVFIO" ls --sysfs "$F"
check "ls lists the devices with their classes" has "$L" "0000:02:00.0 +8086:10d3 +020000 network"
check "ls says group 5 is viable" has "$L" "group 5: viable"
check "ls says group 7 is not viable" has "$L" "group 7: not viable"
check "ls names the blocker, its driver and the fix" has "$L" \
	"0000:02:00.0 +bound to e1000e: blocks the group.*uvfio bind 0000:02:00\.0"
check "ls --json --sysfs FAKE exits 0" runs 0 "$L" "$TMP/ls.err" \
	"$UVFIO" ls --json --sysfs "$F"
check "ls --json: group 7 not viable, blocked by 0000:02:00.0" pyjson "$L" \
	'[(g["viable"], [m["address"] for m in g["devices"] if m["blocker"]])
	  for g in d["groups"] if g["id"] == 7] == [(False, ["0000:02:00.0"])] and d["iommu"]'
check "ls --json: device table" pyjson "$L" \
	'{x["address"]: (x["driver"], x["iommu_group"]) for x in d["devices"]}["0000:02:00.0"]
	 == ("e1000e", 7)'
check "ls --json: one fix per group, the same for every blocker" pyjson "$L" \
	'[(g["fix"], [m.get("fix") for m in g["devices"]]) for g in d["groups"] if g["id"] == 8]
	 == [("uvfio bind 0000:00:1c.0", ["uvfio bind 0000:00:1c.0"] * 2)] and
	 [g.get("fix") for g in d["groups"] if g["id"] == 5] == [None]'
runs 0 "$L" "$TMP/ls.err" "$UVFIO" ls --sysfs "$F"
check "ls: two blockers, one command for the group" has "$L" \
	"0000:00:1c.0 +bound to shpchp: blocks the group \(shpchp does DMA on its own\); run 'uvfio bind 0000:00:1c\.0'"
check "... which moves the second blocker too" has "$L" \
	"0000:03:00.0 +bound to nvme: blocks the group.*the same 'uvfio bind 0000:00:1c\.0' moves it too"
check "ls: a group of one device says its only device" has "$L" \
	"^  group 9: not viable \(its only device is bound to a driver that does DMA\)$"
check "... one of two blocked says 1 of its 2" has "$L" \
	"^  group 7: not viable \(1 of its 2 devices is bound to a driver that does DMA\)$"
check "... two of two blocked says both" has "$L" \
	"^  group 8: not viable \(both its devices are bound to a driver that does DMA\)$"

F2=$TMP/sys-noiommu
mkdir -p "$F2/kernel"
fake_dev "$F2" 0000:00:03.0 0x1af4 0x1041 0x020000 virtio-pci ""
check "uvfio ls without IOMMU groups exits 0" runs 0 "$L" "$TMP/ls.err" \
	"$UVFIO" ls --sysfs "$F2"
check "... lists the device with no IOMMU group" has "$L" "0000:00:03.0 .*no IOMMU group"
check "... and explains that VFIO needs an IOMMU" has "$L" \
	"no IOMMU groups.*intel_iommu=on.*vfio-user sockets"
check "ls --json without IOMMU groups" runs 0 "$L" "$TMP/ls.err" \
	"$UVFIO" ls --json --sysfs "$F2"
check "... says iommu false, with the sentence" pyjson "$L" \
	'd["iommu"] is False and d["groups"] == [] and "intel_iommu=on" in d["note"] and
	 d["devices"][0]["iommu_group"] is None'

# --- uvfio bind / unbind on fake trees ------------------------------------------------------

# snapshot DIR: every link with its target and every file with its content, sorted.
snapshot() {
	(cd "$1" && find . -type l -printf '%p -> %l\n' -o -type f -printf '%p = ' \
		-exec sh -c 'tr "\n" "|" <"$1"; echo' _ {} \; | sort)
}

# fake_kernel TREE: the files a kernel has for binding (they only store what is written).
fake_kernel() {
	touch "$1/bus/pci/drivers_probe"
	for drv in "$1"/bus/pci/drivers/*; do
		touch "$drv/bind" "$drv/unbind" "$drv/new_id"
	done
}

P=$TMP/proc
S=$TMP/state
mkdir -p "$P/self" "$P/net" "$F/class/block" "$F/class/net"
echo "27 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw" >"$P/self/mountinfo"
printf 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' \
	>"$P/net/route"
# A disk below the group-9 NVMe, its first partition on /boot; eth0 below the e1000e.
D=$F/bus/pci/devices/0000:04:00.0/nvme/nvme1/nvme1n1
mkdir -p "$D/nvme1n1p1"
echo 259:0 >"$D/dev"
echo 259:1 >"$D/nvme1n1p1/dev"
ln -s "$F/class/block" "$D/subsystem"
ln -s "$F/class/block" "$D/nvme1n1p1/subsystem"
mkdir -p "$F/bus/pci/devices/0000:02:00.0/net/eth0"
ln -s "$F/class/net" "$F/bus/pci/devices/0000:02:00.0/net/eth0/subsystem"
B="$TMP/bind.txt"
E="$TMP/bind.err"
BIND="bind --sysfs $F --proc $P --state-dir $S"

snapshot "$F" >"$TMP/before.snap"
check "uvfio bind --dry-run exits 0" runs 0 "$B" "$E" $UVFIO $BIND --dry-run 0000:02:00.0
check "... shows the group" has "$B" "^IOMMU group 7 \(2 devices\), dry run$"
check "... the e1000e goes to vfio-pci" has "$B" "^  0000:02:00\.0  e1000e +-> vfio-pci$"
check "... the other function stays" has "$B" "^  0000:02:00\.1  vfio-pci +stays on vfio-pci"
check "... and says nothing changed" has "$B" "^Dry run: nothing was changed\.$"
snapshot "$F" >"$TMP/after.snap"
check "... and nothing did" cmp -s "$TMP/before.snap" "$TMP/after.snap"
check "... not even the state directory" test ! -e "$S"

check "uvfio bind --dry-run --json exits 0" runs 0 "$B" "$E" \
	$UVFIO $BIND --dry-run --json 02:00.0
check "... the plan as JSON" pyjson "$B" \
	'd["command"] == "bind" and d["devices"] == ["0000:02:00.0"] and d["group"] == 7 and
	 d["result"] == "planned" and d["dry_run"] and
	 [(m["address"], m["driver"], m["action"], m.get("to")) for m in d["members"]] ==
	 [("0000:02:00.0", "e1000e", "bind", "vfio-pci"), ("0000:02:00.1", "vfio-pci", "keep", None)]
	 and d["in_use"] == [] and "error" not in d'

runs 0 "$TMP/ls.json" "$TMP/ls.err" "$UVFIO" ls --json --sysfs "$F"
fix=$(python3 -c 'import json,sys; print([g["fix"] for g in json.load(open(sys.argv[1]))["groups"] if g["id"] == 8][0])' "$TMP/ls.json")
check "the fix 'uvfio ls' gives works as a dry run" runs 0 "$B" "$E" \
	$UVFIO ${fix#uvfio } --sysfs "$F" --proc "$P" --state-dir "$S" --dry-run
check "... the bridge loses its driver" has "$B" "^  0000:00:1c\.0  shpchp +-> no driver \(a bridge"
check "... the NVMe goes to vfio-pci" has "$B" "^  0000:03:00\.0  nvme +-> vfio-pci$"

echo "28 27 259:1 / /boot rw,relatime shared:2 - ext4 /dev/nvme1n1p1 rw" >>"$P/self/mountinfo"
check "bind of a device with a mounted partition exits 1" runs 1 "$B" "$E" \
	$UVFIO $BIND --dry-run 0000:04:00.0
check "... naming the device, partition and mount point" has "$E" \
	"^uvfio bind: 0000:04:00\.0 \(nvme\) holds nvme1n1p1, mounted on /boot \(ext4\)\."
check "... and saying --force overrides" has "$E" "unmount the filesystem first, or pass --force"
check "--force overrides it" runs 0 "$B" "$E" $UVFIO $BIND --dry-run --force 0000:04:00.0
check "... and says so" has "$B" "^--force: binding although 0000:04:00\.0 \(nvme\) holds nvme1n1p1"

printf 'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n' >>"$P/net/route"
check "bind of a group with a routed interface exits 1" runs 1 "$B" "$E" \
	$UVFIO $BIND --dry-run --json 0000:02:00.1
check "... naming the member, interface and route, though another device was named" has "$E" \
	"0000:02:00\.0 \(e1000e\) carries network interface eth0, which has route 192\.0\.2\.0/24\..*--force"
check "... and in JSON" pyjson "$B" \
	'd["result"] == "refused" and d["in_use"] == [{"address": "0000:02:00.0", "kind": "route",
	 "interface": "eth0", "route": "192.0.2.0/24", "more_routes": 0}] and "--force" in d["error"]'
printf 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' \
	>"$P/net/route"

check "bind of a device in no IOMMU group exits 1" runs 1 "$B" "$E" \
	$UVFIO bind --sysfs "$F2" --proc "$P" --state-dir "$S" 0000:00:03.0
check "... and says VFIO needs an IOMMU" has "$E" \
	"^uvfio bind: 0000:00:03\.0 is in no IOMMU group, so VFIO cannot use it: VFIO needs an IOMMU.*intel_iommu=on"
check "bind of something that is no PCI address exits 1" runs 1 "$B" "$E" $UVFIO $BIND eth0
check "... and says what a PCI address looks like" has "$E" "'eth0' is not a PCI address \(such as 0000:01:00\.0\)"
check "bind of a missing device exits 1" runs 1 "$B" "$E" $UVFIO $BIND 0000:0a:00.0
check "... and says there is none" has "$E" "There is no PCI device 0000:0a:00\.0 in .*uvfio ls"
check "bind without a device exits 2" runs 2 "$B" "$E" $UVFIO bind
check "unbind takes no --force" runs 2 "$B" "$E" $UVFIO unbind --force 0000:02:00.0
check "unbind takes no --proc" runs 2 "$B" "$E" $UVFIO unbind --proc "$P" 0000:02:00.0
check "... and names the option, not its argument" has "$E" \
	"^uvfio unbind: '--proc' is not an option of this command"
check "bind of devices of two groups exits 1" runs 1 "$B" "$E" \
	$UVFIO $BIND --dry-run 0000:02:00.0 0000:03:00.0
check "... and says one group at a time, naming both" has "$E" \
	"0000:02:00\.0 is in IOMMU group 7 but 0000:03:00\.0 is in group 8: .*one group at a time"
check "... without a group header" sh -c "! grep -q 'IOMMU group' '$B'"
check "... nor with --json" runs 1 "$B" "$E" \
	$UVFIO $BIND --dry-run --json 0000:02:00.0 0000:03:00.0
check "... whose group is null, like its state file" pyjson "$B" \
	'd["group"] is None and d["state_file"] is None and d["members"] == [] and
	 d["result"] == "refused"'

F3=$TMP/sys-novfio
fake_dev "$F3" 0000:05:00.0 0x8086 0x10d3 0x020000 e1000e 3
check "bind without vfio-pci loaded exits 1" runs 1 "$B" "$E" \
	$UVFIO bind --sysfs "$F3" --proc "$P" --state-dir "$S" --dry-run 0000:05:00.0
check "... and says to load it" has "$E" "vfio-pci driver is not loaded.*'modprobe vfio-pci'"

check "unbind without a record, dry run, exits 0" runs 0 "$B" "$E" \
	$UVFIO unbind --sysfs "$F" --state-dir "$S" --dry-run 0000:01:00.0
check "... lets the kernel choose" has "$B" "^  0000:01:00\.0  vfio-pci +-> whichever driver the kernel picks$"
check "... and says there is no record" has "$B" "There is no record of how IOMMU group 5 was bound"

# A "kernel" of plain files stores the writes and binds nothing: bind notices and puts it back.
F4=$TMP/sys-files
fake_dev "$F4" 0000:06:00.0 0x8086 0x10d3 0x020000 e1000e 4
mkdir -p "$F4/bus/pci/drivers/vfio-pci"
fake_kernel "$F4"
check "bind against plain files exits 1" runs 1 "$B" "$E" \
	$UVFIO bind --sysfs "$F4" --proc "$P" --state-dir "$S" 0000:06:00.0
check "... reading back that vfio-pci did not take the device" has "$E" \
	"vfio-pci did not take 0000:06:00\.0: it went to e1000e after the probe"
check "... and rolling back" has "$E" "Every device of IOMMU group 4 is back as it was\.$"
check "... after the kernel's sequence" sh -c \
	"[ \"\$(cat '$F4/bus/pci/drivers/e1000e/unbind')\" = 0000:06:00.0 ] &&
	 [ \"\$(cat '$F4/bus/pci/drivers_probe')\" = 0000:06:00.0 ]"
check "... leaving no record" test ! -e "$S/group-4.json"
check "... and the driver link alone" test "$(readlink "$F4/bus/pci/devices/0000:06:00.0/driver")" \
	= ../../../../bus/pci/drivers/e1000e

# Not root: writing driver_override is refused, and the sentence says why.
mkdir -p "$TMP/state-user"
chmod 777 "$TMP/state-user"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	chmod 755 "$TMP"
	AS_USER="setpriv --reuid=65534 --regid=65534 --clear-groups"
else
	AS_USER=
	chmod a-w "$F4/bus/pci/devices/0000:06:00.0/driver_override"
fi
check "bind without root exits 1" runs 1 "$B" "$E" \
	$AS_USER $UVFIO bind --sysfs "$F4" --proc "$P" --state-dir "$TMP/state-user" 0000:06:00.0
check "... and says it needs root" has "$E" \
	"driver_override failed: Permission denied\. Changing drivers through sysfs needs root: run 'uvfio bind' as root"
# Not root, and the state directory exists but is root's (/run/uvfio after a bind): the record.
mkdir -p "$TMP/state-root"
[ -n "$AS_USER" ] || chmod a-w "$TMP/state-root"
check "bind without root, the state directory root's, exits 1" runs 1 "$B" "$E" \
	$AS_USER $UVFIO bind --sysfs "$F4" --proc "$P" --state-dir "$TMP/state-root" 0000:06:00.0
check "... and says it needs root" has "$E" \
	"Cannot write the record .*/group-4\.json: Permission denied; nothing was changed\. Binding needs root: .*run 'uvfio bind' as root"
check "uvfio help lists bind and unbind" sh -c "'$UVFIO' help | grep -q '^  bind ' && '$UVFIO' help | grep -q '^  unbind '"
check "uvfio bind --help exits 0" runs 0 "$B" "$E" $UVFIO bind --help

# --- uvfio ls on this machine ---------------------------------------------------------------

check "uvfio ls on this machine exits 0" runs 0 "$L" "$TMP/ls.err" "$UVFIO" ls
check "uvfio ls --json on this machine parses" sh -c \
	"'$UVFIO' ls --json >'$TMP/real.json' && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' '$TMP/real.json'"

echo "1..$N"
[ "$FAILED" -eq 0 ]
