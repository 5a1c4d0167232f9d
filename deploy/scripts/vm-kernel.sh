#!/usr/bin/env bash
# Prepares what the VM test tier boots: Debian's own packaged kernel (linux-image-*-amd64,
# downloaded with apt and unpacked, with modules.dep made by depmod) and a small busybox
# initramfs that mounts the host's root over 9p and runs the tier's script in it.
#
#   vm-kernel.sh CACHE_DIR
#
# CACHE_DIR/current is a link to the prepared kernel directory:
#   vmlinuz, initramfs.gz, modules/ (lib/modules/VERSION inside), version
# Idempotent: a kernel already prepared in CACHE_DIR is reused; a missing or partial one is
# (re)made; the initramfs is remade when vm-init.sh changes. The cache lives outside the
# clone and can be deleted at any time.
set -euo pipefail

cache=${1:?usage: vm-kernel.sh CACHE_DIR}
here=$(cd "$(dirname "$0")" && pwd)

"$here/install-deps.sh" qemu-system-x86 busybox-static

mkdir -p "$cache"

# The initramfs holds only what reaching the host's root needs: virtio PCI, 9p, overlayfs.
# Everything else (vrf, dummy, 8021q ...) is loaded later from the share with modprobe -d.
# It is remade whenever vm-init.sh changes.
make_initramfs() {
  local kdir=$1 version ird sum
  version=$(cat "$kdir/version")
  sum=$( (cat "$here/vm-init.sh"; echo "$version") | sha256sum | cut -d' ' -f1)
  [ -e "$kdir/initramfs.gz" ] && [ "$(cat "$kdir/initramfs.sum" 2>/dev/null)" = "$sum" ] && return 0
  ird=$(mktemp -d "$cache/.initramfs-XXXXXX")
  mkdir -p "$ird"/{bin,dev,proc,sys,host,rw,newroot,modules}
  mknod -m 600 "$ird/dev/console" c 5 1
  cp /bin/busybox "$ird/bin/busybox"
  for m in virtio_pci 9pnet_virtio 9p overlay; do
    modprobe -d "$kdir/modules" -S "$version" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
  done | awk '!seen[$0]++' | while read -r ko; do
    cp "$ko" "$ird/modules/"
    basename "$ko" >>"$ird/modules/order"
  done
  cp "$here/vm-init.sh" "$ird/init"
  chmod 755 "$ird/init" "$ird/bin/busybox"
  (cd "$ird" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1 >"$kdir/initramfs.gz.new")
  mv "$kdir/initramfs.gz.new" "$kdir/initramfs.gz"
  echo "$sum" >"$kdir/initramfs.sum"
  rm -rf "$ird"
}

if [ -e "$cache/current/ready" ]; then
  make_initramfs "$cache/current"
  exit 0
fi

# The flavour's meta package names the current ABI: linux-image-amd64 → linux-image-6.1.0-N-amd64.
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$pkg" ]; then
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
[ -n "$pkg" ] || { echo "cannot find Debian's linux-image-*-amd64 package (apt-cache depends linux-image-amd64)" >&2; exit 1; }

work=$(mktemp -d "$cache/.prep-XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "preparing $pkg in $cache"
(cd "$work" && apt-get download -q "$pkg" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
deb=$(ls "$work"/*.deb 2>/dev/null) || { echo "apt-get download $pkg failed (is Debian's mirror reachable?)" >&2; exit 1; }
dpkg -x "$deb" "$work/pkg"
rm -f "$deb"
version=$(ls "$work/pkg/lib/modules")
mkdir -p "$work/kernel/modules"
mv "$work/pkg/lib" "$work/kernel/modules/lib"
mv "$work/pkg/boot/vmlinuz-$version" "$work/kernel/vmlinuz"
cp "$work/pkg/boot/System.map-$version" "$work/kernel/modules/"
depmod -b "$work/kernel/modules" -F "$work/kernel/modules/System.map-$version" "$version"
echo "$version" >"$work/kernel/version"
make_initramfs "$work/kernel"

dest="$cache/$version"
rm -rf "$dest"
mv "$work/kernel" "$dest"
touch "$dest/ready"
ln -sfn "$version" "$cache/current"
echo "kernel $version ready in $dest"
