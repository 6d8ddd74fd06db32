#!/usr/bin/env bash
# Builds the KataSharp guest kernel (an uncompressed PVH `vmlinux`) and initramfs
# from Debian bookworm packages plus the katasharp-agent. See README.md beside this file.
# The kernel is either our own (--kernel katasharp: built from linux-source with every driver
# built in, by kernel/build-kernel.sh, and cached) or Debian's generic one plus its modules.
# What goes into the guest (packages, executables, modules, /etc files) is the recipe
# image.conf beside this file; this script holds only the steps.
#
#   guest-image/build.sh --agent PATH --out DIR [--cache DIR] [--compress gzip|zstd]
#                        [--kernel katasharp|debian] [--kernel-cache DIR]
#                        [--recipe FILE] [--kernel-package NAME] [--extra-package PKG]...
#                        [--extra-module NAME]...
#
# Nothing is installed on the host: the .debs are fetched with `apt-get download` into a
# cache (reused on later runs, so the build works offline once cached) and unpacked with
# `dpkg-deb -x`. The outputs are byte-for-byte reproducible for the same inputs.
set -Eeuo pipefail
umask 022
export LC_ALL=C

SELF=$(basename "$0")
HERE=$(cd "$(dirname "$0")" && pwd)
STEP="start"

log() { printf '[image] %s\n' "$*" >&2; }
step() { STEP="$*"; log "$*"; }
die() { printf '[image] error: %s\n' "$*" >&2; exit 1; }
on_err() {
    local rc=$?
    printf '[image] error: step failed (exit %s): %s\n' "$rc" "$STEP" >&2
    exit "$rc"
}
trap on_err ERR

usage() {
    cat <<EOF
Usage: $SELF --agent PATH --out DIR [options]

Builds DIR/vmlinux, DIR/initrd.img, DIR/manifest.json and DIR/kernel-release, and with our kernel
DIR/root.img (the same tree as a read-only erofs image).

  --agent PATH            the katasharp-agent executable; it becomes /init in the initramfs
  --out DIR               output directory (created if missing)
  --cache DIR             .deb cache (default: \${XDG_CACHE_HOME:-\$HOME/.cache}/katasharp/debs)
  --compress KIND         initramfs compression: gzip (default), zstd or none
  --kernel KIND           katasharp: our own kernel, built from the recipe's KERNEL_SOURCE_PACKAGE
                          and KERNEL_FRAGMENT, no modules; debian: Debian's generic kernel and the
                          recipe's MODULES (default: the recipe's KERNEL)
  --kernel-cache DIR      where built kernels are kept
                          (default: \${XDG_CACHE_HOME:-\$HOME/.cache}/katasharp/kernel)
  --recipe FILE           what goes into the guest (default: image.conf beside this script)
  --kernel-package NAME   kernel package to use (default: what the recipe's KERNEL_METAPACKAGE
                          depends on, or the newest cached linux-image-*-amd64 when apt knows none)
  --extra-package PKG     also unpack PKG and its dependencies and make its libraries available
                          (repeatable; apt syntax, e.g. PKG=VERSION or PKG/RELEASE)
  --extra-module NAME     also put kernel module NAME (and its dependencies) in the load list
                          (repeatable)
  -h, --help              this text

Environment: SOURCE_DATE_EPOCH overrides the timestamp stored in the cpio archive
(default: the mtime of the kernel image inside the kernel package, or of the source tarball).
KATASHARP_KEEP_WORK=1 keeps the temporary work directory.
EOF
}

# ---------------------------------------------------------------------------- arguments
AGENT=""
OUT=""
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/katasharp/debs"
COMPRESS="gzip"
RECIPE="$HERE/image.conf"
KERNEL_PKG=""
EXTRA_PKGS=()
EXTRA_MODULES=()
KERNEL_KIND=""
KERNEL_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/katasharp/kernel"

need_arg() { [[ $# -ge 2 && -n "$2" ]] || die "option $1 needs a value (see --help)"; }
while [[ $# -gt 0 ]]; do
    case "$1" in
        --agent) need_arg "$@"; AGENT=$2; shift 2 ;;
        --out) need_arg "$@"; OUT=$2; shift 2 ;;
        --cache) need_arg "$@"; CACHE=$2; shift 2 ;;
        --compress) need_arg "$@"; COMPRESS=$2; shift 2 ;;
        --kernel) need_arg "$@"; KERNEL_KIND=$2; shift 2 ;;
        --kernel-cache) need_arg "$@"; KERNEL_CACHE=$2; shift 2 ;;
        --recipe) need_arg "$@"; RECIPE=$2; shift 2 ;;
        --kernel-package) need_arg "$@"; KERNEL_PKG=$2; shift 2 ;;
        --extra-package) need_arg "$@"; EXTRA_PKGS+=("$2"); shift 2 ;;
        --extra-module) need_arg "$@"; EXTRA_MODULES+=("$2"); shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
    esac
done
[[ -n "$AGENT" ]] || { usage >&2; die "--agent is required"; }
[[ -n "$OUT" ]] || { usage >&2; die "--out is required"; }
[[ -f "$AGENT" ]] || die "agent not found: $AGENT"
case "$COMPRESS" in gzip|zstd|none) ;; *) die "--compress must be gzip, zstd or none" ;; esac
[[ -f "$RECIPE" ]] || die "recipe not found: $RECIPE"

