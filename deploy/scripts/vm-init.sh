#!/bin/busybox sh
# /init of the VM test tier's initramfs (see vm-kernel.sh). It loads what reaching the host's
# root needs, mounts that root read-only over 9p under a tmpfs overlay (so the host's own
# programs run and may write, into memory only), mounts the run share (tag vmrun) writable,
# and runs its run.sh there in a chroot. Then it powers the VM off: the exit code is what
# run.sh printed, the host reads everything from the serial console.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sys /sys
# Without a hostname the kernel says "(none)", which FRR prints as `hostname (none)` in its
# running configuration and then refuses to parse back (frr-reload.py fails).
hostname obgp-vm

fail() {
	echo "OBGP-VM-INIT-FAILED: $*"
	echo o >/proc/sysrq-trigger
	sleep 60
}

for m in $(cat /modules/order); do
	insmod "/modules/$m" || fail "insmod $m"
done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /host || fail "mount the host root (9p tag hostroot)"
mount -t tmpfs -o size=75% rw /rw || fail "tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot || fail "overlay on the host root"
mkdir -p /newroot/vmrun
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 vmrun /newroot/vmrun || fail "mount the run share (9p tag vmrun)"
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs shm /newroot/dev/shm
# The host's /run and /tmp hold the host's state (netns mounts, sockets): start empty.
mount -t tmpfs run /newroot/run
mount -t tmpfs tmp /newroot/tmp
mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup 2>/dev/null

echo "OBGP-VM-BOOTED"
chroot /newroot /bin/sh /vmrun/run.sh
echo "OBGP-VM-EXIT $?"
sync
echo o >/proc/sysrq-trigger
sleep 60
