#!/usr/bin/env bash
# make field-test: the packaged daemon on Debian's arm64 kernel and systemd, under qemu-system-aarch64.
#
#   scripts/fieldbench/run.sh
#
# 1. image.sh builds (or reuses) the arm64 system: kernel, initramfs, Debian root with systemd.
# 2. make deb builds the arm64 package; a payload disk carries it, the bench config and the in-VM check
#    script (payload/wb-run, a oneshot unit) into the VM, whose root is a throw-away qcow2 overlay.
# 3. A mosquitto on the host's 127.0.0.1 is the broker. The VM's only network is QEMU user networking
#    with restrict=on and one guestfwd, 10.0.2.100:1883 -> that port through socat, spawned per
#    connection so the daemon can reconnect after a restart: no other traffic leaves the VM.
# 4. The VM prints WB-CHECK lines; this script adds the broker's side, prints every check with PASS or
#    FAIL and where the time went, and fails if any check failed or is missing.
# Environment: WAYSIDE_BENCH_CACHE (default /var/cache/wayside-bench) keeps the image between runs;
# WAYSIDE_BENCH_TIMEOUT (default 900 s) bounds the VM run; WAYSIDE_BENCH_KEEP=1 keeps the work directory;
# WAYSIDE_BENCH_IMAGE=DIR uses that image directory as it is (debugging); WAYSIDE_BENCH_BREAK=syscall or
# deviceallow installs a deliberately broken drop-in, to show the checks failing.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/scripts/fieldbench
cache=${WAYSIDE_BENCH_CACHE:-/var/cache/wayside-bench}
vmtimeout=${WAYSIDE_BENCH_TIMEOUT:-900}
work=$(mktemp -d /var/tmp/wayside-field.XXXXXX)
declare -a timing=()
step() { timing+=("$(printf '%-34s %4d s' "$1" "$2")"); }
log() { printf '%s field-test: %s\n' "$(date +%T)" "$*" >&2; }
cleanup() {
	[[ -n ${subpid:-} ]] && kill $subpid 2>/dev/null
	[[ -n ${brokerpid:-} ]] && kill "$brokerpid" 2>/dev/null
	wait 2>/dev/null || true
	[[ ${WAYSIDE_BENCH_KEEP:-} == 1 ]] || rm -rf "$work"
}
trap cleanup EXIT

t=$SECONDS
img=${WAYSIDE_BENCH_IMAGE:-$(bash "$here/image.sh" "$cache")}
step "image (build or cache)" $((SECONDS - t))