# ---------------------------------------------------------------------------- recipe
RECIPE=$(readlink -f "$RECIPE")
KERNEL="" KERNEL_METAPACKAGE="" KERNEL_SOURCE_PACKAGE="" KERNEL_FRAGMENT="" BUSYBOX_PACKAGE="" FILES_DIR=""
PACKAGES=() EXECUTABLES=() LIBRARIES=() MODULES=()
# shellcheck source=image.conf
source "$RECIPE" || die "reading the recipe $RECIPE failed"
for var in KERNEL KERNEL_METAPACKAGE KERNEL_SOURCE_PACKAGE KERNEL_FRAGMENT BUSYBOX_PACKAGE FILES_DIR; do
    [[ -n "${!var}" ]] || die "the recipe $RECIPE sets no $var"
done
for var in PACKAGES EXECUTABLES LIBRARIES MODULES; do
    declare -n list=$var
    [[ ${#list[@]} -gt 0 ]] || die "the recipe $RECIPE lists no $var"
    unset -n list
done
[[ "$FILES_DIR" == /* ]] || FILES_DIR="$(dirname "$RECIPE")/$FILES_DIR"
[[ -d "$FILES_DIR" ]] || die "the recipe's FILES_DIR $FILES_DIR is not a directory"
[[ "$KERNEL_FRAGMENT" == /* ]] || KERNEL_FRAGMENT="$(dirname "$RECIPE")/$KERNEL_FRAGMENT"
KERNEL_KIND=${KERNEL_KIND:-$KERNEL}
case "$KERNEL_KIND" in
    katasharp)
        [[ -f "$KERNEL_FRAGMENT" ]] || die "the recipe's KERNEL_FRAGMENT $KERNEL_FRAGMENT does not exist"
        [[ -z "$KERNEL_PKG" ]] || die "--kernel-package is for --kernel debian; our kernel is built from $KERNEL_SOURCE_PACKAGE"
        [[ ${#EXTRA_MODULES[@]} == 0 ]] || die "--extra-module: our kernel has no modules; add the option to $KERNEL_FRAGMENT instead"
        ;;
    debian) ;;
    *) die "--kernel must be katasharp or debian, not '$KERNEL_KIND'" ;;
esac
PACKAGES+=(${EXTRA_PKGS[@]+"${EXTRA_PKGS[@]}"})
MODULES+=(${EXTRA_MODULES[@]+"${EXTRA_MODULES[@]}"})

for tool in apt-get apt-cache dpkg-deb depmod cpio xz sha256sum find sort; do
    command -v "$tool" >/dev/null || die "required tool missing: $tool"
done
[[ "$COMPRESS" != zstd ]] || command -v zstd >/dev/null || die "required tool missing: zstd"
[[ "$KERNEL_KIND" != katasharp ]] || command -v mkfs.erofs >/dev/null || die "required tool missing: mkfs.erofs (erofs-utils), for the root image"
[[ "$COMPRESS" != gzip ]] || command -v gzip >/dev/null || die "required tool missing: gzip"

AGENT=$(readlink -f "$AGENT")
mkdir -p "$OUT" "$CACHE"
OUT=$(readlink -f "$OUT")
CACHE=$(readlink -f "$CACHE")

WORK=$(mktemp -d "${TMPDIR:-/tmp}/katasharp-image.XXXXXX")
cleanup() {
    if [[ "${KATASHARP_KEEP_WORK:-0}" == 1 ]]; then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# -------------------------------------------------------------------- package handling
# A private binary cache makes repeated apt-cache calls fast even where the host's apt
# configuration disables /var/cache/apt/*.bin (Docker images do).
mkdir -p "$WORK/apt"
APT_OPTS=(-o "Dir::Cache::pkgcache=$WORK/apt/pkgcache.bin" -o "Dir::Cache::srcpkgcache=$WORK/apt/srcpkgcache.bin")
APT_UPDATED=0
apt_update_once() {
    [[ $APT_UPDATED == 0 ]] || return 1
    APT_UPDATED=1
    log "running apt-get update"
    rm -f "$WORK/apt/"*.bin
    APT_INFO=()
    if ! apt-get update >"$WORK/apt-update.log" 2>&1; then
        log "apt-get update failed:"; tail -n 5 "$WORK/apt-update.log" >&2
        return 1
    fi
}

# apt_lookup PKG[=VERSION]...: record apt's candidate (or the given version): version, arch,
# Filename, SHA256 of each PKG that apt knows, in one apt-cache call.
declare -A APT_INFO=()
apt_lookup() {
    local out p v a f s
    [[ $# -gt 0 ]] || return 0
    out=$(apt-cache "${APT_OPTS[@]}" show --no-all-versions "$@" 2>/dev/null) || true
    while IFS=$'\t' read -r p v a f s; do
        if [[ -n "$p" ]]; then APT_INFO[$p]="$v"$'\t'"$a"$'\t'"$f"$'\t'"$s"; fi
    done < <(awk -F': ' '
        function flush() { if (p != "") print p "\t" v "\t" a "\t" f "\t" s; p = v = a = f = s = "" }
        /^Package: /      { p = $2 }
        /^Version: /      { v = $2 }
        /^Architecture: / { a = $2 }
        /^Filename: /     { f = $2 }
        /^SHA256: /       { s = $2 }
        /^$/              { flush() }
        END               { flush() }' <<<"$out")
}

# Per-package records, filled by fetch_pkg.
declare -A PKG_VERSION PKG_ARCH PKG_SHA PKG_DEB PKG_ROLE
PKG_ORDER=()

newest_cached_deb() { # newest cached .deb of package $1, or nothing
    local f best="" bestv="" v
    for f in "$CACHE/$1"_*.deb; do
        [[ -f "$f" ]] || continue
        [[ "$(dpkg-deb -f "$f" Package 2>/dev/null)" == "$1" ]] || continue
        v=$(dpkg-deb -f "$f" Version)
        if [[ -z "$best" ]] || dpkg --compare-versions "$v" gt "$bestv"; then best=$f; bestv=$v; fi
    done
    [[ -z "$best" ]] || printf '%s\n' "$best"
}

# fetch_pkg PKG ROLE [VERSION]: make sure apt's candidate (or VERSION) .deb of PKG is in the
# cache and verified.
fetch_pkg() {
    local pkg=$1 role=$2 want=${3:+$1=$3} ver arch file sha deb dl
    if [[ -n "${PKG_DEB[$pkg]:-}" ]]; then return 0; fi
    STEP="resolving package $pkg"
    [[ -n "${APT_INFO[$pkg]:-}" ]] || apt_lookup "${want:-$pkg}"
    if [[ -z "${APT_INFO[$pkg]:-}" ]] && apt_update_once; then apt_lookup "${want:-$pkg}"; fi
    if [[ -z "${APT_INFO[$pkg]:-}" ]]; then
        # apt knows nothing (no lists, offline): fall back to the cache.
        deb=$(newest_cached_deb "$pkg")
        [[ -n "$deb" ]] || die "package $pkg: apt knows no candidate (virtual or unknown?) and nothing is cached in $CACHE"
        log "package $pkg: apt has no candidate, using cached $(basename "$deb")"
        ver=$(dpkg-deb -f "$deb" Version); arch=$(dpkg-deb -f "$deb" Architecture)
        sha=$(sha256sum "$deb" | cut -d' ' -f1)
    else
        IFS=$'\t' read -r ver arch file sha <<<"${APT_INFO[$pkg]}"
        [[ -n "$file" && -n "$sha" ]] || die "package $pkg: the apt index has no Filename/SHA256"
        deb="$CACHE/$(basename "$file")"
        if [[ -f "$deb" ]] && [[ "$(sha256sum "$deb" | cut -d' ' -f1)" == "$sha" ]]; then
            : # cached and verified
        else
            STEP="downloading package $pkg=$ver"
            log "downloading $pkg $ver"
            dl="$CACHE/.download.$$"
            rm -rf "$dl"; mkdir -p "$dl"
            if ! (cd "$dl" && apt-get download "$pkg=$ver") >"$WORK/download.log" 2>&1; then
                rm -rf "$dl"
                if apt_update_once; then
                    # The index may have moved on: start again with the new candidate.
                    fetch_pkg "$pkg" "$role" "${3:-}"; return 0
                fi
                tail -n 5 "$WORK/download.log" >&2
                die "downloading package $pkg=$ver failed"
            fi
            local got=("$dl"/*.deb)
            [[ ${#got[@]} == 1 && -f "${got[0]}" ]] || { rm -rf "$dl"; die "package $pkg: apt-get download left no .deb"; }
            [[ "$(sha256sum "${got[0]}" | cut -d' ' -f1)" == "$sha" ]] ||
                { rm -rf "$dl"; die "package $pkg=$ver: the SHA256 of the download does not match the apt index"; }
            mv -f "${got[0]}" "$deb"
            rm -rf "$dl"
        fi
    fi
    PKG_VERSION[$pkg]=$ver; PKG_ARCH[$pkg]=$arch; PKG_SHA[$pkg]=$sha; PKG_DEB[$pkg]=$deb; PKG_ROLE[$pkg]=$role
    PKG_ORDER+=("$pkg")
}

# apt_closure PKG...: what apt would install for PKG... on an empty system, one "NAME VERSION"
# line each, dependencies first. The private, empty dpkg status keeps the host's installed
# packages out of the answer; apt alone picks alternatives and honours versions.
APT_STATUS="$WORK/apt/status"
: >"$APT_STATUS"
apt_closure() {
    apt-get "${APT_OPTS[@]}" -o Dir::State::status="$APT_STATUS" -o APT::Install-Recommends=false \
        -o APT::Install-Suggests=false -s -q install "$@" 2>"$WORK/apt-closure.log" |
        sed -nE 's/^Inst ([^ ]+) \(([^ ]+) .*/\1 \2/p'
    [[ ${PIPESTATUS[0]} == 0 ]]
}

# fetch_closure ROLE PKG...: fetch PKG... and everything they depend on, as apt resolves it.
fetch_closure() {
    local role=$1 closure name version
    shift
    STEP="resolving the dependencies of $*"
    if ! closure=$(apt_closure "$@"); then
        if apt_update_once && closure=$(apt_closure "$@"); then :; else
            tail -n 5 "$WORK/apt-closure.log" >&2
            die "apt cannot resolve the packages $*"
        fi
    fi
    [[ -n "$closure" ]] || die "apt resolved $* to nothing"
    mapfile -t closure <<<"$closure"
    apt_lookup "${closure[@]/ /=}"
    for name in "${closure[@]}"; do
        version=${name#* }; name=${name%% *}
        fetch_pkg "$name" "$role" "$version"
    done
}

extract_pkg() { # extract_pkg PKG DIR
    STEP="unpacking package ${1}"
    mkdir -p "$2"
    dpkg-deb -x "${PKG_DEB[$1]}" "$2" || die "unpacking package $1 (${PKG_DEB[$1]}) failed"
}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# ---------------------------------------------------------------------------- kernel
if [[ "$KERNEL_KIND" == katasharp ]]; then
step "fetching $KERNEL_SOURCE_PACKAGE"
fetch_pkg "$KERNEL_SOURCE_PACKAGE" kernel-source
else
step "resolving the kernel package"
if [[ -z "$KERNEL_PKG" ]]; then
    resolve_kernel() {
        local info
        info=$(apt-cache "${APT_OPTS[@]}" depends "$KERNEL_METAPACKAGE" 2>/dev/null) || return 0
        awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-amd64$/ { print $2; exit }' <<<"$info"
    }
    KERNEL_PKG=$(resolve_kernel)
    if [[ -z "$KERNEL_PKG" ]] && apt_update_once; then KERNEL_PKG=$(resolve_kernel); fi
    if [[ -z "$KERNEL_PKG" ]]; then
        f=$(ls "$CACHE"/linux-image-[0-9]*-amd64_*.deb 2>/dev/null | sort -V | tail -n 1 || true)
        [[ -n "$f" ]] || die "cannot resolve the kernel: apt-cache knows no $KERNEL_METAPACKAGE and nothing is cached"
        KERNEL_PKG=$(dpkg-deb -f "$f" Package)
    fi
fi
[[ "$KERNEL_PKG" == *-cloud-amd64 ]] && die "the cloud kernel ($KERNEL_PKG) lacks 9p; use the generic -amd64 kernel"
log "kernel package: $KERNEL_PKG"
fetch_pkg "$KERNEL_PKG" kernel
fi

step "fetching $BUSYBOX_PACKAGE"
fetch_pkg "$BUSYBOX_PACKAGE" busybox

step "fetching ${PACKAGES[*]} and their dependencies"
fetch_closure userspace "${PACKAGES[@]}"

# ---------------------------------------------------------------------------- unpack
KROOT="$WORK/kernel"
SYSROOT="$WORK/sysroot"      # all userspace packages merged, used to resolve libraries
ROOT="$WORK/initramfs"
[[ "$KERNEL_KIND" != debian ]] || extract_pkg "$KERNEL_PKG" "$KROOT"
extract_pkg "$BUSYBOX_PACKAGE" "$WORK/busybox"
for p in "${PKG_ORDER[@]}"; do
    [[ "${PKG_ROLE[$p]}" == userspace ]] || continue
    extract_pkg "$p" "$WORK/pkgs/$p"
    extract_pkg "$p" "$SYSROOT"
done

if [[ "$KERNEL_KIND" == katasharp ]]; then
step "building our kernel from $KERNEL_SOURCE_PACKAGE ${PKG_VERSION[$KERNEL_SOURCE_PACKAGE]} (cached in $KERNEL_CACHE)"
bash "$HERE/kernel/build-kernel.sh" --source-deb "${PKG_DEB[$KERNEL_SOURCE_PACKAGE]}" --fragment "$KERNEL_FRAGMENT" \
    --cache "$KERNEL_CACHE" --out "$WORK/kbuild" || die "building the kernel failed"
# shellcheck source=/dev/null
source "$WORK/kbuild/kernel-build.env"
KVER=$KERNEL_RELEASE
KCONFIG="$WORK/kbuild/kernel.config"
mv "$WORK/kbuild/vmlinux" "$WORK/vmlinux"
KERNEL_PKG=$KERNEL_SOURCE_PACKAGE
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$KERNEL_SOURCE_DATE_EPOCH}
log "kernel release: $KVER"
else
STEP="finding the kernel release"
mapfile -t kvers < <(ls "$KROOT/lib/modules")
[[ ${#kvers[@]} == 1 ]] || die "kernel package $KERNEL_PKG: expected one /lib/modules/<release>, found: ${kvers[*]:-none}"
KVER=${kvers[0]}
VMLINUZ="$KROOT/boot/vmlinuz-$KVER"
KCONFIG="$KROOT/boot/config-$KVER"
[[ -f "$VMLINUZ" ]] || die "kernel package $KERNEL_PKG has no /boot/vmlinuz-$KVER"
log "kernel release: $KVER"

if [[ -z "${SOURCE_DATE_EPOCH:-}" ]]; then
    SOURCE_DATE_EPOCH=$(stat -c %Y "$VMLINUZ")
fi
[[ "$SOURCE_DATE_EPOCH" =~ ^[0-9]+$ ]] || die "SOURCE_DATE_EPOCH must be an integer"

fi
if [[ "$COMPRESS" != none && -f "$KCONFIG" ]]; then
    rd="CONFIG_RD_$(tr '[:lower:]' '[:upper:]' <<<"$COMPRESS")=y"
    grep -qx "$rd" "$KCONFIG" || die "kernel $KVER cannot unpack a $COMPRESS initramfs ($rd is not set)"
fi

# ---------------------------------------------------------------------------- vmlinux
if [[ "$KERNEL_KIND" == debian ]]; then
step "extracting vmlinux from vmlinuz-$KVER"
# The bzImage carries the ELF vmlinux as an xz stream. Find the xz magic FD 37 7A 58 5A 00.
XZ_OFF=$(grep -obUaP '\xFD\x37\x7A\x58\x5A\x00' "$VMLINUZ" | head -n 1 | cut -d: -f1 || true)
[[ -n "$XZ_OFF" ]] || die "no xz stream in $VMLINUZ (is the kernel not xz-compressed?)"
# --single-stream stops at the end of the stream and ignores what follows (the appended size).
{ tail -c +"$((XZ_OFF + 1))" "$VMLINUZ" || true; } | xz -dc --single-stream >"$WORK/vmlinux" ||
    die "decompressing the xz stream at offset $XZ_OFF of vmlinuz-$KVER failed"
[[ "$(head -c 4 "$WORK/vmlinux" | od -An -tx1 | tr -d ' \n')" == 7f454c46 ]] ||
    die "the payload of vmlinuz-$KVER is not an ELF file"
fi
if command -v readelf >/dev/null; then
    # XEN_ELFNOTE_PHYS32_ENTRY (type 0x12) is the PVH entry point QEMU needs for -kernel vmlinux.
    readelf -nW "$WORK/vmlinux" 2>/dev/null | grep -Eq 'Xen[[:space:]]+0x[0-9a-f]+[[:space:]]+Unknown note type: \(0x00000012\)' ||
        log "warning: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY) found in vmlinux"
fi

# ---------------------------------------------------------------------------- modules
MOD_ORDER=()
if [[ "$KERNEL_KIND" == debian ]]; then
step "resolving kernel modules through modules.dep"
depmod -b "$KROOT" "$KVER" || die "depmod -b $KROOT $KVER failed"
MODDIR="$KROOT/lib/modules/$KVER"
declare -A MOD_BY_NAME=() MOD_DEPS=() MOD_BUILTIN=() MOD_SEEN=()
# (No subshells in these loops: there are thousands of modules.)
while IFS= read -r line; do
    path=${line%%:*}; name=${path##*/}; name=${name%%.ko*}
    MOD_BY_NAME[${name//-/_}]=$path
    MOD_DEPS[$path]=${line#*:}
done <"$MODDIR/modules.dep"
if [[ -f "$MODDIR/modules.builtin" ]]; then
    while IFS= read -r path; do
        name=${path##*/}; name=${name%%.ko*}; MOD_BUILTIN[${name//-/_}]=1
    done <"$MODDIR/modules.builtin"
fi
visit_mod() { # depth-first: dependencies first
    local p=$1 d
    [[ -z "${MOD_SEEN[$p]:-}" ]] || return 0
    MOD_SEEN[$p]=1
    for d in ${MOD_DEPS[$p]}; do
        [[ -n "${MOD_DEPS[$d]+x}" ]] || die "module $p depends on $d, which is not in modules.dep"
        visit_mod "$d"
    done
    MOD_ORDER+=("$p")
}
for m in "${MODULES[@]}"; do
    n=${m//-/_}
    if [[ -n "${MOD_BY_NAME[$n]:-}" ]]; then
        visit_mod "${MOD_BY_NAME[$n]}"
    elif [[ -n "${MOD_BUILTIN[$n]:-}" ]]; then
        log "module $m is built into the kernel"
    else
        die "module $m is neither in modules.dep nor built into kernel $KVER"
    fi
done
fi

# ---------------------------------------------------------------------------- initramfs
step "laying out the initramfs"
mkdir -p "$ROOT"
for d in bin sbin usr/bin usr/sbin lib/x86_64-linux-gnu lib64 etc/katasharp proc sys dev run \
         mnt newroot var var/tmp root; do
    mkdir -p "$ROOT/$d"
done
mkdir -p "$ROOT/tmp"; chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"
chmod 0700 "$ROOT/root"

install -m 0755 "$AGENT" "$ROOT/init"

install -m 0755 "$WORK/busybox/bin/busybox" "$ROOT/bin/busybox"
STEP="creating busybox applet links"
while IFS= read -r applet; do
    case "$applet" in ""|linuxrc|bin/busybox) continue ;; esac
    if [[ -e "$ROOT/$applet" || -L "$ROOT/$applet" ]]; then continue; fi
    [[ -d "$ROOT/${applet%/*}" ]] || mkdir -p "$ROOT/${applet%/*}"
    ln -s /bin/busybox "$ROOT/$applet"
done < <("$WORK/busybox/bin/busybox" --list-full | sort)

for exe in "${EXECUTABLES[@]}"; do
    [[ -x "$SYSROOT$exe" ]] || die "no package of the recipe provides the executable $exe"
    install -D -m 0755 "$SYSROOT$exe" "$ROOT$exe"
done

# Shared libraries: the closure of the executables, the agent and the recipe's LIBRARIES, resolved against the
# unpacked packages with their own dynamic loader (nothing from the host is used).
step "resolving shared libraries"
LDSO="$SYSROOT/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
[[ -x "$LDSO" ]] || die "libc6 has no ld-linux-x86-64.so.2"
LIBPATH="$SYSROOT/lib/x86_64-linux-gnu:$SYSROOT/usr/lib/x86_64-linux-gnu"
declare -A LIBS=()   # soname -> file in the sysroot
is_dynamic_elf() {
    [[ "$(head -c 4 "$1" | od -An -tx1 | tr -d ' \n')" == 7f454c46 ]] || return 1
    # A PT_INTERP program header marks a dynamic executable; ld.so --list fails on static ones.
    "$LDSO" --library-path "$LIBPATH" --list "$1" >/dev/null 2>&1
}
resolve_libs() { # resolve_libs FILE: add FILE's library closure to LIBS
    local out name path missing=()
    out=$("$LDSO" --library-path "$LIBPATH" --list "$1" 2>&1) || die "resolving the libraries of $1 failed: $out"
    while read -r name _ path _; do
        case "$name" in linux-vdso.so.*|"") continue ;; esac
        if [[ "$path" == "not" ]]; then missing+=("$name"); continue; fi
        case "$name" in /*) name=${name##*/} ;; esac
        [[ "$path" == "$SYSROOT"/* ]] || die "library $name of $1 resolved outside the unpacked packages: $path"
        LIBS[$name]=$path
    done < <(grep '=>' <<<"$out")
    if [[ ${#missing[@]} -gt 0 ]]; then
        local hint=""
        for name in "${missing[@]}"; do
            hint+=" $(dpkg -S "*/$name" 2>/dev/null | head -n 1 | cut -d: -f1 || true)"
        done
        die "$1 needs ${missing[*]}, which no guest package provides; add --extra-package for it (on this host: ${hint# })"
    fi
}
for lib in "${LIBRARIES[@]}"; do
    f=$(find "$SYSROOT/lib/x86_64-linux-gnu" "$SYSROOT/usr/lib/x86_64-linux-gnu" -maxdepth 1 -name "$lib" 2>/dev/null | head -n 1)
    [[ -n "$f" ]] || die "$lib not found in the recipe's packages (${PACKAGES[*]})"
    LIBS[$lib]=$f
    resolve_libs "$f"
done
for exe in "${EXECUTABLES[@]}"; do resolve_libs "$ROOT$exe"; done
AGENT_KIND="script"
if is_dynamic_elf "$ROOT/init"; then AGENT_KIND="dynamic-elf"; resolve_libs "$ROOT/init"
elif [[ "$(head -c 4 "$ROOT/init" | od -An -tx1 | tr -d ' \n')" == 7f454c46 ]]; then AGENT_KIND="static-elf"
fi
log "agent: $AGENT_KIND"
file_package() { # file_package PATH...: the first unpacked userspace package that holds one of PATH...
    local p path
    for p in "${PKG_ORDER[@]}"; do
        [[ "${PKG_ROLE[$p]}" == userspace ]] || continue
        for path in "$@"; do
            if [[ -e "$WORK/pkgs/$p$path" || -L "$WORK/pkgs/$p$path" ]]; then printf '%s' "$p"; return; fi
        done
    done
    printf 'unknown'
}
lib_package() { file_package "/lib/x86_64-linux-gnu/$1" "/usr/lib/x86_64-linux-gnu/$1"; }
LIB_NAMES=()
while IFS= read -r lib; do LIB_NAMES+=("$lib"); done < <(printf '%s\n' "${!LIBS[@]}" | sort)
for lib in "${LIB_NAMES[@]}"; do
    install -m 0755 "$(readlink -f "${LIBS[$lib]}")" "$ROOT/lib/x86_64-linux-gnu/$lib"
done
[[ -f "$ROOT/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" ]] || die "ld-linux-x86-64.so.2 missing from the library closure"
ln -s /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$ROOT/lib64/ld-linux-x86-64.so.2"

GUEST_MODDIR="/lib/modules/$KVER"
GUEST_MODULES=()
# Our kernel has every driver built in: no modules, no list, and the agent loads nothing.
if [[ "$KERNEL_KIND" == debian ]]; then
step "installing ${#MOD_ORDER[@]} kernel modules"
mkdir -p "$ROOT$GUEST_MODDIR"
for p in "${MOD_ORDER[@]}"; do
    rel=${p%%.ko*}.ko
    mkdir -p "$ROOT$GUEST_MODDIR/$(dirname "$rel")"
    case "$p" in
        *.ko) install -m 0644 "$MODDIR/$p" "$ROOT$GUEST_MODDIR/$rel" ;;
        *.ko.xz) xz -dc "$MODDIR/$p" >"$ROOT$GUEST_MODDIR/$rel" ;;
        *.ko.zst) zstd -qdc "$MODDIR/$p" >"$ROOT$GUEST_MODDIR/$rel" ;;
        *.ko.gz) gzip -dc "$MODDIR/$p" >"$ROOT$GUEST_MODDIR/$rel" ;;
        *) die "module $p: unknown compression" ;;
    esac
    chmod 0644 "$ROOT$GUEST_MODDIR/$rel"
    GUEST_MODULES+=("$GUEST_MODDIR/$rel")
done
printf '%s\n' "${GUEST_MODULES[@]}" >"$ROOT/etc/katasharp/modules"
# modules.dep and friends for busybox modprobe (debugging); modules.builtin so that modprobe
# of a built-in module succeeds.
for f in modules.builtin modules.builtin.modinfo; do
    [[ ! -f "$MODDIR/$f" ]] || install -m 0644 "$MODDIR/$f" "$ROOT$GUEST_MODDIR/"
done
printf '%s\n' "${GUEST_MODULES[@]#"$GUEST_MODDIR/"}" >"$ROOT$GUEST_MODDIR/modules.order"
STEP="depmod of the initramfs modules"
depmod -b "$ROOT" "$KVER" || die "depmod of the initramfs modules failed"
fi

step "copying the recipe's files"
GUEST_FILES=()
while IFS= read -r f; do
    install -D -m 0644 "$FILES_DIR/$f" "$ROOT/$f"
    GUEST_FILES+=("$f")
done < <(cd "$FILES_DIR" && find . -type f -printf '%P\n' | sort)
# The root image is read-only: the agent writes these at CreateSandbox into a directory on /run (its EtcDir).
for f in hostname resolv.conf hosts; do
    [[ ! -e "$ROOT/etc/$f" ]] || die "the recipe's files have etc/$f, which the agent writes at run time (into /run/katasharp/etc)"
    ln -s "/run/katasharp/etc/$f" "$ROOT/etc/$f"
done
printf '%s\n' "$KVER" >"$ROOT/etc/katasharp/kernel-release"

# ---------------------------------------------------------------------------- manifest
json_items() { # one JSON value per input line -> indented, comma-separated list items
    sed -e 's/^/    /' -e '$!s/$/,/'
}
json_pkg_list() {
    local p
    for p in "${PKG_ORDER[@]}"; do
        printf '{"name": "%s", "version": "%s", "architecture": "%s", "role": "%s", "file": "%s", "sha256": "%s"}\n' \
            "$p" "${PKG_VERSION[$p]}" "${PKG_ARCH[$p]}" "${PKG_ROLE[$p]}" "$(basename "${PKG_DEB[$p]}")" "${PKG_SHA[$p]}"
    done | json_items
}
json_str_list() { # items...
    [[ $# -gt 0 ]] || return 0
    printf '"%s"\n' "$@" | json_items
}
json_executables() {
    local exe p
    for exe in "${EXECUTABLES[@]}"; do
        p=$(file_package "$exe")
        printf '{"path": "%s", "package": "%s", "version": "%s", "sha256": "%s"}\n' "$exe" "$p" "${PKG_VERSION[$p]:-}" "$(sha_of "$ROOT$exe")"
    done | json_items
}
json_files() {
    local f
    for f in ${GUEST_FILES[@]+"${GUEST_FILES[@]}"}; do
        printf '{"path": "/%s", "sha256": "%s"}\n' "$f" "$(sha_of "$ROOT/$f")"
    done | json_items
}
# The kernel's build tools by package (issue 11). Read here, not in kernel/build-kernel.sh: that script's
# own hash is part of the kernel cache key, so recording them there would rebuild every cached kernel.
# They are this host's tools when the image is built; the key's compiler line pins gcc itself.
tool_version() { # PACKAGE COMMAND -> the package's Debian version, else the first line of `COMMAND --version`
    local v=""
    if command -v dpkg-query >/dev/null; then v=$(dpkg-query -W -f='${Version}' "$1" 2>/dev/null) || v=""; fi
    if [[ -z "$v" ]]; then v=$("$2" --version 2>/dev/null | head -n 1) || v=""; fi
    v=${v//[\"\\]/}
    printf '%s' "${v:-unknown}"
}
gcc_package() { # the package of the gcc on PATH (gcc is a link to gcc-12 and the like), else "gcc"
    local real pkg=""
    if real=$(readlink -f "$(command -v gcc)") && command -v dpkg-query >/dev/null; then
        pkg=$(dpkg-query -S "$real" 2>/dev/null | head -n 1 | cut -d: -f1) || pkg=""
    fi
    printf '%s' "${pkg:-gcc}"
}
json_kernel_tools() {
    local gcc_pkg sep="" entry
    gcc_pkg=$(gcc_package)
    printf '{'
    for entry in "$gcc_pkg:gcc" binutils:ld make:make flex:flex bison:bison; do
        printf '%s"%s": "%s"' "$sep" "${entry%%:*}" "$(tool_version "${entry%%:*}" "${entry#*:}")"
        sep=", "
    done
    printf '}'
}
json_kernel() { # how the kernel was made: what a rebuild needs to give the same vmlinux
    if [[ "$KERNEL_KIND" == katasharp ]]; then
        printf '{"kind": "katasharp", "sourcePackage": "%s", "sourceVersion": "%s", "sourceSha256": "%s", "fragment": "%s", "fragmentSha256": "%s", "compiler": "%s", "tools": %s, "buildTimestamp": "%s", "configSha256": "%s"}' \
            "$KERNEL_SOURCE_PACKAGE" "$KERNEL_SOURCE_VERSION" "$KERNEL_SOURCE_SHA256" "$(basename "$KERNEL_FRAGMENT")" "$KERNEL_FRAGMENT_SHA256" \
            "$KERNEL_COMPILER" "$(json_kernel_tools)" "$KERNEL_BUILD_TIMESTAMP" "$(sha_of "$KCONFIG")"
    else
        printf '{"kind": "debian", "package": "%s", "version": "%s"}' "$KERNEL_PKG" "${PKG_VERSION[$KERNEL_PKG]}"
    fi
}
json_libs() {
    local lib
    for lib in "${LIB_NAMES[@]}"; do
        printf '{"name": "%s", "package": "%s", "sha256": "%s"}\n' "$lib" "$(lib_package "$lib")" "$(sha_of "$ROOT/lib/x86_64-linux-gnu/$lib")"
    done | json_items
}
VMLINUX_SHA=$(sha_of "$WORK/vmlinux")
AGENT_SHA=$(sha_of "$AGENT")
write_manifest_inputs() {
    cat <<EOF
  "schema": 2,
  "kernelRelease": "$KVER",
  "kernelPackage": "$KERNEL_PKG",
  "kernel": $(json_kernel),
  "sourceDateEpoch": $SOURCE_DATE_EPOCH,
  "compression": "$COMPRESS",
  "recipe": {"sha256": "$(sha_of "$RECIPE")"},
  "packages": [
$(json_pkg_list)
  ],
  "agent": {"kind": "$AGENT_KIND", "size": $(stat -c %s "$AGENT"), "sha256": "$AGENT_SHA"},
  "executables": [
$(json_executables)
  ],
  "busybox": {"package": "$BUSYBOX_PACKAGE", "version": "${PKG_VERSION[$BUSYBOX_PACKAGE]}", "sha256": "$(sha_of "$ROOT/bin/busybox")"},
  "vmlinux": {"size": $(stat -c %s "$WORK/vmlinux"), "sha256": "$VMLINUX_SHA"},
  "modules": [
$(json_str_list ${GUEST_MODULES[@]+"${GUEST_MODULES[@]}"})
  ],
  "libraries": [
$(json_libs)
  ],
  "files": [
$(json_files)
  ]
EOF
}
step "writing the manifest"
INPUTS_JSON=$(write_manifest_inputs)
printf '{\n%s\n}\n' "$INPUTS_JSON" >"$ROOT/etc/katasharp/manifest.json"

# ---------------------------------------------------------------------------- pack
step "packing the initramfs ($COMPRESS)"
find "$ROOT" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(
    cd "$ROOT"
    find . -mindepth 1 -printf '%P\n' | sort |
        cpio -o -H newc --reproducible -R 0:0 --quiet
) >"$WORK/initrd.cpio" || die "cpio failed"
case "$COMPRESS" in
    gzip) gzip -n -9 -c "$WORK/initrd.cpio" >"$WORK/initrd.img" ;;
    zstd) zstd -q -19 -T1 -c "$WORK/initrd.cpio" >"$WORK/initrd.img" ;;
    none) cp "$WORK/initrd.cpio" "$WORK/initrd.img" ;;
esac
INITRD_SHA=$(sha_of "$WORK/initrd.img")

# The same tree as a read-only erofs image for our kernel, which has virtio_blk and erofs built in: the VM mounts it
# as its root from a read-only disk, so nothing is unpacked at boot and the host's page cache holds one copy for
# every VM. Uncompressed, so the guest only copies pages. Debian's kernel has both as modules: the initramfs only.
ROOT_IMAGE_JSON=""
rm -f "$OUT/root.img"
if [[ "$KERNEL_KIND" == katasharp ]]; then
    step "making the root image (erofs)"
    # A fixed UUID and timestamp, every file root's: the same tree gives the same bytes.
    mkfs.erofs --quiet --all-root -x-1 -T"$SOURCE_DATE_EPOCH" -U 6b617461-7368-6172-702d-726f6f742d31 \
        "$WORK/root.img" "$ROOT" || die "mkfs.erofs failed"
    ROOT_IMAGE_JSON=$(printf ',\n  "rootImage": {"fileSystem": "erofs", "size": %s, "sha256": "%s"}' \
        "$(stat -c %s "$WORK/root.img")" "$(sha_of "$WORK/root.img")")
fi

step "writing outputs to $OUT"
mv -f "$WORK/vmlinux" "$OUT/vmlinux.tmp" && mv -f "$OUT/vmlinux.tmp" "$OUT/vmlinux"
mv -f "$WORK/initrd.img" "$OUT/initrd.img.tmp" && mv -f "$OUT/initrd.img.tmp" "$OUT/initrd.img"
[[ -z "$ROOT_IMAGE_JSON" ]] || { mv -f "$WORK/root.img" "$OUT/root.img.tmp" && mv -f "$OUT/root.img.tmp" "$OUT/root.img"; }
printf '%s\n' "$KVER" >"$OUT/kernel-release"
# The configuration the kernel was built with: the unit tests check the fragment against it, and
# `katasharp check` the options the runtime relies on (Debian's kernel too: its /boot/config-<release>).
if [[ -f "$KCONFIG" ]]; then cp "$KCONFIG" "$OUT/kernel.config"; else rm -f "$OUT/kernel.config"; fi
cat >"$OUT/manifest.json.tmp" <<EOF
{
$INPUTS_JSON,
  "initrd": {"size": $(stat -c %s "$OUT/initrd.img"), "uncompressedSize": $(stat -c %s "$WORK/initrd.cpio"), "sha256": "$INITRD_SHA"}$ROOT_IMAGE_JSON
}
EOF
mv -f "$OUT/manifest.json.tmp" "$OUT/manifest.json"

log "done: kernel $KVER, ${#GUEST_MODULES[@]} modules, ${#LIB_NAMES[@]} libraries"
log "  $OUT/vmlinux     $(stat -c %s "$OUT/vmlinux") bytes  sha256 $VMLINUX_SHA"
log "  $OUT/initrd.img  $(stat -c %s "$OUT/initrd.img") bytes  sha256 $INITRD_SHA"
