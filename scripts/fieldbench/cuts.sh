#!/usr/bin/env bash
# The field bench's power cuts: waysided spools to an ext4 virtio disk that QEMU writes with
# cache=none (O_DIRECT on the host: a write the guest's disk completed is on the host's disk, not in
# its page cache), and the host kills QEMU with SIGKILL at a random moment: no shutdown, no flush.
#
#   scripts/fieldbench/cuts.sh [IMAGE_DIR [WORK_DIR]]
#
# Without IMAGE_DIR it asks image.sh (the cache in WAYSIDE_BENCH_CACHE); without WORK_DIR it works in
# a fresh directory under /var/tmp (not a tmpfs: cache=none needs O_DIRECT), removed at the end unless
# WAYSIDE_BENCH_KEEP=1.
#
# What each cycle boots: Debian's arm64 kernel (the image's vmlinuz) and the image's busybox initramfs
# with a second cpio appended (the arm64 waysided and wayside binaries, cut/wb-cut as PID 1 through
# rdinit=, virtio_net), not the Debian root with systemd: the cut-and-recover path (ext4 journal replay
# at mount, then the spool's own recovery when waysided opens it) is the same, and a cycle takes
# seconds instead of the half minute systemd needs under emulation. waysided runs as an unprivileged
# user (uid 999) on the simulated board, without a network while the cuts happen.
#
# CUTS cuts in total (default 20) over WAYSIDE_BENCH_LANES lanes (default 2): a lane is one gateway
# with its own spool disk, cut again and again by one single-CPU VM at a time; lanes run side by side.
# One cut in five lands during boot and recovery, at a random moment of the first 8 s; the others at a
# random moment within 15 s after the daemon's local API first answered (the spool fsyncs every 5 s or
# 32 batches by default, so most cycles have reported some batches durable and have more in flight). Then each lane boots once more
# with QEMU's restricted user network onto the host's mosquitto, sends its backlog, and cutcheck
# checks that every batch reported durable before a cut arrived. WAYSIDE_CUT_SEED replays a run's
# random moments. Prints one PASS/FAIL line per lane and writes cuts.json per lane into WORK_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/scripts/fieldbench
img=${1:-$(bash "$here/image.sh" "${WAYSIDE_BENCH_CACHE:-/var/cache/wayside-bench}")}
if [[ -n ${2:-} ]]; then
	work=$2/cuts
else
	work=$(mktemp -d /var/tmp/wayside-cuts.XXXXXX)
	[[ ${WAYSIDE_BENCH_KEEP:-} == 1 ]] || rmwork=$work
fi
cuts=${CUTS:-20}
lanes=${WAYSIDE_BENCH_LANES:-2}
seed=${WAYSIDE_CUT_SEED:-$(( $(date +%s) % 32768 ))}
RANDOM=$seed
log() { printf '%s cuts: %s\n' "$(date +%T)" "$*" >&2; }
mkdir -p "$work"
declare -a pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[[ -n ${subpid:-} ]] && kill "$subpid" 2>/dev/null
	[[ -n ${brokerpid:-} ]] && kill "$brokerpid" 2>/dev/null
	wait 2>/dev/null || true
	[[ -z ${rmwork:-} ]] || rm -rf "$rmwork"
}
trap cleanup EXIT

# The cycle's initramfs: the image's, plus our cpio (the kernel unpacks concatenated archives in order).
t=$SECONDS
rd=$work/rd
rm -rf "$rd" && mkdir -p "$rd/bin" "$rd/etc" "$work/x"
(cd "$work/x" && zcat "$img/initrd.img" | cpio -id --quiet)
kver=$(ls "$work/x/lib/modules")
for m in kernel/net/core/failover.ko kernel/drivers/net/net_failover.ko kernel/drivers/net/virtio_net.ko; do
	mkdir -p "$work/x/lib/modules/$kver/$(dirname "$m")"
	debugfs -R "dump /lib/modules/$kver/$m $work/x/lib/modules/$kver/$m" "$img/root.img" >/dev/null 2>&1
	[[ -s $work/x/lib/modules/$kver/$m ]] || { log "no $m in the image's root"; exit 1; }
done
depmod -b "$work/x" "$kver"
mkdir -p "$rd/lib/modules/$kver/kernel/net/core" "$rd/lib/modules/$kver/kernel/drivers/net"
for m in kernel/net/core/failover.ko kernel/drivers/net/net_failover.ko kernel/drivers/net/virtio_net.ko; do
	cp "$work/x/lib/modules/$kver/$m" "$rd/lib/modules/$kver/$m"
