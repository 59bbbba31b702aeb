#!/usr/bin/env bash
# Install the system packages Wayside's tests need, when they are missing. `make test` runs it first, so
# on a Debian or Ubuntu machine with only Go installed `make test` sets up everything it needs.
#
# Usage: scripts/deps.sh [--check | --list | --skipped] [GROUP...]
#   (none)     install what is missing: apt-get as root, sudo otherwise (saying what and why first)
#   --check    only report what is missing; exit 1 when something is
#   --list     print the table below: group, command or file checked, Debian package, why
#   --skipped  print one line per group WAYSIDE_SKIP skips (make test prints it at the end)
#   GROUP...   only these groups (default: every group but the skipped ones)
# Environment:
#   WAYSIDE_SKIP               groups to neither install nor test, space-separated, e.g. "arm packaging";
#                              base cannot be skipped. Empty by default: everything, as CI does.
#   WAYSIDE_SKIP_BROKER_TESTS  =1 is the same as broker in WAYSIDE_SKIP
# Test hooks: WAYSIDE_DEPS_PRETEND_MISSING="cmd..." treats those commands or files as missing in the
# first check; WAYSIDE_DEPS_APT_GET replaces apt-get (a path that does not exist stands for no apt).
#
# Besides packages: a bare container has no (or an empty) /etc/machine-id, which a booted system always
# has; the package test derives gateway.id: auto from it. As root this creates it
# (systemd-machine-id-setup); as another user it only says so, and the package test then checks the
# advice for a machine without one.
set -euo pipefail

