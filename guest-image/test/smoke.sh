#!/usr/bin/env bash
# Builds the guest image with test/test-init.sh as /init and boots it N times under QEMU
# (TCG, microvm) with a 9p share and a virtio-serial port; fails if any boot misses a check.
#   guest-image/test/smoke.sh [--boots N] [--out DIR] [--cache DIR]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BOOTS=6
OUT=""
CACHE_ARGS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --boots) BOOTS=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --cache) CACHE_ARGS=(--cache "$2"); shift 2 ;;
        *) echo "usage: $0 [--boots N] [--out DIR] [--cache DIR]" >&2; exit 2 ;;
    esac
done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/katasharp-smoke.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUT=${OUT:-$WORK/guest}
"$HERE/../build.sh" --agent "$HERE/test-init.sh" --out "$OUT" ${CACHE_ARGS[@]+"${CACHE_ARGS[@]}"}

mkdir -p "$WORK/share"
echo hello-from-host >"$WORK/share/hello.txt"
passed=0 failed=0
for i in $(seq 1 "$BOOTS"); do
    rm -f "$WORK/share/guest.txt"
    start=$(date +%s%N)
    timeout 120 qemu-system-x86_64 \
        -M microvm,acpi=on,pit=on,pic=on,rtc=on -accel tcg,tb-size=64 -cpu max -m 512 -smp 1 \
        -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
        -kernel "$OUT/vmlinux" -initrd "$OUT/initrd.img" \
        -append "console=ttyS0 tsc_early_khz=2000000 panic=-1 reboot=t no_timer_check quiet" \
        -fsdev "local,id=fs0,path=$WORK/share,security_model=passthrough" \
        -device virtio-9p-device,fsdev=fs0,mount_tag=katasharp \
        -device virtio-serial-device \
        -chardev "socket,id=agent,path=$WORK/agent.sock,server=on,wait=off" \
        -device virtserialport,chardev=agent,name=katasharp.agent \
        </dev/null >"$WORK/boot.log" 2>&1 || true
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    ok=1
    for want in "KS: port katasharp.agent" "KS: crun crun version" "KS: 9p read hello-from-host" \
                "KS: 9p write ok" "KS: overlay ok" "KS: done at"; do
        grep -qF "$want" "$WORK/boot.log" || { echo "boot $i: missing '$want'"; ok=0; }
    done
    grep -q "KS: FAIL" "$WORK/boot.log" && ok=0
    [[ "$(cat "$WORK/share/guest.txt" 2>/dev/null)" == from-guest ]] || ok=0
    if [[ $ok == 1 ]]; then
        passed=$((passed + 1))
        echo "boot $i: ok in ${ms} ms wall, $(grep -oE 'init up at [0-9.]+s' "$WORK/boot.log")"
    else
        failed=$((failed + 1))
        echo "boot $i: FAILED after ${ms} ms wall; console:"; sed 's/^/    /' "$WORK/boot.log"
    fi
done
echo "$passed passed, $failed failed"
[[ $failed == 0 ]]
