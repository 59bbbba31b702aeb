#!/usr/bin/env bash
# make size: how big waysided is on disk and in memory, against the issue's targets (arm64 binary at
# most 15 MiB, resident memory at most 20 MiB).
#
# 1. Builds waysided as make deb does (static, -trimpath, -s -w) for amd64, arm64 and armv7 and prints
#    the file sizes.
# 2. Runs this machine's build (no devbroker tag) on the sim board (configs/sim.yaml: 10 sensors)
#    against a mosquitto started on a free loopback port, with its own state directory and socket,
#    for RUN_SECONDS (default 10), then reads VmRSS and VmHWM (peak) from /proc/PID/status and stops
#    it with SIGTERM.
# Exits 1 when a target is exceeded or the daemon does not run cleanly.
# Environment: GO, VERSION, LDFLAGS as in the Makefile; RUN_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
LDFLAGS=${LDFLAGS:--s -w -X main.version=$VERSION}
RUN_SECONDS=${RUN_SECONDS:-10}
MAX_ARM64_MIB=15
MAX_RSS_MIB=20

die() {
	echo "size: $*" >&2
	exit 1
}

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

mib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1048576 }'; }

# --- 1. binary sizes
declare -A size
for target in amd64 arm64 armv7; do
	case $target in
	amd64) goarch=amd64 goarm="" ;;
	arm64) goarch=arm64 goarm="" ;;
	armv7) goarch=arm goarm=7 ;;
	esac
	echo "size: building waysided for $target" >&2
	CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm \
		"$GO" build -trimpath -ldflags "$LDFLAGS" -o "$work/$target/waysided" ./cmd/waysided
	size[$target]=$(stat -c %s "$work/$target/waysided")
done

# --- 2. resident memory on the sim board
case $("$GO" env GOARCH) in
amd64) bin=$work/amd64/waysided ;;
arm64) bin=$work/arm64/waysided ;;
arm) bin=$work/armv7/waysided ;;
*) die "no build for this machine's architecture $("$GO" env GOARCH)" ;;
esac

mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
[[ -x $mosquitto ]] || die "mosquitto not found: apt-get install -y mosquitto"

# can_connect tells whether something accepts TCP connections on 127.0.0.1:$1.
can_connect() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A random port that is free, tried until mosquitto listens on it (it exits when the port is taken).
port=""
for attempt in $(seq 1 20); do
	p=$((20000 + RANDOM % 40000))
	can_connect "$p" && continue
	printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n' "$p" >"$work/mosquitto.conf"
	"$mosquitto" -c "$work/mosquitto.conf" &
	mpid=$!
	for _ in $(seq 1 50); do
		can_connect "$p" && break
		kill -0 "$mpid" 2>/dev/null || break
		sleep 0.1
	done
	if can_connect "$p" && kill -0 "$mpid" 2>/dev/null; then
		pids+=("$mpid")
		port=$p
		break
	fi
	kill "$mpid" 2>/dev/null || true
	wait "$mpid" 2>/dev/null || true
done
[[ -n $port ]] || die "could not start mosquitto on a free loopback port (attempts: $attempt)"

# configs/sim.yaml pointed at that broker, without the in-process dev broker, with its own state.
cfg=$work/sim.yaml
sed -e "s|tcp://127.0.0.1:18830|tcp://127.0.0.1:$port|" -e '/^ *dev_broker:/d' \
	-e "s|dir: ./var/sim|dir: $work/state|" -e "s|socket: ./var/sim/local.sock|socket: $work/local.sock|" \
	configs/sim.yaml >"$cfg"
grep -q "tcp://127.0.0.1:$port" "$cfg" && ! grep -q '^ *dev_broker:' "$cfg" && grep -q "dir: $work/state" "$cfg" &&
	grep -q "socket: $work/local.sock" "$cfg" ||
	die "configs/sim.yaml no longer has the broker, dev_broker, spool.dir and local_api.socket lines scripts/size.sh rewrites; update it"
"$bin" -check-config "$cfg" >/dev/null

received=$work/received
if command -v mosquitto_sub >/dev/null; then
	mosquitto_sub -h 127.0.0.1 -p "$port" -t 'wayside/#' -F '%t' >"$received" 2>/dev/null &
	pids+=($!)
fi

"$bin" -config "$cfg" -log-format json 2>"$work/daemon.log" &
dpid=$!
pids+=("$dpid")
for _ in $(seq 1 "$RUN_SECONDS"); do
	sleep 1
	kill -0 "$dpid" 2>/dev/null || {
		tail -20 "$work/daemon.log" >&2
		die "waysided exited during the run (log above)"
	}
done
rss_kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$dpid/status")
hwm_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$dpid/status")
kill -TERM "$dpid"
status=0
for _ in $(seq 1 100); do
	kill -0 "$dpid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$dpid" 2>/dev/null && die "waysided did not stop within 10s of SIGTERM"
wait "$dpid" || status=$?
[[ $status -eq 0 ]] || {
	tail -20 "$work/daemon.log" >&2
	die "waysided exited with status $status after SIGTERM (log above)"
}
batches=n/a
[[ -f $received ]] && batches=$(grep -c '/telemetry$' "$received" || true)

# --- report
fail=0
within() { awk -v v="$1" -v l="$2" 'BEGIN { exit !(v <= l) }'; } # value limit
verdict() { if within "$1" "$2"; then echo "ok (<= $2 MiB)"; else echo "OVER $2 MiB"; fi; }
echo
echo "waysided $VERSION, stripped static binary (-s -w -trimpath, CGO_ENABLED=0):"
printf '  %-6s %10s %9s\n' target bytes MiB
for target in amd64 arm64 armv7; do
	line=$(printf '  %-6s %10d %9s' "$target" "${size[$target]}" "$(mib "${size[$target]}")")
	if [[ $target == arm64 ]]; then
		v=$(verdict "$(mib "${size[arm64]}")" "$MAX_ARM64_MIB")
		line+="  $v"
	fi
	echo "$line"
done
echo
echo "memory on the sim board ($(grep -c 'driver:' "$cfg") sensors, ${RUN_SECONDS}s, $batches telemetry batches to mosquitto on 127.0.0.1:$port):"
rss=$(mib $((rss_kb * 1024)))
hwm=$(mib $((hwm_kb * 1024)))
printf '  %-6s %9s MiB  %s\n' VmRSS "$rss" "$(verdict "$rss" "$MAX_RSS_MIB")"
printf '  %-6s %9s MiB  %s\n' VmHWM "$hwm" "$(verdict "$hwm" "$MAX_RSS_MIB")"
within "$(mib "${size[arm64]}")" "$MAX_ARM64_MIB" || fail=1
within "$rss" "$MAX_RSS_MIB" || fail=1
within "$hwm" "$MAX_RSS_MIB" || fail=1
exit "$fail"
