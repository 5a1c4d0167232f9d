#!/usr/bin/env bash
# `make image`: builds the agent image, the FRR image the pod runs next to it, and the node
# and central images the containerlab files name, with podman and no registry: the base is
# Debian bookworm made locally with debootstrap and imported as localhost/debian:bookworm
# (once; podman's store keeps it). Packages come from Debian's mirror, as everywhere else in
# this repository, so the agent's FRR client tools are the same FRR release (8.4.4) as the
# FRR image's daemons.
#
#   build-images.sh AGENT_BINARY
#
# The agent binary is built on the host (make build): no Go toolchain image can be pulled
# here. Where a registry answers, deploy/container/Containerfile also builds from source.
set -euo pipefail

bin=${1:?usage: build-images.sh AGENT_BINARY}
root=$(cd "$(dirname "$0")/../.." && pwd)
export CONTAINERS_CONF=$root/deploy/container/containers.conf
base=localhost/debian:bookworm
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

"$root/deploy/scripts/install-deps.sh" podman runc debootstrap catatonit

if ! podman image exists "$base"; then
  dir=$(mktemp -d /var/tmp/obgp-debootstrap-XXXXXX)
  trap 'rm -rf "$dir"' EXIT
  echo "debootstrap bookworm → $base"
  debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1 || { tail -20 "$dir.log" >&2; rm -f "$dir.log"; exit 1; }
  rm -f "$dir.log"
  # A debootstrap root has no resolver configuration; builds resolve like the host.
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  echo "deb $mirror bookworm main" >"$dir/etc/apt/sources.list"
  echo "deb http://deb.debian.org/debian-security bookworm-security main" >>"$dir/etc/apt/sources.list"
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -c . | podman import --change 'CMD ["/bin/bash"]' - "$base" >/dev/null
  rm -rf "$dir"
  trap - EXIT
fi

ctx=$(mktemp -d /var/tmp/obgp-image-XXXXXX)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/bin"
cp "$bin" "$ctx/bin/ovn-bgp-agent"
cp "$root"/deploy/container/*.sh "$ctx/" 2>/dev/null || true

build() { # name file [args...]
  local name=$1 file=$2 old
  shift 2
  echo "podman build $name"
  old=$(podman image inspect --format '{{.Id}}' "$name" 2>/dev/null || true)
  podman build --network host -q --build-arg BASE="$base" "$@" -f "$root/deploy/container/$file" -t "$name" "$ctx" >/dev/null
  # The image this build replaced, now untagged, goes (kept if anything still uses it).
  if [ -n "$old" ] && [ "$old" != "$(podman image inspect --format '{{.Id}}' "$name")" ]; then
    podman rmi "$old" >/dev/null 2>&1 || true
  fi
}
build localhost/ovn-bgp-agent:latest Containerfile --build-arg AGENT=prebuilt
build localhost/ovn-bgp-agent/frr:8.4.4 frr.Containerfile
build localhost/ovn-bgp-agent/node:latest node.Containerfile
build localhost/ovn-bgp-agent/ovn-central:23.03 central.Containerfile
podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^localhost/(ovn-bgp-agent|debian:bookworm)'
