#!/usr/bin/env bash
# Rebuilds the guest images in images/ from Debian packages only.
#   bash images/build.sh            # BIOS, Debian kernel, initramfs, small kernel
#   HV_SKIP_KERNEL=1 bash images/build.sh   # everything but the small kernel (minutes)
#   bash images/build.sh initramfs  # only the initramfs (after a change in rootfs/ or tools/)
# Writes images/manifest.json (bytes, sha256, package and version of each file).
set -euo pipefail
only=${1:-}
case "$only" in '' | initramfs) ;; *) echo "usage: images/build.sh [initramfs]" >&2; exit 2 ;; esac
# full: everything is rebuilt (no part was named).
full() { [ -z "$only" ]; }
here=$(cd "$(dirname "$0")" && pwd)
work="$here/.work"
debs="$work/debs"
apt_dir="$work/apt"
mkdir -p "$debs" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"

need() { command -v "$1" >/dev/null || { echo "images: installing $2" >&2; apt-get install -y "$2" >/dev/null; }; }
need cpio cpio

# i386 packages come from a private apt state so the build machine's own
# package setup is not changed (no dpkg --add-architecture).
APT_I386=(-o APT::Architecture=i386 -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache")
echo "images: updating i386 package lists" >&2
apt-get "${APT_I386[@]}" update >/dev/null 2>&1 || true

# fetch PKG: download the newest PKG:i386 into $debs, print the .deb path.
fetch() {
  local pkg=$1 ver
  ver=$(apt-cache "${APT_I386[@]}" policy "$pkg" | awk '/Candidate:/{print $2}')
  [ -n "$ver" ] && [ "$ver" != "(none)" ] || { echo "images: no i386 package $pkg" >&2; exit 1; }
  (cd "$debs" && apt-get "${APT_I386[@]}" download "$pkg=$ver" >/dev/null 2>&1)
  ls -t "$debs/${pkg}_"*.deb | head -n1
}
deb_version() { dpkg-deb -f "$1" Version; }
manifest() { node "$here/manifest.mjs" add "$@"; }

# --- BIOS: SeaBIOS and the QEMU std VGA BIOS (PCI 1234:1111, as v86's own) ---
if full; then # the BIOSes and Debian's kernel
seabios=$(fetch seabios)
rm -rf "$work/seabios" && dpkg-deb -x "$seabios" "$work/seabios"
cp "$work/seabios/usr/share/seabios/bios.bin" "$here/seabios.bin"
cp "$work/seabios/usr/share/seabios/vgabios-stdvga.bin" "$here/vgabios.bin"
manifest seabios.bin seabios "$(deb_version "$seabios")" "SeaBIOS PC BIOS"
manifest vgabios.bin seabios "$(deb_version "$seabios")" "SeaVGABIOS for the QEMU std VGA (1234:1111)"

# --- Debian's generic i386 kernel (linux-image-686 points at the current ABI) ---
kpkg=$(apt-cache "${APT_I386[@]}" depends linux-image-686 | awk '/Depends: linux-image-6/{print $2; exit}')
kdeb=$(fetch "$kpkg")
rm -rf "$work/kernel" && dpkg-deb -x "$kdeb" "$work/kernel"
cp "$work"/kernel/boot/vmlinuz-* "$here/vmlinuz-debian.bin"
manifest vmlinuz-debian.bin "$kpkg" "$(deb_version "$kdeb")" "Debian's generic i386 Linux kernel (bzImage)"
fi

# --- initramfs: busybox-static, the files in rootfs/ and the tools in tools/ ---
bb=$(fetch busybox-static)
rm -rf "$work/busybox" "$work/initramfs" && dpkg-deb -x "$bb" "$work/busybox"
root="$work/initramfs"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,proc,sys,dev,tmp,run,root,etc,mnt}
cp "$work/busybox/bin/busybox" "$root/bin/busybox"
cp -r "$here/rootfs/." "$root/"
# Guest tools in C (tools/*.c): freestanding i386 binaries, raw system calls,
# no libc, so they need nothing in the initramfs but themselves.
need gcc gcc
for c in "$here"/tools/*.c; do
  gcc -m32 -march=i686 -static -nostdlib -ffreestanding -fno-builtin -fno-stack-protector -fno-pie -no-pie \
    -fno-asynchronous-unwind-tables -Os -Wall -Wextra -Werror -s -o "$root/usr/local/bin/$(basename "$c" .c)" "$c"
done
chmod 0755 "$root/init" "$root"/usr/local/bin/* "$root"/usr/sbin/mkfs.ext2 "$root"/etc/udhcpc/default.script
# The kernel opens /dev/console before /init runs: it must exist in the archive.
mknod -m 600 "$root/dev/console" c 5 1
# Uncompressed: decompressing inside the emulated CPU costs more than the bytes.
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --owner 0:0 --quiet) > "$here/initramfs.cpio"
manifest initramfs.cpio busybox-static "$(deb_version "$bb")" "initramfs: busybox-static shell, /init and the hv-* guest tools"

if full && [ -z "${HV_SKIP_KERNEL:-}" ] && [ -f "$here/build-kernel.sh" ]; then
  bash "$here/build-kernel.sh"
fi
echo "images: done; see images/manifest.json" >&2
