#!/bin/busybox sh
# A stand-in /init for smoke-testing the guest image without the real agent: loads the
# module list, checks virtio-serial, 9p, overlay and crun, then powers the VM off.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "KS: init up at $(cut -d' ' -f1 /proc/uptime)s"
while read -r m; do insmod "$m" || echo "KS: FAIL insmod $m"; done </etc/katasharp/modules
echo "KS: modules loaded ($(wc -l </proc/modules)) at $(cut -d' ' -f1 /proc/uptime)s"
echo "KS: uname -r = $(uname -r)"
for d in /sys/bus/virtio/devices/*; do
    echo "KS: virtio $(basename "$d") device=$(cat "$d/device") driver=$(basename "$(readlink "$d/driver")")"
done
for n in /sys/class/virtio-ports/*/name; do echo "KS: port $(cat "$n")"; done
echo "KS: crun $(crun --version | head -n 1)"
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=mmap katasharp /mnt; then
    echo "KS: 9p read $(cat /mnt/hello.txt)"
    echo from-guest >/mnt/guest.txt && echo "KS: 9p write ok"
    umount /mnt
else
    echo "KS: FAIL 9p mount"
fi
mkdir -p /tmp/o/l /tmp/o/u /tmp/o/w /tmp/o/m
mount -t overlay overlay -o lowerdir=/tmp/o/l,upperdir=/tmp/o/u,workdir=/tmp/o/w /tmp/o/m && echo "KS: overlay ok"
echo "KS: done at $(cut -d' ' -f1 /proc/uptime)s"
poweroff -f