# One row per command or file a test needs:  group | command or /path | Debian package | why.
# A later group (e.g. fieldbench, cluster) is more rows here plus its description in group_about.
# Rows of one package share it: it is installed once, for every reason given.
table='
base      | gcc                                | gcc              | go test -race needs cgo, and cgo a C compiler
base      | /usr/include/stdlib.h              | libc6-dev        | the C library headers for cgo (gcc only recommends them)
base      | make                               | make             | the package test builds the .deb with make deb
base      | openssl                            | openssl          | the signed-command tests check signatures against openssl Ed25519 (cloudsync/command, internal/cli)
base      | /etc/ssl/certs/ca-certificates.crt | ca-certificates  | go fetches modules and nfpm (make deb) over HTTPS
broker    | mosquitto                          | mosquitto        | the broker tests run a real mosquitto (internal/testkit/testbroker: cloudsync, gateway, cmd/waysided, internal/cli)
broker    | mosquitto_passwd                   | mosquitto        | the broker tests write password files with mosquitto_passwd
arm       | qemu-aarch64-static                | qemu-user-static | the ARM suite (scripts/test-arm.sh) runs the arm64 tests under qemu-user
arm       | qemu-arm-static                    | qemu-user-static | the ARM suite runs the armv7 tests under qemu-user
packaging | systemd-analyze                    | systemd          | the unit checks (packaging/unit_test.go): systemd-analyze verify, security, syscall-filter
packaging | systemd-machine-id-setup           | systemd          | creates /etc/machine-id in a bare container, for the package test
packaging | /bin/kill                          | procps           | systemd-analyze verify checks that ExecReload= of the unit, /bin/kill, exists
packaging | dpkg-deb                           | dpkg             | the package test (packaging/deb_test.go) validates versions and unpacks the .deb
packaging | lintian                            | lintian          | the package test runs lintian on the amd64 .deb and fails on its errors and warnings
cloud     | /usr/lib/postgresql/*/bin/initdb   | postgresql       | the ingest tests start a real PostgreSQL (internal/testkit/testpg: cloudsync/ingest), initdb and pg_ctl from the Debian package
cluster   | /usr/lib/rabbitmq/bin/rabbitmq-server | rabbitmq-server | the RabbitMQ tests start a 3-node cluster with its MQTT plugin on loopback (internal/testkit/testrabbit, cmd/wayside-ingest)
field     | qemu-system-aarch64                | qemu-system-arm  | make field-test boots the Debian arm64 kernel and systemd (scripts/fieldbench)
field     | qemu-img                           | qemu-utils       | make field-test gives each run a throw-away qcow2 overlay of the cached root
field     | debootstrap                        | debootstrap      | make field-test builds the arm64 Debian root (first stage here, second in the VM)
field     | mke2fs                             | e2fsprogs        | make field-test makes ext4 disk images from directories (mke2fs -d)
field     | debugfs                            | e2fsprogs        | make field-test takes virtio_net out of the root image for the power-cut boots
field     | cpio                               | cpio             | make field-test packs the busybox initramfs
field     | depmod                             | kmod             | make field-test resolves the kernel modules of the initramfs
field     | socat                              | socat            | make field-test forwards broker connections from the VM to the loopback of the host
field     | python3                            | python3          | make field-test picks a free loopback port for its broker
'

# group_about says what skipping a group leaves out.
group_about() {
	case $1 in
	base) echo "go test -race, the package build and the signature interop tests (cannot be skipped)" ;;
	broker) echo "the broker tests (they skip when mosquitto is missing; WAYSIDE_SKIP_BROKER_TESTS=1)" ;;
	arm) echo "the ARM suite: buffer, driver and encoder tests for arm64 and armv7 under qemu-user" ;;
	cloud) echo "the ingest tests with a real PostgreSQL (cloudsync/ingest, internal/testkit/testpg; WAYSIDE_SKIP_CLOUD_TESTS=1)" ;;
	cluster) echo "the RabbitMQ cluster tests (internal/testkit/testrabbit, cmd/wayside-ingest; WAYSIDE_SKIP_CLUSTER_TESTS=1)" ;;
	packaging) echo "the systemd unit checks and the .deb package test (they skip when systemd-analyze or dpkg-deb is missing)" ;;
	field) echo "make field-test: the packaged daemon on Debian's arm64 kernel and systemd under qemu-system-aarch64" ;;
	*) return 1 ;;
	esac
}

say() { echo "deps: $*"; }
die() {
	echo "deps: $*" >&2
	exit 1
}

mode=install
case ${1:-} in
--check) mode=check && shift ;;
--list) mode=list && shift ;;
--skipped) mode=skipped && shift ;;
-h | --help)
	sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
	exit 0
	;;
-*) die "unknown option $1 (see $0 --help)" ;;
esac

# Parse the table into parallel arrays.
rgroup=() rprov=() rpkg=() rwhy=()
while IFS='|' read -r g p k w; do
	g=${g//[[:space:]]/} p=${p//[[:space:]]/} k=${k//[[:space:]]/}
	[[ -n $g ]] || continue
	w=${w#"${w%%[![:space:]]*}"}
	rgroup+=("$g") rprov+=("$p") rpkg+=("$k") rwhy+=("$w")
done <<<"$table"
in_list() { # in_list WORD LIST...
	local w=$1 x
	shift
	for x in "$@"; do [[ $x == "$w" ]] && return 0; done
	return 1
}
groups=()
for g in "${rgroup[@]}"; do
	in_list "$g" ${groups[@]+"${groups[@]}"} || groups+=("$g")
done

if [[ $mode == list ]]; then
	printf '%-10s %-35s %-17s %s\n' GROUP CHECKS PACKAGE WHY
	for i in "${!rgroup[@]}"; do
		printf '%-10s %-35s %-17s %s\n' "${rgroup[i]}" "${rprov[i]}" "${rpkg[i]}" "${rwhy[i]}"
	done
	exit 0
fi

# The skipped groups: WAYSIDE_SKIP (spaces or commas), and broker for WAYSIDE_SKIP_BROKER_TESTS=1.
skip_env=${WAYSIDE_SKIP:-}
read -r -a asked <<<"${skip_env//,/ }"
skipped=()
broker_env=""
if [[ ${WAYSIDE_SKIP_BROKER_TESTS:-} == 1 ]] && ! in_list broker ${asked[@]+"${asked[@]}"}; then
	broker_env=1
fi
for g in ${asked[@]+"${asked[@]}"}; do
	if [[ $g == base ]]; then
		echo "deps: WAYSIDE_SKIP: base cannot be skipped: every test needs it" >&2
	elif ! in_list "$g" "${groups[@]}"; then
		echo "deps: WAYSIDE_SKIP: no group named $g (groups: ${groups[*]:1}); ignored" >&2
	elif ! in_list "$g" ${skipped[@]+"${skipped[@]}"}; then
		skipped+=("$g")
	fi
done
[[ -z $broker_env ]] || skipped+=(broker)
# skip_var names the variable that skips group $1.
skip_var() {
	if [[ $1 == broker && -n $broker_env ]]; then echo WAYSIDE_SKIP_BROKER_TESTS=1; else echo "$1 in WAYSIDE_SKIP"; fi
}

if [[ $mode == skipped ]]; then
	for g in ${skipped[@]+"${skipped[@]}"}; do
		echo "skipped ($(skip_var "$g")): $(group_about "$g")"
	done
	exit 0
fi

# The groups to handle: those named on the command line, else all; less the skipped ones.
wanted=()
for g in "$@"; do
	in_list "$g" "${groups[@]}" || die "no group named $g (groups: ${groups[*]})"
done
for g in "${groups[@]}"; do
	if (($# > 0)) && ! in_list "$g" "$@"; then continue; fi
	if in_list "$g" ${skipped[@]+"${skipped[@]}"}; then
		say "skipping group $g ($(skip_var "$g")): $(group_about "$g")"
		continue
	fi
	wanted+=("$g")
done

# have CMD_OR_PATH: a /path must exist; a command must be on PATH or in an sbin directory (Debian puts
# mosquitto in /usr/sbin, which is not on a normal user's PATH; the tests look there too).
have() {
	local d
	if [[ $1 == /* ]]; then # a path, or a glob of them (PostgreSQL lives under its version)
		compgen -G "$1" >/dev/null
		return
	fi
	command -v "$1" >/dev/null 2>&1 && return 0
	for d in /usr/local/sbin /usr/sbin /sbin; do
		[[ -x $d/$1 ]] && return 0
	done
	return 1
}

# find_missing [pretend]: sets miss to the indexes of wanted rows whose command or file is missing.
find_missing() {
	local i pretend=()
	[[ ${1:-} != pretend ]] || read -r -a pretend <<<"${WAYSIDE_DEPS_PRETEND_MISSING:-}"
	miss=()
	for i in "${!rgroup[@]}"; do
		in_list "${rgroup[i]}" ${wanted[@]+"${wanted[@]}"} || continue
		if in_list "${rprov[i]}" ${pretend[@]+"${pretend[@]}"} || ! have "${rprov[i]}"; then
			miss+=("$i")
		fi
	done
}

# machine_id: a bare container has no /etc/machine-id; give it the one systemd gives a booted system.
machine_id() {
	[[ ! -s /etc/machine-id ]] || return 0
	if [[ $mode == check ]]; then
		say "note: /etc/machine-id is missing or empty; scripts/deps.sh creates it when run as root"
	elif [[ $(id -u) -ne 0 ]]; then
		say "note: /etc/machine-id is missing or empty and this is not root, so it stays so (as root: systemd-machine-id-setup); the package test then checks the advice for a machine without one"
	elif ! command -v systemd-machine-id-setup >/dev/null 2>&1; then
		say "note: /etc/machine-id is missing or empty and systemd-machine-id-setup is missing (the packaging group installs it)"
	else
		local out
		out=$(systemd-machine-id-setup 2>&1) || die "systemd-machine-id-setup failed: $out"
		say "created /etc/machine-id with systemd-machine-id-setup (running as root; a bare container has none, and the package test derives gateway.id: auto from it)"
	fi
}

find_missing pretend
if ((${#miss[@]} == 0)); then
	machine_id
	say "all present"
	exit 0
fi

# The packages to install, each once, with every reason it is needed.
pkgs=() pgroup=() pwhy=()
for i in "${miss[@]}"; do
	for j in ${pkgs[@]+"${!pkgs[@]}"}; do
		if [[ ${pkgs[j]} == "${rpkg[i]}" ]]; then
			pwhy[j]+="; ${rprov[i]} missing: ${rwhy[i]}"
			continue 2
		fi
	done
	pkgs+=("${rpkg[i]}")
	pgroup+=("${rgroup[i]}")
	pwhy+=("${rprov[i]} missing: ${rwhy[i]}")
done
explain() {
	local j
	for j in "${!pkgs[@]}"; do
		printf '  %-17s %-11s %s\n' "${pkgs[j]}" "[${pgroup[j]}]" "${pwhy[j]}"
	done
}

apt=${WAYSIDE_DEPS_APT_GET:-apt-get}
aptopts=(-o DPkg::Lock::Timeout=600)
install_cmd="apt-get update && apt-get install -y --no-install-recommends ${pkgs[*]}"

if [[ $mode == check ]]; then
	say "missing, for the tests (scripts/deps.sh or make deps installs them):"
	explain
	machine_id
	exit 1
fi

if ! command -v "$apt" >/dev/null 2>&1; then
	{
		echo "deps: the tests need these Debian packages (group in brackets), and this system has no apt-get to install them:"
		explain
		echo "deps: install the equivalents with your package manager, or skip their group with WAYSIDE_SKIP=\"GROUP...\" (scripts/deps.sh --list)"
	} >&2
	exit 1
fi

# Run apt-get as root, through sudo when not root: without a password when sudo allows it, or asking
# for one at a terminal. Otherwise say the exact command and fail.
sudo=()
if [[ $(id -u) -ne 0 ]]; then
	why_not=""
	if ! command -v sudo >/dev/null 2>&1; then
		why_not="this is not root and there is no sudo"
	elif sudo -n true 2>/dev/null; then
		sudo=(sudo -n)
	elif [[ -t 0 ]]; then
		sudo=(sudo)
	else
		why_not="this is not root and sudo wants a password, with no terminal to ask it at"
	fi
	if [[ -n $why_not ]]; then
		{
			echo "deps: the tests need these Debian packages (group in brackets):"
			explain
			echo "deps: $why_not; install them as root with:"
			echo "  $install_cmd"
			echo "deps: or skip their group with WAYSIDE_SKIP=\"GROUP...\" (scripts/deps.sh --list)"
		} >&2
		exit 1
	fi
	say "installing with ${sudo[*]} apt-get (not root), for the tests:"
else
	say "installing with apt-get, for the tests:"
fi
explain

# apt-get update first: a fresh container has no package lists, and stale lists name removed versions.
${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive "$apt" "${aptopts[@]}" -qq update ||
	die "apt-get update failed; install them by hand with: $install_cmd"
${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive "$apt" "${aptopts[@]}" -q -y --no-install-recommends install "${pkgs[@]}" ||
	die "apt-get install failed; install them by hand with: $install_cmd"

# Check again, for real: a package that installed but did not provide the command is a wrong table row.
find_missing
if ((${#miss[@]} > 0)); then
	for i in "${miss[@]}"; do
		echo "deps: ${rprov[i]} still missing after installing ${rpkg[i]}" >&2
	done
	exit 1
fi
machine_id
say "installed ${pkgs[*]}"
