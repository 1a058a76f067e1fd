#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# The uvfio tool end to end, printing TAP: 'uvfio info' against a dma device
# served on a temporary socket (text and --json agree on the device's IDs,
# regions, sparse area and MSI-X placement), its error path, and 'uvfio ls'
# against fake sysfs trees (a group spoiled by a driver; no IOMMU at all)
# and against this machine. The server and the temporary directory go away
# however the script ends.
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

# --- uvfio ls on this machine ---------------------------------------------------------------

check "uvfio ls on this machine exits 0" runs 0 "$L" "$TMP/ls.err" "$UVFIO" ls
check "uvfio ls --json on this machine parses" sh -c \
	"'$UVFIO' ls --json >'$TMP/real.json' && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' '$TMP/real.json'"

echo "1..$N"
[ "$FAILED" -eq 0 ]