t=$SECONDS
make -s -C "$root" deb DEB_ARCHES=arm64 DIST="$work/dist" >"$work/deb.log" 2>&1 || { cat "$work/deb.log"; exit 1; }
deb=$(ls "$work"/dist/*arm64.deb)
ov=$work/payload/overlay
mkdir -p "$ov/usr/local/sbin" "$ov/usr/local/share/wb" "$ov/etc/systemd/system/multi-user.target.wants" "$ov/etc/systemd/network"
install -m 755 "$here/payload/wb-run" "$ov/usr/local/sbin/wb-run"
cp "$here/payload/wb-run.service" "$ov/etc/systemd/system/"
ln -s ../wb-run.service "$ov/etc/systemd/system/multi-user.target.wants/wb-run.service"
ln -s /lib/systemd/system/systemd-networkd.service "$ov/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
printf '[Match]\nName=e*\n[Network]\nDHCP=ipv4\n' >"$ov/etc/systemd/network/10-bench.network"
# fielddev makes the devices inside the VM (internal/fielddev): a static arm64 binary on the payload.
(cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -o "$ov/usr/local/sbin/fielddev" ./internal/fielddev/cmd/fielddev) >>"$work/deb.log" 2>&1 || { cat "$work/deb.log"; exit 1; }
(cd "$root" && go build -o "$work/fieldcheck" ./internal/fielddev/cmd/fieldcheck) >>"$work/deb.log" 2>&1 || { cat "$work/deb.log"; exit 1; }
cp "$deb" "$ov/usr/local/share/wb/wayside.deb"
cp "$here/payload/bench.yaml" "$ov/usr/local/share/wb/bench.yaml"
cp "$root/systemd/waysided.service" "$ov/usr/local/share/wb/waysided.service"
# WAYSIDE_BENCH_BREAK: a deliberate break the checks must catch, as an administrator's drop-in (the
# packaged unit stays unchanged): syscall takes the @chown calls out of the filter (the local API gives
# its socket to local_api.group with fchownat); deviceallow drops DeviceAllow=char-ttyACM (the serial
# sensors' USB adapters). fsync is cuts.sh's.
case ${WAYSIDE_BENCH_BREAK:-} in
syscall | deviceallow)
	mkdir -p "$ov/etc/systemd/system/waysided.service.d"
	if [[ $WAYSIDE_BENCH_BREAK == syscall ]]; then
		printf '[Service]\nSystemCallFilter=~@chown\n'
	else
		printf '[Service]\nDeviceAllow=\n'
		grep '^DeviceAllow=' "$root/systemd/waysided.service" | grep -v ttyACM
	fi >"$ov/etc/systemd/system/waysided.service.d/break.conf"
	log "DELIBERATE BREAK $WAYSIDE_BENCH_BREAK: $(tr '\n' ' ' <"$ov/etc/systemd/system/waysided.service.d/break.conf")"
	;;
"" | fsync) ;;
*) log "WAYSIDE_BENCH_BREAK=$WAYSIDE_BENCH_BREAK: not one of syscall, deviceallow, fsync"; exit 2 ;;
esac
truncate -s 64M "$work/payload.img"
mke2fs -q -t ext4 -d "$work/payload" "$work/payload.img"
qemu-img create -q -f qcow2 -b "$img/root.img" -F raw "$work/root.qcow2"
step "arm64 .deb and payload disk" $((SECONDS - t))

# The broker: a real mosquitto on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
brokerpid=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
mosquitto_sub -h 127.0.0.1 -p "$port" -t 'wayside/v1/#' -F '%t %l %p' >"$work/messages" 2>/dev/null &
subpid=$!
# The same messages with hex payloads, for fieldcheck's SenML decoding.
mosquitto_sub -h 127.0.0.1 -p "$port" -t 'wayside/v1/+/telemetry' -F '%t %x' >"$work/telemetry.hex" 2>/dev/null &
subpid="$subpid $!"

t=$SECONDS
log "booting the VM (qemu-system-aarch64 -M virt -cpu cortex-a72, no KVM; console in $work/console.log)"
timeout "$vmtimeout" qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1024 -nographic -no-reboot \
	-kernel "$img/vmlinuz" -initrd "$img/initrd.img" -append "console=ttyAMA0 quiet wb.mode=boot" \
	-drive file="$work/root.qcow2",format=qcow2,if=virtio,cache=unsafe \
	-drive file="$work/payload.img",format=raw,if=virtio,readonly=on \
	-netdev "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:1883-cmd:socat - TCP:127.0.0.1:$port" \
	-device virtio-net-pci,netdev=n0,romfile= >"$work/console.log" 2>&1 </dev/null || true
step "VM: boot, install, checks" $((SECONDS - t))
sleep 1

fail=0
results=$(grep -a 'WB-CHECK' "$work/console.log" | sed 's/.*WB-CHECK /  /' | tr -d '\r' || true)
want="dpkg-install installed-unit-unchanged devices-present udev-groups ready status-group-member status-other-refused reload-bad-config-keeps-old watchdog-restart no-eperm-sigsys no-seccomp-audit stop-drains"
echo "field-test checks (in the VM):"
for c in $want; do
	line=$(grep -m1 "^  $c " <<<"$results" || true)
	if [[ -z $line ]]; then
		echo "  $c FAIL never reported (see the console below)"
		fail=1
	else
		echo "$line"
		grep -q "^  $c PASS" <<<"$line" || fail=1
	fi
done
# The broker's side.
telemetry=$(grep -ac '^wayside/v1/bench-0001/telemetry ' "$work/messages" || true)
last=$(grep -a '^wayside/v1/bench-0001/status ' "$work/messages" | tail -1 | cut -d' ' -f3- || true)
echo "field-test checks (at the broker):"
if [[ $telemetry -gt 0 ]]; then echo "  telemetry-reached-broker PASS $telemetry batches"; else echo "  telemetry-reached-broker FAIL no telemetry"; fail=1; fi
if grep -q '"state":"offline"' <<<"$last" && grep -q '"clean":true' <<<"$last"; then
	echo "  offline-status-after-stop PASS $(cut -c1-160 <<<"$last")"
else
	echo "  offline-status-after-stop FAIL last status: ${last:-none}"
	fail=1
fi
# Readings from every bus kind, through the kernel's drivers: I2C (bme280, sht4x on the CP2112),
# UART (pms5003, ops243, nmea on ttyACM0-2), GPIO (pulses on the CP2112's line 0, edges polled by hid_cp2112). The
# emulators report about 20 degC, 50 %RH and PM2.5 12-31 ug/m3, a vehicle every 5 s, a fix at 52.5 N;
# fielddev pulses about once a second.
gwkey=$(grep -a -o 'WB-KEY [A-Za-z0-9+/=]*' "$work/console.log" | tail -1 | cut -d' ' -f2 || true)
"$work/fieldcheck" -f "$work/telemetry.hex" -gateway-key "${gwkey:-none}" \
	-want "i2c-bme280-readings=bench-0001/env1/temperature,15,25" \
	-want "i2c-bme280-pressure=bench-0001/env1/pressure,90000,110000" \
	-want "i2c-sht4x-readings=bench-0001/air1/humidity,40,60" \
	-want "uart-pms5003-readings=bench-0001/pm1/pm2_5,1,100" \
	-want "uart-ops243-vehicles=bench-0001/radar1/count,1,100000,sum" \
	-want "uart-nmea-readings=bench-0001/gps1/lat,52,53" \
	-want "gpio-pulse-edges=bench-0001/loop1/volume,10,100000,sum" | sed 's/^/  /' || fail=1
grep -aq 'WB-DONE' "$work/console.log" || fail=1
echo "field-test time:"
printf '  %s\n' "${timing[@]}"
if [[ $fail -ne 0 ]]; then
	echo "--- console (last 80 lines) ---"
	tail -80 "$work/console.log" | tr -d '\r'
	echo "field-test: FAIL"
	exit 1
fi
echo "field-test: PASS"
