#!/usr/bin/env bash
# Installs the Debian packages the lab and the integration tests run: real FRR, OVN and OVS;
# or, given package names, those (the image and VM scripts name theirs).
# Idempotent: installs only what is missing, and runs apt-get update only then.
set -euo pipefail

packages=(frr frr-pythontools ovn-central ovn-host openvswitch-switch debootstrap iproute2 procps ethtool iputils-ping iptables)
[ $# -gt 0 ] && packages=("$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages: ${missing[*]}; run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Another script (or apt itself) may hold the lock: wait for it rather than fail.
apt-get -o DPkg::Lock::Timeout=300 update -qq
apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages' own services are not used: the lab starts every daemon itself, per node.
