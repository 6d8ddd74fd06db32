#!/usr/bin/env bash
# Builds KataSharp's own guest kernel: Debian's linux-source tarball, `make tinyconfig`, the
# fragment beside this script merged on top, no modules, `make vmlinux`. The result is cached by
# everything that changes it, so a machine builds each kernel once. See ../README.md.
#
#   build-kernel.sh --source-deb FILE --fragment FILE --cache DIR --out DIR [--jobs N]
#
# Writes DIR/vmlinux, DIR/kernel.config and DIR/kernel-build.env (the inputs, for the manifest).
# The host gets nothing installed: the .deb is unpacked privately and removed after the build.
set -Eeuo pipefail
umask 022
export LC_ALL=C

log() { printf '[kernel] %s\n' "$*" >&2; }
die() { printf '[kernel] error: %s\n' "$*" >&2; exit 1; }

SOURCE_DEB="" FRAGMENT="" CACHE="" OUT="" JOBS=$(nproc 2>/dev/null || echo 2)
need_arg() { [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs a value"; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --source-deb) need_arg "$@"; SOURCE_DEB=$2; shift 2 ;;
        --fragment) need_arg "$@"; FRAGMENT=$2; shift 2 ;;
        --cache) need_arg "$@"; CACHE=$2; shift 2 ;;
        --out) need_arg "$@"; OUT=$2; shift 2 ;;
        --jobs) need_arg "$@"; JOBS=$2; shift 2 ;;
        *) die "unknown argument: $1" ;;
    esac
done
[[ -f "$SOURCE_DEB" ]] || die "--source-deb: no such file: $SOURCE_DEB"
[[ -f "$FRAGMENT" ]] || die "--fragment: no such file: $FRAGMENT"
[[ -n "$CACHE" && -n "$OUT" ]] || die "--cache and --out are required"
for tool in make gcc flex bison bc dpkg-deb tar xz sha256sum flock; do
    command -v "$tool" >/dev/null || die "required tool missing: $tool (./build.sh deps installs the kernel's build dependencies)"
done

sha_of() { sha256sum "$1" | cut -d' ' -f1; }
SOURCE_PACKAGE=$(dpkg-deb -f "$SOURCE_DEB" Package)
SOURCE_VERSION=$(dpkg-deb -f "$SOURCE_DEB" Version)
SOURCE_SHA=$(sha_of "$SOURCE_DEB")
FRAGMENT_SHA=$(sha_of "$FRAGMENT")
COMPILER=$(gcc --version | head -n 1)
# This script's own steps change the output too.
SCRIPT_SHA=$(sha_of "${BASH_SOURCE[0]}")
KEY=$(printf '%s\n' "$SOURCE_PACKAGE" "$SOURCE_VERSION" "$SOURCE_SHA" "$FRAGMENT_SHA" "$COMPILER" "$SCRIPT_SHA" | sha256sum | cut -c1-16)
ENTRY="$CACHE/$SOURCE_VERSION-$KEY"

mkdir -p "$CACHE" "$OUT"
# One build per key at a time on this machine; a second caller waits and then reuses it.
exec 9>"$CACHE/.lock"
flock 9

if [[ -f "$ENTRY/vmlinux" && -f "$ENTRY/kernel.config" && -f "$ENTRY/kernel-build.env" ]]; then
    log "cached: $ENTRY"