done
cp "$work/x/lib/modules/$kver"/modules.* "$rd/lib/modules/$kver/"
echo virtio_net >"$rd/etc/wb-cut-modules"
printf 'root:x:0:0:root:/root:/bin/sh\nwayside:x:999:999:wayside:/var/lib/wayside:/bin/false\n' >"$rd/etc/passwd"
printf 'root:x:0:\nwayside:x:999:\n' >"$rd/etc/group"
install -m 755 "$here/cut/wb-cut" "$rd/wb-cut"
# WAYSIDE_BENCH_BREAK=fsync: the deliberate break the bench must catch, the spool's fsync made a no-op
# in a copy of the source (the spool then reports batches durable that are only in the page cache).
src=$root
if [[ ${WAYSIDE_BENCH_BREAK:-} == fsync ]]; then
	src=$work/src
	rm -rf "$src" && mkdir -p "$src"
	(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$src")
	sed -i 's|opts.syncFile = (\*os.File).Sync|opts.syncFile = func(*os.File) error { return nil } // BREAK|' "$src/buffer/spool/spool.go"
	grep -q '// BREAK' "$src/buffer/spool/spool.go" || { log "the fsync break no longer applies to buffer/spool/spool.go"; exit 1; }
	log "DELIBERATE BREAK: the spool's fsync is a no-op in this build"
fi
(cd "$src" && CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -ldflags='-s -w' -o "$rd/bin/" ./cmd/waysided ./cmd/wayside)
(cd "$rd" && find . | cpio -o -H newc --quiet) >"$work/extra.cpio"
# The kernel takes the next archive only at a 4-byte boundary (zeros between archives are skipped).
{
	cat "$img/initrd.img"
	head -c $(((4 - $(stat -c %s "$img/initrd.img") % 4) % 4)) /dev/zero
	gzip -1 <"$work/extra.cpio"
} >"$work/cut-initrd.img"
go build -o "$work/cutcheck" "$here/cutcheck"
log "cycle initramfs ready ($((SECONDS - t)) s): $(du -h "$work/cut-initrd.img" | cut -f1); seed $seed"

# vm CONSOLE APPEND QEMU-ARGS...: runs (exec) one VM; TMO=seconds bounds it (the cycles are killed
# by the lane instead, so their pid is QEMU's own).
vm() {
	local console=$1 append=$2
	shift 2
	exec ${TMO:+timeout -s KILL "$TMO"} qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 1 -m 512 -nographic -no-reboot \
		-kernel "$img/vmlinuz" -initrd "$work/cut-initrd.img" \
		-append "console=ttyAMA0 quiet rdinit=/wb-cut $append" "$@" >"$console" 2>&1 </dev/null
}

# lane N: cuts in a row on one spool disk. Writes the consoles' names, in boot order, to lane-N.runs.
lane() { # n count seed
	local n=$1 count=$2 gw=bench-cut-$1 disk=$work/spool-$1.img
	RANDOM=$3
	truncate -s 256M "$disk"
	mke2fs -q -t ext4 "$disk"
	: >"$work/lane-$n.runs"
	local i early pid c startfail=0
	for i in $(seq "$count"); do
		c=$work/lane-$n-cycle-$i.log
		echo "$c" >>"$work/lane-$n.runs"
		vm "$c" "wb.gw=$gw wb.phase=cycle" -nic none \
			-drive file="$disk",format=raw,if=virtio,cache=none,aio=threads &
		pid=$!
		early=$((RANDOM % 5 == 0))
		if ((early)); then
			sleep "$((RANDOM % 8)).$((RANDOM % 10))"
		else
			local w=0
			until grep -qa 'WB-SPOOL {' "$c" 2>/dev/null || grep -qa 'WB-FAIL' "$c" 2>/dev/null; do
				sleep 0.2
				w=$((w + 1))
				if ((w > 450)); then break; fi
			done
			if ! grep -qa 'WB-SPOOL {' "$c"; then
				startfail=$((startfail + 1))
				log "lane $n cycle $i: the daemon did not start within 90 s: $(grep -a 'WB-' "$c" | tail -3 | tr '\n' ' ')"
			fi
			sleep "$((RANDOM % 15)).$((RANDOM % 10))"
		fi
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	echo "$startfail" >"$work/lane-$n.startfail"
}

t=$SECONDS
per=$(((cuts + lanes - 1) / lanes))
log "$cuts cuts over $lanes lanes ($per each), spool disks cache=none on $(df --output=fstype "$work" | tail -1)"
for n in $(seq "$lanes"); do
	lane "$n" "$per" "$RANDOM" &
	pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
pids=()
cutsecs=$((SECONDS - t))

# Delivery: the host's mosquitto, one boot per lane with the network on.
t=$SECONDS
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
brokerpid=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -t 'wayside/v1/+/telemetry' -F '%t %x' >"$work/messages" 2>/dev/null &
subpid=$!
sleep 0.5
for n in $(seq "$lanes"); do
	c=$work/lane-$n-deliver.log
	echo "$c" >>"$work/lane-$n.runs"
	TMO=300 vm "$c" "wb.gw=bench-cut-$n wb.phase=deliver" \
		-drive file="$work/spool-$n.img",format=raw,if=virtio,cache=none,aio=threads \
		-netdev "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:1883-cmd:socat - TCP:127.0.0.1:$port" \
		-device virtio-net-pci,netdev=n0,romfile= &
	pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || true; done
pids=()
sleep 1
delsecs=$((SECONDS - t))

for n in $(seq "$lanes"); do
	sf=$(cat "$work/lane-$n.startfail")
	grep -qa WB-DELIVERED "$work/lane-$n-deliver.log" || { log "lane $n: the delivering boot did not finish: $(grep -a 'WB-' "$work/lane-$n-deliver.log" | grep -v WB-SPOOL | tail -3 | tr '\n' ' ')"; rc=1; }
	# shellcheck disable=SC2046
	if out=$("$work/cutcheck" -gw "bench-cut-$n" -messages "$work/messages" -json "$work/cuts-$n.json" $(cat "$work/lane-$n.runs")) && ((sf == 0)); then
		echo "  PASS power-cuts-lane-$n  $out, $sf start failures"
	else
		echo "  FAIL power-cuts-lane-$n  $out, $sf start failures"
		rc=1
	fi
done
printf '  power cuts: %d s cutting (seed %d), %d s delivering\n' "$cutsecs" "$seed" "$delsecs"
exit $rc
