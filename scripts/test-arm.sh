#!/usr/bin/env bash
# Cross-compile Wayside's Go tests for the ARM boards and run them under qemu-user.
#
# Usage: scripts/test-arm.sh [package pattern...]
#   default patterns: ./buffer/... ./drivers/... ./cloudsync/...   (patterns matching no package are skipped)
# Environment:
#   ARCHES      which targets to run, default "arm64 arm" (arm means GOARM=7)
#   TEST_FLAGS  extra flags for go test, default "-count=1 -timeout=10m"
# Exported to the tests: WAYSIDE_TEST_EXEC, the qemu binary running them (empty when native). A test
# that re-executes its own binary (os.Executable) must prefix that command with it, or skip when it is
# set, unless the host has qemu registered in binfmt_misc.
#
# Tests run with CGO_ENABLED=0 (static binaries, so qemu-user needs no ARM sysroot) and without -race
# (the race detector needs cgo, and is not supported on arm). On a host of the target architecture the
# tests run natively. qemu comes from Debian's qemu-user-static (qemu-aarch64-static, qemu-arm-static),
# which scripts/deps.sh installs.
set -euo pipefail

cd "$(dirname "$0")/.."

arches=${ARCHES:-arm64 arm}
read -r -a test_flags <<<"${TEST_FLAGS:--count=1 -timeout=10m}"
if (($# > 0)); then
	patterns=("$@")
else
	patterns=(./buffer/... ./drivers/... ./cloudsync/...)
fi

die() {
	echo "test-arm: $*" >&2
	exit 1
}

# ensure_qemu makes sure the qemu-user binary $1 is on PATH: when it is not, scripts/deps.sh installs
# the arm group (qemu-user-static), as make test and make test-arm do before this script runs.
ensure_qemu() {
	local bin=$1
	command -v "$bin" >/dev/null && return 0
	echo "test-arm: $bin not found, running scripts/deps.sh arm" >&2
	bash scripts/deps.sh arm || die "could not install qemu-user-static (see above)"
	command -v "$bin" >/dev/null || die "$bin not found: scripts/deps.sh arm installs it (qemu-user-static), unless WAYSIDE_SKIP has arm"
}

# Resolve the patterns once, for the host: a pattern that matches nothing is reported and skipped.
pkgs=()
errfile=$(mktemp)
trap 'rm -f "$errfile"' EXIT
for pat in "${patterns[@]}"; do
	dir=${pat%/...}
	if [[ $pat == ./* && ! -d $dir ]]; then
		echo "test-arm: skipping $pat: no directory $dir" >&2
		continue
	fi
	# A pattern that matches nothing is only a warning on stderr; any other go list error stops the run.
	if ! out=$(go list "$pat" 2>"$errfile"); then
		die "go list $pat failed: $(cat "$errfile")"
	fi
	mapfile -t found < <(printf '%s' "$out")
	if ((${#found[@]} == 0)); then
		echo "test-arm: skipping $pat: no packages" >&2
		continue
	fi
	pkgs+=("${found[@]}")
done
((${#pkgs[@]} > 0)) || die "no packages to test in: ${patterns[*]}"

host=$(go env GOHOSTARCH)
failed=()
for arch in $arches; do
	env=(GOOS=linux GOARCH="$arch" CGO_ENABLED=0)
	case $arch in
	arm64) qemu=qemu-aarch64-static label="arm64" ;;
	arm) qemu=qemu-arm-static label="arm (GOARM=7)" env+=(GOARM=7) ;;
	*) die "unsupported arch $arch (use arm64 or arm)" ;;
	esac
	exec_flags=()
	if [[ $host == "$arch" ]]; then
		echo "=== $label: native on this host"
		env+=(WAYSIDE_TEST_EXEC=)
	else
		ensure_qemu "$qemu"
		exec_flags=(-exec "$qemu")
		env+=(WAYSIDE_TEST_EXEC="$(command -v "$qemu")")
		echo "=== $label: under $qemu ($("$qemu" --version | head -n1))"
	fi
	if env "${env[@]}" go test "${exec_flags[@]}" "${test_flags[@]}" "${pkgs[@]}"; then
		echo "=== $label: PASS"
	else
		echo "=== $label: FAIL"
		failed+=("$label")
	fi
done

if ((${#failed[@]} > 0)); then
	die "failed on: ${failed[*]}"
fi
echo "test-arm: all passed on: $arches"