else
    WORK="$CACHE/.build-$KEY"
    rm -rf "$WORK"
    trap 'rm -rf "$WORK"' EXIT
    mkdir -p "$WORK/deb"
    log "unpacking $SOURCE_PACKAGE $SOURCE_VERSION"
    dpkg-deb -x "$SOURCE_DEB" "$WORK/deb"
    tarball=("$WORK"/deb/usr/src/linux-source-*.tar.xz)
    [[ -f "${tarball[0]}" ]] || die "$SOURCE_DEB holds no usr/src/linux-source-*.tar.xz"
    tar -xf "${tarball[0]}" -C "$WORK"
    SRC=("$WORK"/linux-source-*/)
    [[ -f "${SRC[0]}Makefile" ]] || die "the tarball in $SOURCE_DEB has no kernel tree"
    SRC=${SRC[0]%/}

    # Reproducible: the timestamp is the source tarball's, user, host and build number are fixed.
    # (The build directory's path does not reach the image: no debug info, and kbuild maps __FILE__.)
    KBUILD_BUILD_TIMESTAMP=$(date -u -d "@$(stat -c %Y "${tarball[0]}")" '+%Y-%m-%d %H:%M:%S UTC')
    export KBUILD_BUILD_TIMESTAMP KBUILD_BUILD_USER=katasharp KBUILD_BUILD_HOST=katasharp KBUILD_BUILD_VERSION=1
    MAKE=(make -C "$SRC" -s ARCH=x86_64 "-j$JOBS")

    log "configuring: tinyconfig + $(basename "$FRAGMENT")"
    "${MAKE[@]}" tinyconfig >"$WORK/config.log" 2>&1 || { tail -n 20 "$WORK/config.log" >&2; die "make tinyconfig failed"; }
    (cd "$SRC" && ARCH=x86_64 scripts/kconfig/merge_config.sh -m .config "$FRAGMENT") >>"$WORK/config.log" 2>&1 ||
        { tail -n 20 "$WORK/config.log" >&2; die "merging $FRAGMENT failed"; }
    "${MAKE[@]}" olddefconfig >>"$WORK/config.log" 2>&1 || { tail -n 20 "$WORK/config.log" >&2; die "make olddefconfig failed"; }
    # What Kconfig refused (a missing dependency, a typo) would otherwise only show at run time.
    check_fragment() {
        local line key want got bad=0
        while IFS= read -r line; do
            if [[ "$line" =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then key=${BASH_REMATCH[1]}; want=${BASH_REMATCH[2]}
            elif [[ "$line" =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then key=${BASH_REMATCH[1]}; want=n
            else continue
            fi
            got=$(sed -n "s/^$key=//p" "$SRC/.config")
            [[ -n "$got" ]] || got=n
            if [[ "$got" != "$want" ]]; then log "$key: the fragment asks for $want, Kconfig made it $got"; bad=1; fi
        done <"$FRAGMENT"
        grep -qx 'CONFIG_MODULES=y' "$SRC/.config" && { log "CONFIG_MODULES=y: the kernel must have every driver built in"; bad=1; }
        return $bad
    }
    check_fragment || die "the kernel configuration does not hold what $FRAGMENT asks for (see above)"

    log "building vmlinux ($SOURCE_VERSION, -j$JOBS; a few CPU-minutes the first time)"
    "${MAKE[@]}" vmlinux >"$WORK/build.log" 2>&1 || { tail -n 30 "$WORK/build.log" >&2; die "make vmlinux failed (log: kept above)"; }
    RELEASE=$("${MAKE[@]}" kernelrelease)

    mkdir -p "$ENTRY.tmp"
    cp "$SRC/vmlinux" "$ENTRY.tmp/vmlinux"
    cp "$SRC/.config" "$ENTRY.tmp/kernel.config"
    cat >"$ENTRY.tmp/kernel-build.env" <<EOF
KERNEL_RELEASE='$RELEASE'
KERNEL_SOURCE_PACKAGE='$SOURCE_PACKAGE'
KERNEL_SOURCE_VERSION='$SOURCE_VERSION'
KERNEL_SOURCE_SHA256='$SOURCE_SHA'
KERNEL_FRAGMENT_SHA256='$FRAGMENT_SHA'
KERNEL_COMPILER='$COMPILER'
KERNEL_BUILD_TIMESTAMP='$KBUILD_BUILD_TIMESTAMP'
KERNEL_SOURCE_DATE_EPOCH='$(stat -c %Y "${tarball[0]}")'
KERNEL_CACHE_KEY='$KEY'
EOF
    rm -rf "$ENTRY"
    mv "$ENTRY.tmp" "$ENTRY"
    rm -rf "$WORK"
    trap - EXIT
    log "built $RELEASE into $ENTRY"
fi

cp "$ENTRY/vmlinux" "$OUT/vmlinux"
cp "$ENTRY/kernel.config" "$OUT/kernel.config"
cp "$ENTRY/kernel-build.env" "$OUT/kernel-build.env"
