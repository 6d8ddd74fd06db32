#!/usr/bin/env bash
# KataSharp's one entry point. Usage: ./build.sh {deps|build|image|deploy-image|test|bench|fuzz|soak|demo|install} [args]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUILD="$ROOT/build"
BIN="$BUILD/bin"
GUEST="$BUILD/guest"
IMAGES="$BUILD/images"
CONFIGURATION="${CONFIGURATION:-Release}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Debian packages the runtime, the guest image and the tests need.
DEB_PACKAGES=(
  qemu-system-x86 containerd runc crun busybox-static containernetworking-plugins
  kmod cpio iproute2 iptables xz-utils zstd gzip file
  # the read-only root image beside our guest kernel (guest-image/build.sh)
  erofs-utils
  # building our guest kernel (guest-image/kernel/build-kernel.sh)
  gcc make flex bison bc libelf-dev libssl-dev
)

log() { printf '[build] %s\n' "$*" >&2; }
die() { printf '[build] error: %s\n' "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" -eq 0 ] || die "$1 needs root (VMs, mounts and containerd); run it with sudo"
}

cmd_deps() {
  local missing=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    need_root "installing ${missing[*]}"
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  command -v dotnet >/dev/null || die "the .NET 10 SDK (dotnet) is not on PATH; install it from Microsoft's Debian packages"
  containerd2_deps
  registry_deps
  promtool_deps
}

# Debian's docker-registry: the local registry the pull test and the pull benchmark push into and pull from.
registry_deps() {
  dpkg-query -W -f='${Status}' docker-registry 2>/dev/null | grep -q "install ok installed" && return 0
  need_root "installing docker-registry"
  log "installing docker-registry"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
  # The package starts a registry on :5000 for everyone; the tests start their own on 127.0.0.1 only.
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
  fi
}

