#!/usr/bin/env bash
# Makes a Debian 13 (trixie) root with the newer FRR (10.3), OVN (25.03), OVS (3.5) and BIRD
# (2.17) that the version-matrix tests run inside the lab's network namespaces (chroot).
#
# The root lives outside the clone (a cache): reused when complete, rebuilt when not. It is
# complete when its stamp file holds this script's package list; the stamp is written last,
# so an interrupted build is never mistaken for a finished one.
#
# Usage: trixie-root.sh [DIR]   (default: $OBGP_TRIXIE_ROOT or /var/cache/ovn-bgp-agent/trixie)
set -euo pipefail

dir=${1:-${OBGP_TRIXIE_ROOT:-/var/cache/ovn-bgp-agent/trixie}}
mirror=${OBGP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=(frr frr-pythontools ovn-central ovn-host openvswitch-switch bird2 iproute2)
stamp="$dir/.obgp-root-complete"
want="trixie ${packages[*]}"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "trixie root $dir is missing or incomplete; run as root to build it" >&2
  exit 1
fi
command -v debootstrap >/dev/null || {
  echo "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}

# A half-built root may still have /proc mounted from an interrupted lab run.
cleanup_mounts() {
  { grep -o " $dir/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
}
start=$(date +%s)
cleanup_mounts
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
echo "debootstrap trixie into $dir"
debootstrap --variant=minbase trixie "$dir" "$mirror" >"$dir.debootstrap.log" 2>&1 || {
  tail -20 "$dir.debootstrap.log" >&2
  exit 1
}
cp /etc/resolv.conf "$dir/etc/resolv.conf"
# No service may start inside the chroot: the lab starts every daemon itself, per node.
printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
chmod 755 "$dir/usr/sbin/policy-rc.d"
export DEBIAN_FRONTEND=noninteractive
chroot "$dir" apt-get update -qq
chroot "$dir" apt-get install -y -qq --no-install-recommends "${packages[@]}" >"$dir.apt.log" 2>&1 || {
  tail -20 "$dir.apt.log" >&2
  exit 1
}
chroot "$dir" apt-get clean
rm -f "$dir.debootstrap.log" "$dir.apt.log"
echo "$want" >"$stamp"
echo "trixie root ready in $dir ($(($(date +%s) - start)) s): $(chroot "$dir" dpkg-query -W -f='${Package} ${Version}, ' frr ovn-central openvswitch-switch bird2)"
