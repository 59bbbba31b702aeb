#!/usr/bin/env bash
# Build the wayside Debian packages with nfpm: static binaries per architecture, the systemd unit, the
# default configuration (a conffile), the maintainer scripts, man pages made from the binaries' help,
# a changelog and lintian overrides (see packaging/nfpm.yaml).
#
# Usage: packaging/deb.sh OUTDIR [ARCH...]    ARCH: amd64 arm64 armhf (default: all three)
#        packaging/deb.sh --debian-version V   prints the package version for git describe output V
# Environment (make deb sets them from the Makefile):
#   GO       the go command (default go)
#   VERSION  the version stamped into the binaries (default: git describe --tags --always --dirty)
#   LDFLAGS  linker flags (default: -s -w -X main.version=$VERSION)
#   NFPM     the nfpm command (default: go run of the pinned release below)
# The package version is VERSION made Debian-shaped: v1.2.0 -> 1.2.0, v1.2.0-rc1 -> 1.2.0~rc1,
# v1.2.0-3-gabc1234 -> 1.2.0+3.gabc1234, an untagged abc1234 -> 0.0.0+git.abc1234; -dirty adds .dirty.
set -euo pipefail

# nfpm v2.46.0 and later need go.digitalxero.dev modules the module proxy here does not serve (403);
# v2.45.2 builds with Go 1.26. go run caches the binary, and go.mod is not touched.
NFPM_MODULE=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

die() {
	echo "deb: $*" >&2
	exit 1
}

# debian_version turns a git describe string into a Debian upstream version (see the header).
debian_version() {
	local v=$1 dirty="" n="" hash="" up suffix=""
	if [[ $v == *-dirty ]]; then
		dirty=1
		v=${v%-dirty}
	fi
	if [[ $v =~ ^(.+)-([0-9]+)-g([0-9a-f]+)$ ]]; then
		v=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]} hash=${BASH_REMATCH[3]}
	fi
	# A release tag has a dot: an abbreviated commit hash may be all digits.
	if [[ $v =~ ^v?[0-9]+\.[0-9]+ ]]; then
		up=${v#v}
		up=${up//-/\~}
		[[ -z $n ]] || suffix="+$n.g$hash"
	else
		up=0.0.0
		suffix="+git.$v"
	fi
	if [[ -n $dirty ]]; then
		if [[ -n $suffix ]]; then suffix+=.dirty; else suffix=+dirty; fi
	fi
	v=$up$suffix
	echo "${v//[^A-Za-z0-9.+~]/.}"
}

if [[ ${1:-} == --debian-version ]]; then
	(($# == 2)) || die "usage: packaging/deb.sh --debian-version VERSION"
	debian_version "$2"
	exit 0
fi
(($# >= 1)) || die "usage: packaging/deb.sh OUTDIR [amd64|arm64|armhf ...]"
out=$1
shift
arches=("$@")
((${#arches[@]} > 0)) || arches=(amd64 arm64 armhf)

mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."

GO=${GO:-go}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
LDFLAGS=${LDFLAGS:--s -w -X main.version=$VERSION}
read -r -a nfpm <<<"${NFPM:-$GO run $NFPM_MODULE}"

deb_version=$(debian_version "$VERSION")
if command -v dpkg >/dev/null 2>&1; then
	dpkg --validate-version "$deb_version" || die "version $deb_version (from $VERSION) is not a valid Debian version"
fi

# Reproducible file dates in the package: the last commit's time unless the caller set one.
if [[ -z ${SOURCE_DATE_EPOCH:-} ]] && epoch=$(git log -1 --format=%ct 2>/dev/null); then
	export SOURCE_DATE_EPOCH=$epoch
fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

# The architecture-independent files, made once into $stage/common (WAYSIDE_COMMON in nfpm.yaml):
# the man pages, from the help text of binaries built for this machine (the packaged ones may not run
# here), and the Debian changelog, gzipped as Debian policy 12.3 and 12.7 ask (gzip -9n: no name or
# time stamp in the file, so the package stays reproducible).
common=$stage/common
mkdir -p "$common/host"
echo "deb: building the man pages and the changelog ($VERSION)"
"$GO" build -trimpath -ldflags "$LDFLAGS" -o "$common/host/" ./cmd/waysided ./cmd/wayside
page_date=$(date -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}" +%Y-%m-%d)
# waysided -h prints its flags to stderr and exits 2 (Go's flag package); only the text counts.
{ "$common/host/waysided" -h 2>&1 || true; } |
	sh packaging/manpage.sh waysided 8 "Wayside edge sensor gateway daemon" "$VERSION" "$page_date" \
		"wayside(1), systemctl(1), journalctl(1), /usr/share/doc/wayside/examples/waysided.yaml" >"$common/waysided.8"
"$common/host/wayside" help |
	sh packaging/manpage.sh wayside 1 "the technician's view of waysided, the Wayside gateway daemon" "$VERSION" \
		"$page_date" "waysided(8)" >"$common/wayside.1"
gzip -9n "$common/waysided.8" "$common/wayside.1"
# A native package's changelog (no Debian revision): one entry for this build, its text from
# packaging/changelog.in, signed by the maintainer nfpm.yaml names, dated like the files.
maintainer=$(sed -n 's/^maintainer: *//p' packaging/nfpm.yaml)
[[ -n $maintainer ]] || die "packaging/nfpm.yaml names no maintainer"
{
	echo "wayside ($deb_version) unstable; urgency=medium"
	echo
	echo "  * Built from git $VERSION."
	grep -v '^#' packaging/changelog.in
	echo
	echo " -- $maintainer  $(LC_ALL=C date -u -R -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")"
} | gzip -9n >"$common/changelog.gz"

for arch in "${arches[@]}"; do
	case $arch in
	amd64) goarch=amd64 goarm="" nfpm_arch=amd64 ;;
	arm64) goarch=arm64 goarm="" nfpm_arch=arm64 ;;
	armhf) goarch=arm goarm=7 nfpm_arch=arm7 ;;
	*) die "unknown architecture $arch: use amd64, arm64 or armhf" ;;
	esac
	mkdir -p "$stage/$arch"
	echo "deb: building $arch binaries ($VERSION)"
	CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm \
		"$GO" build -trimpath -ldflags "$LDFLAGS" -o "$stage/$arch/" ./cmd/waysided ./cmd/wayside
	WAYSIDE_DEB_ARCH=$nfpm_arch WAYSIDE_DEB_VERSION=$deb_version WAYSIDE_STAGE=$stage/$arch WAYSIDE_COMMON=$common \
		"${nfpm[@]}" package --config packaging/nfpm.yaml --packager deb --target "$out/"
done