# The host's Debian mirror, from its apt sources (deb822 or one-line style).
debian_mirror() {
  local uri
  uri="$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1 || true)"
  if [ -z "$uri" ]; then
    uri="$(grep -hsE '^deb\s' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | sed -E 's/\[[^]]*\]//' \
      | awk '{print $2}' | grep -v security | head -1 || true)"
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# promtool (Debian's prometheus package) checks what `katasharp monitor` serves in the end-to-end suite:
# only the one binary, unpacked into build/promtool, so no Prometheus server is installed or started.
PROMTOOL="$BUILD/promtool/usr/bin/promtool"
promtool_deps() {
  [ -x "$PROMTOOL" ] && return 0
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/katasharp/promtool" deb
  deb="$(ls "$cache"/prometheus_*.deb 2>/dev/null | tail -1 || true)"
  if [ -z "$deb" ]; then
    log "downloading prometheus (for promtool) into $cache"
    mkdir -p "$cache"
    (cd "$cache" && { apt-get download -qq prometheus 2>/dev/null || { apt-get update -qq && apt-get download -qq prometheus; }; }) \
      || die "cannot download Debian's prometheus package"
    deb="$(ls "$cache"/prometheus_*.deb | tail -1)"
  fi
  rm -rf "$BUILD/promtool.new" && mkdir -p "$BUILD"
  dpkg-deb --fsys-tarfile "$deb" | (mkdir -p "$BUILD/promtool.new" && tar -x -C "$BUILD/promtool.new" ./usr/bin/promtool)
  "$BUILD/promtool.new/usr/bin/promtool" --version >/dev/null 2>&1 || die "the unpacked promtool does not run on this host"
  rm -rf "$BUILD/promtool" && mv "$BUILD/promtool.new" "$BUILD/promtool"
  log "promtool in $BUILD/promtool"
}

# containerd 2.x for the end-to-end suite: forky's package unpacked into build/containerd-2, never
# installed, so the host keeps its own containerd. Its binaries need only libc >= 2.34.
CONTAINERD2="$BUILD/containerd-2"
containerd2_deps() {
  [ -x "$CONTAINERD2/usr/bin/containerd" ] && return 0
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/katasharp/containerd-2" deb
  deb="$(ls "$cache"/containerd_*.deb 2>/dev/null | tail -1 || true)"
  if [ -z "$deb" ]; then
    log "downloading containerd 2.x (forky) into $cache"
    mkdir -p "$cache/lists/partial"
    echo "deb $(debian_mirror) forky main" >"$cache/sources.list"
    # A private source list, lists directory and no package caches: the host's apt state is untouched.
    local apt=(-o "Dir::Etc::SourceList=$cache/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$cache/lists" -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
      -o APT::Sandbox::User=root)
    apt-get "${apt[@]}" update -qq || die "cannot read the forky package index"
    (cd "$cache" && apt-get "${apt[@]}" download -qq containerd/forky) || die "cannot download containerd from forky"
    deb="$(ls "$cache"/containerd_*.deb | tail -1)"
  fi
  rm -rf "$CONTAINERD2.new" && mkdir -p "$BUILD"
  dpkg -x "$deb" "$CONTAINERD2.new"
  "$CONTAINERD2.new/usr/bin/containerd" --version >/dev/null || die "the unpacked containerd 2.x does not run on this host"
  rm -rf "$CONTAINERD2" && mv "$CONTAINERD2.new" "$CONTAINERD2"
  log "containerd 2.x in $CONTAINERD2: $("$CONTAINERD2/usr/bin/containerd" --version)"
}

publish() {
  local project="$1" out
  out="$(dotnet publish "$ROOT/$project" -c "$CONFIGURATION" -r linux-x64 -o "$BIN" -nologo -v quiet 2>&1)" || { echo "$out"; die "publishing $project failed"; }
  # NativeAOT must publish clean: a trim or AOT warning is a bug waiting for run time.
  if grep -E "warning (IL|CS)[0-9]+" <<<"$out" >/dev/null; then
    echo "$out" | grep -E "warning" >&2
    die "publishing $project produced trim/AOT warnings"
  fi
}

cmd_build() {
  log "building the solution"
  dotnet build "$ROOT/KataSharp.sln" -c "$CONFIGURATION" -nologo -v quiet
  mkdir -p "$BIN"
  for p in agent/KataSharp.Agent runtime/KataSharp.Shim runtime/KataSharp.Cli; do
    log "publishing $p (NativeAOT)"
    publish "$p"
  done
  rm -f "$BIN"/*.dbg "$BIN"/*.pdb
  mkdir -p "$BUILD/configs" && cp "$ROOT"/configs/* "$BUILD/configs/"
  log "binaries in $BIN: $(cd "$BIN" && ls | tr '\n' ' ')"
}

cmd_image() {
  [ -x "$BIN/katasharp-agent" ] || cmd_build
  mkdir -p "$IMAGES"
  if [ ! -s "$IMAGES/busybox.oci.tar" ] || [ "$BIN/katasharp" -nt "$IMAGES/busybox.oci.tar" ]; then
    log "building the busybox and pause OCI images"
    "$BIN/katasharp" image build-busybox --busybox /bin/busybox --out "$IMAGES/busybox.oci.tar" >/dev/null
    # CRI's sandbox image: it only has to stay alive, as the pause binary does.
    "$BIN/katasharp" image build-busybox --busybox /bin/busybox --out "$IMAGES/pause.oci.tar" \
      --ref docker.io/katasharp/pause:latest --cmd "sleep 2147483647" >/dev/null
  fi
  guest_images
}

# Both guest kernels, each with its initramfs (ours also with its root image), in build/guest/<kind>/ (the runtime's guest.kernel picks one);
# the default one (KATASHARP_GUEST_KERNEL, as the runtime's default) also in build/guest/ itself, where
# the tests, the benchmarks and `katasharp install` look. Our kernel is built once per machine (cached).
GUEST_KERNEL="${KATASHARP_GUEST_KERNEL:-katasharp}"
guest_images() {
  local kind f
  case "$GUEST_KERNEL" in katasharp|debian) ;; *) die "KATASHARP_GUEST_KERNEL must be katasharp or debian" ;; esac
  for kind in katasharp debian; do
    log "guest image with the $kind kernel"
    bash "$ROOT/guest-image/build.sh" --agent "$BIN/katasharp-agent" --out "$GUEST/$kind" --compress zstd --kernel "$kind"
  done
  for f in vmlinux initrd.img root.img manifest.json kernel-release kernel.config; do
    rm -f "$GUEST/$f"
    [ ! -e "$GUEST/$GUEST_KERNEL/$f" ] || ln "$GUEST/$GUEST_KERNEL/$f" "$GUEST/$f"
  done
  log "default guest kernel: $GUEST_KERNEL ($(cat "$GUEST/kernel-release"))"
}

# The katasharp-deploy DaemonSet's image (deploy/daemonset.yaml): busybox, the C library the NativeAOT
# binaries link, and under /opt/katasharp-artifacts the payload `katasharp install` copies onto each node.
cmd_deploy_image() {
  [ -x "$BIN/katasharp" ] && [ -s "$GUEST/initrd.img" ] && [ -s "$IMAGES/busybox.oci.tar" ] || cmd_image
  local payload=opt/katasharp-artifacts adds=() f lib
  for f in bin/katasharp bin/containerd-shim-katasharp-v2 guest images/busybox.oci.tar configs; do
    adds+=(--add "$BUILD/$f=$payload/$f")
  done
  adds+=(--add "$ROOT/deploy/payload/entry.sh=$payload/entry.sh")
  for lib in $(ldd "$BIN/katasharp" "$BIN/containerd-shim-katasharp-v2" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $1 !~ /:$/ {print $1}' | sort -u); do
    adds+=(--add "$lib=${lib#/}")
  done
  # .NET's crypto (the payload's SHA-256, TLS to the API server) dlopens OpenSSL, which ldd does not list.
  for lib in $(ldconfig -p | awk '$1 ~ /^lib(ssl|crypto)\.so\.3$/ && /x86-64/ && $NF ~ /^\// {print $NF}' | sort -u); do
    adds+=(--add "$lib=${lib#/}")
  done
  log "building the deploy image (payload, busybox and libc)"
  "$BIN/katasharp" image build-busybox --busybox /bin/busybox --out "$IMAGES/katasharp-deploy.oci.tar" \
    --ref docker.io/katasharp/katasharp-deploy:latest --cmd "/$payload/entry.sh install" "${adds[@]}" >/dev/null
  log "deploy image: $IMAGES/katasharp-deploy.oci.tar (push it to your registry; see deploy/daemonset.yaml)"
}

# Runs one test project; prints its summary and records its counts.
PASSED=0 FAILED=0 SKIPPED=0
run_tests() {
  local project="$1"; shift
  local out rc=0
  out="$(mktemp)"
  set +e
  dotnet test "$ROOT/$project" -c "$CONFIGURATION" -nologo --logger "console;verbosity=normal" "$@" 2>&1 | tee "$out" | grep -E "^\s*(Passed|Failed|Skipped)[ :]|\[FAIL\]|error|Total tests|^\[behaviour\]"
  local statuses=("${PIPESTATUS[@]}")
  set -e
  rc=${statuses[0]}
  # The console logger's summary: "Total tests: N", then "Passed: N", "Failed: N", "Skipped: N".
  local summary p f k
  summary="$(sed -n '/^Total tests: [0-9]*/,/Total time/p' "$out")"
  p="$(sed -nE 's/^ *Passed: *([0-9]+).*/\1/p' <<<"$summary" | tail -1)"
  f="$(sed -nE 's/^ *Failed: *([0-9]+).*/\1/p' <<<"$summary" | tail -1)"
  k="$(sed -nE 's/^ *Skipped: *([0-9]+).*/\1/p' <<<"$summary" | tail -1)"
  PASSED=$((PASSED + ${p:-0})); FAILED=$((FAILED + ${f:-0})); SKIPPED=$((SKIPPED + ${k:-0}))
  if [ "${f:-0}" -gt 0 ]; then
    # Why each test failed: the message and the top of the stack.
    grep -A14 -E "^\s*Failed [A-Za-z]" "$out" | grep -vE "^\s*Passed " || true
  fi
  if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
    FAILED=$((FAILED + 1))   # the run failed without a failed test: a build or host error
  fi
  rm -f "$out"
  return 0
}

cmd_test() {
  need_root "the test suite"
  cmd_deps
  cmd_build
  cmd_image
  export KATASHARP_BUILD="$BUILD"
  run_tests tests/KataSharp.Tests.Unit
  run_tests tests/KataSharp.Tests.Integration
  if [ -d "$ROOT/tests/KataSharp.Tests.EndToEnd" ]; then
    run_tests tests/KataSharp.Tests.EndToEnd
  fi
  echo "tests: $PASSED passed, $FAILED failed, $SKIPPED skipped"
  [ "$FAILED" -eq 0 ]
}

cmd_bench() {
  local what="${1:-all}"
  # Figures are of the sources at hand, never of binaries an older checkout left in build/.
  cmd_build
  cmd_image
  dotnet run --project "$ROOT/tests/KataSharp.Benchmarks" -c "$CONFIGURATION" -- "$what" --build "$BUILD"
}

# Long fuzzing, not part of test (which runs each target's seconds-long smoke): one target or all, for
# SECONDS each, at the lowest CPU priority. Findings (the minimal failing input) go to build/fuzz/findings.
FUZZ_TARGETS=(ttrpc-agent agent-rpc ttrpc-shim shim-rpc oci-spec)
cmd_fuzz() {
  local target="${1:-all}" seconds="${2:-300}" filter
  [[ "$seconds" =~ ^[1-9][0-9]*$ ]] || die "fuzz: SECONDS must be a positive number, not '$seconds'"
  if [ "$target" = all ]; then
    filter="Category=Fuzz"
  elif [[ " ${FUZZ_TARGETS[*]} " == *" $target "* ]]; then
    filter="FuzzTarget=$target"
  else
    die "fuzz: unknown target '$target' (one of: all ${FUZZ_TARGETS[*]})"
  fi
  local out="$BUILD/fuzz" rc=0
  mkdir -p "$out" && : >"$out/report.txt"
  log "fuzzing $target for ${seconds}s per target (report in $out/report.txt, findings in $out/findings)"
  set +e
  KATASHARP_FUZZ_SECONDS="$seconds" KATASHARP_FUZZ_REPORT="$out/report.txt" KATASHARP_FUZZ_FINDINGS="$out/findings" \
    nice -n 19 dotnet test "$ROOT/tests/KataSharp.Tests.Unit" -c "$CONFIGURATION" -nologo --filter "$filter" \
    --logger "console;verbosity=normal" 2>&1 | grep -E "^\s*(Failed|Passed) |Error Message|KATASHARP_FUZZ_SEED|CsCheck|Total tests" -A2
  local statuses=("${PIPESTATUS[@]}")
  set -e
  rc=${statuses[0]}
  cat "$out/report.txt"
  [ "$rc" -eq 0 ] || die "fuzzing found a failure; the minimal input is in $out/findings"
}

# The soak, not part of test: KATASHARP_SOAK_PODS pod create, exec and remove cycles through CRI (4 at a time) and
# KATASHARP_SOAK_JOBS `katasharp run` jobs (200 each by default), then the leak and RSS checks, and the pod network
# churn test with KATASHARP_POD_CYCLES pods (20 by default). Prints the figures.
cmd_soak() {
  need_root "the soak (it boots VMs through containerd)"
  # Always from the sources: a soak of binaries an older checkout left in build/ proves nothing about this one.
  cmd_build
  cmd_image
  log "soak: ${KATASHARP_SOAK_PODS:-200} pod cycles, ${KATASHARP_SOAK_JOBS:-200} katasharp run jobs"
  local rc=0 logs="$BUILD/soak-logs"
  rm -rf "$logs"
  set +e
  KATASHARP_E2E_LOG_DIR="$logs" KATASHARP_BUILD="$BUILD" KATASHARP_SOAK=1 KATASHARP_POD_CYCLES="${KATASHARP_POD_CYCLES:-20}" dotnet test "$ROOT/tests/KataSharp.Tests.EndToEnd" -c "$CONFIGURATION" -nologo \
    --filter "Category=Soak|FullyQualifiedName~PodsCreatedAndRemovedRepeatedly" --logger "console;verbosity=detailed" 2>&1 | tee "$BUILD/soak.log" | grep -E "^\s*(Passed|Failed|Skipped) |soak:|Error Message|left behind|Total tests" -A2
  rc=${PIPESTATUS[0]}
  set -e
  [ "$rc" -eq 0 ] || die "the soak failed (its whole output, guest console tails included: $BUILD/soak.log; each containerd's log, its shims' lines included: $logs/)"
}

cmd_demo() {
  need_root "the demo (it boots a VM and mounts the container's rootfs)"
  cmd_deps
  cmd_build
  cmd_image
  echo "host kernel:  $(uname -r)"
  echo "running: katasharp run -- sh -c 'uname -a; cat /proc/version'"
  "$BIN/katasharp" run --verbose -- sh -c 'uname -a; cat /proc/version'
}

cmd_install() {
  need_root "install"
  [ -x "$BIN/katasharp" ] && [ -s "$GUEST/initrd.img" ] || { cmd_build; cmd_image; }
  "$BIN/katasharp" install --from "$BUILD" "$@"
}

main() {
  local cmd="${1:-}"
  [ $# -gt 0 ] && shift
  case "$cmd" in
    deps) cmd_deps ;;
    build) cmd_deps; cmd_build ;;
    image) cmd_image ;;
    deploy-image) cmd_deploy_image ;;
    test) cmd_test "$@" ;;
    bench) cmd_bench "$@" ;;
    fuzz) cmd_fuzz "$@" ;;
    soak) cmd_soak ;;
    demo) cmd_demo ;;
    install) cmd_install "$@" ;;
    *) echo "usage: $0 {deps|build|image|deploy-image|test|bench [ttrpc|sandbox|shim|net|io|startup|pull|mem|tcg|root|density]|fuzz [target|all] [seconds]|soak|demo|install}" >&2; exit 2 ;;
  esac
}

main "$@"
