#!/usr/bin/env bash
# Build (or find in the cache) the field bench's arm64 system: Debian's arm64 kernel, a busybox
# initramfs that mounts the root disk, and a Debian bookworm root filesystem with systemd as PID 1.
#
#   scripts/fieldbench/image.sh CACHE_DIR     prints the directory holding vmlinuz, initrd.img, root.img
#
# The root is made by debootstrap in two stages: the first here (download and unpack, no arm64 code
# runs: this machine has no binfmt_misc), the second inside the VM under qemu-system-aarch64, where
# dpkg configures every package on the real kernel. The result is cached under CACHE_DIR/KEY, where KEY
# hashes everything that went into it: this script, the initramfs init, the suite, the package list and
# the kernel's package version. A later run with the same inputs reuses it.
set -euo pipefail

cache=${1:?usage: image.sh CACHE_DIR}
here=$(cd "$(dirname "$0")" && pwd)
suite=bookworm
mirror=${WAYSIDE_BENCH_MIRROR:-http://deb.debian.org/debian}
# systemd-sysv: systemd as /sbin/init; udev: device nodes' groups (dialout for ttyACM) and module
# autoloading; kmod: modprobe; mosquitto-clients is not needed (the broker is on the host).
packages=systemd-sysv,udev,kmod,iproute2,procps,adduser
log() { printf '%s image: %s\n' "$(date +%T)" "$*" >&2; }

# The kernel: the version Debian's linux-image-arm64 points at today, unsigned flavour.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
	log "dpkg --add-architecture arm64 (to download arm64 kernel packages)"
	dpkg --add-architecture arm64
	apt-get update -qq
fi
kpkg=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null | sed -n 's/.*Depends: \(linux-image-[0-9.-]*-arm64\)\(:arm64\)\{0,1\}$/\1/p' | head -1)
if [[ -z $kpkg ]]; then
	apt-get update -qq
	kpkg=$(apt-cache depends linux-image-arm64:arm64 | sed -n 's/.*Depends: \(linux-image-[0-9.-]*-arm64\)\(:arm64\)\{0,1\}$/\1/p' | head -1)
fi
[[ -n $kpkg ]] || { log "cannot find Debian's arm64 kernel package (apt-cache depends linux-image-arm64:arm64)"; exit 1; }
kpkg=$kpkg-unsigned
kver=${kpkg#linux-image-}
kver=${kver%-unsigned}
kdebver=$(apt-cache show "$kpkg:arm64" | sed -n 's/^Version: //p' | head -1)
bbver=$(apt-cache show busybox-static:arm64 | sed -n 's/^Version: //p' | head -1)

key=$( (cat "$0" "$here/init"; echo "$suite $mirror $packages $kpkg $kdebver $bbver") | sha256sum | cut -c1-16)
out=$cache/$key
if [[ -f $out/done ]]; then
	log "cached: $out ($kpkg $kdebver)"
	echo "$out"
	exit 0
fi
log "building $out: $kpkg $kdebver, debootstrap $suite ($packages)"
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
cd "$out.tmp"

t0=$SECONDS
apt-get download -q "$kpkg:arm64=$kdebver" "busybox-static:arm64=$bbver" >download.log 2>&1 ||
	{ cat download.log; log "apt-get download of the kernel and busybox failed (above)"; exit 1; }
mkdir kern bb
dpkg-deb -x linux-image-*.deb kern
dpkg-deb -x busybox-static_*.deb bb
rm -f ./*.deb
cp "kern/boot/vmlinuz-$kver" vmlinuz
depmod -b kern "$kver"
log "kernel $kver ready ($((SECONDS - t0)) s)"

# The initramfs: busybox, the modules the root disk needs, and init.
t0=$SECONDS
mkdir -p initrd/{bin,dev,proc,sys,newroot,etc,lib/modules}
cp bb/bin/busybox initrd/bin/busybox
cp "$here/init" initrd/init
chmod 755 initrd/init
want="virtio_pci virtio_blk ext4 crc32c_generic"
echo "$want" >initrd/etc/wb-modules
mods=$(for m in $want; do modprobe -d kern -S "$kver" --show-depends "$m"; done | awk '$1=="insmod"{print $2}' | sort -u)
for m in $mods; do
	rel=${m#"$PWD/kern/"}
	mkdir -p "initrd/$(dirname "$rel")"
	cp "$m" "initrd/$rel"
done
cp kern/lib/modules/"$kver"/modules.{order,builtin,builtin.modinfo} initrd/lib/modules/"$kver"/
depmod -b initrd "$kver"
(cd initrd && find . | cpio -o -H newc --quiet | gzip -1) >initrd.img
log "initramfs ready: $(echo "$mods" | wc -w) modules ($((SECONDS - t0)) s)"

# First stage: download and unpack.
t0=$SECONDS
debootstrap --foreign --arch=arm64 --variant=minbase --include="$packages" "$suite" rootfs "$mirror" >debootstrap.log 2>&1 ||
	{ tail -20 debootstrap.log; log "debootstrap first stage failed (log above)"; exit 1; }
cp -a kern/lib/modules rootfs/lib/
# Run in the VM after the second stage: what a stock install would set up.
cat >rootfs/wb-stage2 <<'S2'
#!/bin/sh
set -e
echo wayside-bench >/etc/hostname
printf '/dev/vda / ext4 defaults 0 1\n' >/etc/fstab
passwd -d root >/dev/null
# No getty fight on the bench console; the journal is kept on disk.
systemctl mask serial-getty@ttyAMA0.service getty@tty1.service >/dev/null 2>&1 || true
mkdir -p /var/log/journal
apt-get clean
rm -rf /var/lib/apt/lists/*
S2
chmod 755 rootfs/wb-stage2
log "debootstrap first stage done ($((SECONDS - t0)) s)"

t0=$SECONDS
truncate -s 3G root.img
mke2fs -q -t ext4 -L root -d rootfs root.img
rm -rf rootfs kern bb initrd
log "root.img made ($((SECONDS - t0)) s); second stage in the VM (qemu-system-aarch64, no KVM)"

t0=$SECONDS
timeout 1500 qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 2048 -nographic -nic none -no-reboot \
	-kernel vmlinuz -initrd initrd.img -append "console=ttyAMA0 quiet wb.mode=stage2" \
	-drive file=root.img,format=raw,if=virtio,cache=unsafe >stage2.log 2>&1 </dev/null || true
if ! grep -q 'STAGE2 rc=0' stage2.log; then
	tail -30 stage2.log
	log "second stage failed (stage2.log above)"
	exit 1
fi
log "second stage done ($((SECONDS - t0)) s)"
touch done
cd /
rm -rf "$out"
mv "$out.tmp" "$out"
# Older images (other inputs) are not needed any more.
find "$cache" -mindepth 1 -maxdepth 1 ! -name "$key" -exec rm -rf {} +
echo "$out"
