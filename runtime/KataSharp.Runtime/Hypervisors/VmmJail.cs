namespace KataSharp.Runtime.Hypervisors;

/// <summary>
/// Confines a VMM in the manner of Firecracker's jailer, with util-linux tools rather than code
/// between fork and exec (.NET has none): the VMM runs in its own mount namespace whose root is an
/// empty read-only tmpfs holding only /usr (read-only), the few device nodes it needs, its guest
/// kernel and initrd (read-only) and its sandbox directory; its capability bounding set keeps only
/// <see cref="Capabilities"/>, no_new_privs is set, and its umask is 0177, so every socket and file
/// it creates (QMP, the agent's chardev, the console log) is 0600 from the start, never chmod-ed later.
/// </summary>
/// <remarks>
/// The shared directory gets container rootfs and volumes bind-mounted into it while the VM runs.
/// For those mounts to reach the VMM's namespace, the host side of the share is made a shared mount
/// (a bind of itself, unmounted with the sandbox's other mounts) and the VMM's copy is its slave:
/// mounts and unmounts flow from the host to the VMM, never back.
/// </remarks>
public sealed record VmmJail
{
    /// <summary>The one host directory the VMM may write in: its sockets, pid file, logs.</summary>
    public required string SandboxDirectory { get; init; }

    /// <summary>A directory the VMM exports to the guest (9p), bind-mounted with its submounts; null for none.</summary>
    public string? SharedDirectory { get; init; }

    /// <summary>Files outside /usr the VMM reads (the guest kernel and initrd), mounted read-only at the same paths.</summary>
    public IReadOnlyList<string> ReadOnlyFiles { get; init; } = [];

    /// <summary>Device nodes the VMM opens, e.g. /dev/kvm, mounted at the same paths.</summary>
    public IReadOnlyList<string> Devices { get; init; } = [];

    /// <summary>The capabilities the VMM keeps (setpriv names, e.g. "chown"); every other one leaves the bounding set.</summary>
    public IReadOnlyList<string> Capabilities { get; init; } = [];

    /// <summary>The jail root's mount point, an empty directory in the sandbox directory (the root itself exists only in the VMM's namespace).</summary>
    public string RootDirectory => Path.Combine(SandboxDirectory, "vmm-root");

    /// <summary>The tools the jail is built with; all of them util-linux or the POSIX shell.</summary>
    public static readonly IReadOnlyList<string> Tools = [Shell, "/usr/bin/unshare", "/usr/bin/setpriv", "/usr/bin/mountpoint", "/usr/sbin/pivot_root"];

    private const string Shell = "/bin/sh";

    /// <summary>
    /// Runs in the host's namespace: makes the share a shared mount (unless it is a mount point already,
    /// which then gets shared propagation itself), then execs the rest of its arguments.
    /// </summary>
    private const string HostStep = """
        set -eu
        PATH=/usr/sbin:/usr/bin:/sbin:/bin
        share=$1; shift
        if [ -n "$share" ]; then
          mountpoint -q "$share" || mount --bind "$share" "$share"
          mount --make-shared "$share"
        fi
        exec "$@"
        """;

    /// <summary>
    /// Runs in the new mount namespace (every mount already a slave): builds the root, pivots into it,
    /// drops what the VMM does not need and execs it. Arguments: sandbox dir, share (or ""), capabilities,
    /// then ro=FILE and dev=NODE items, "--", the VMM and its arguments.
    /// </summary>
    private const string JailStep = """
        set -eu
        PATH=/usr/sbin:/usr/bin:/sbin:/bin
        sandbox=$1 share=$2 caps=$3; shift 3
        root=$sandbox/vmm-root
        bind_file() { mkdir -p "$root${2%/*}"; : > "$root$2"; mount --bind "$2" "$root$2"; mount -o "remount,bind,$1" "$root$2"; }
        mkdir -p -m 0700 "$root"
        mount -t tmpfs -o mode=0755,nosuid,nodev,size=1m katasharp-vmm "$root"
        mkdir "$root/usr" "$root/dev" "$root/proc" "$root/.old"
        mount --bind /usr "$root/usr"
        mount -o remount,bind,ro,nodev "$root/usr"
        for top in bin sbin lib lib32 lib64 libx32; do
          if [ -L "/$top" ]; then ln -s "$(readlink "/$top")" "$root/$top"
          elif [ -d "/$top" ]; then mkdir "$root/$top"; mount --bind "/$top" "$root/$top"; mount -o remount,bind,ro,nodev "$root/$top"
          fi
        done
        while [ "$1" != "--" ]; do
          case $1 in
            ro=*) bind_file ro,nosuid,nodev "${1#ro=}" ;;
            dev=*) bind_file nosuid "${1#dev=}" ;;
          esac
          shift
        done
        shift
        mkdir -p "$root$sandbox"
        mount --bind "$sandbox" "$root$sandbox"
        mount -o remount,bind,nosuid,nodev "$root$sandbox"
        if [ -n "$share" ]; then
          mkdir -p "$root$share"
          mount --rbind "$share" "$root$share"
          # ro: the top of the share is read-only to the guest (Storage/SharedDirectory); its submounts keep their own flags.
          mount -o remount,bind,ro,nosuid,nodev "$root$share"
        fi
        # umount needs /proc/self/mountinfo while the old root goes. Then only the VMM's own /proc/<pid>
        # stays, as /proc/self: QEMU's 9p server changes modes through /proc/self/fd/N. This shell's pid
        # is the VMM's, since everything from here on is exec'd.
        mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
        cd "$root"
        pivot_root . .old
        umount -l /.old
        rmdir /.old
        mkdir /.self
        mount --bind "/proc/$$" /.self
        umount /proc
        mkdir /proc/self
        mount -n --move /.self /proc/self
        rmdir /.self
        mount -o remount,bind,ro /
        umask 0177
        exec setpriv --inh-caps=-all --ambient-caps=-all --bounding-set="$caps" --no-new-privs -- "$@"
        """;

    /// <summary>The command that runs <paramref name="vmmPath"/> with <paramref name="arguments"/> inside this jail.</summary>
    public (string Path, IReadOnlyList<string> Arguments) Wrap(string vmmPath, IReadOnlyList<string> arguments)
    {
        var share = SharedDirectory ?? "";
        var args = new List<string> { "-c", HostStep, "katasharp-vmm-host", share };
        args.AddRange(["/usr/bin/unshare", "--mount", "--propagation", "slave", "--", Shell, "-c", JailStep, "katasharp-vmm-jail"]);
        args.AddRange([SandboxDirectory, share, string.Join(',', ["-all", .. Capabilities.Select(c => "+" + c)])]);
        args.AddRange(ReadOnlyFiles.Where(f => !f.StartsWith("/usr/", StringComparison.Ordinal)).Select(f => "ro=" + f));
        args.AddRange(Devices.Select(d => "dev=" + d));
        args.Add("--");
        args.Add(vmmPath);
        args.AddRange(arguments);
        return (Shell, args);
    }
}
