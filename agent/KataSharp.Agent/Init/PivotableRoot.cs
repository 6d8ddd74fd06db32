using KataSharp.Native;
using KataSharp.Native.Processes;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Init;

/// <summary>
/// First start as PID 1 on the initramfs. crun's pivot_root refuses a root that is the namespace's
/// rootfs mount (it has no parent mount), so the root becomes a bind mount of itself moved onto "/"
/// (what LXC does on a ramfs root): the same files, nothing copied, and a root mount with a parent,
/// which pivot_root accepts. crun then detaches the old root in each container's mount namespace as
/// on any host, so no container sees the agent's tree (unlike crun --no-pivot, which leaves it there).
/// The agent then runs itself again inside the new root.
/// </summary>
internal sealed partial class PivotableRoot
{
    /// <summary>Set for the second start, inside the bound root (the files are the same, so a marker file cannot tell).</summary>
    public const string StageVariable = "KATASHARP_ROOT";
    private const string StageValue = "bound";
    private const string Staging = "/newroot";

    private readonly ILogger _logger;

    public PivotableRoot(ILogger<PivotableRoot> logger) => _logger = logger;

    /// <summary>
    /// True on the first start from an initramfs. A root image is mounted from its disk over the kernel's rootfs, so it
    /// has a parent mount already and pivot_root takes it as it is.
    /// </summary>
    public static bool IsNeeded() => IsNeeded(Environment.GetEnvironmentVariable(StageVariable), SystemCalls.FileSystemType("/"));

    /// <summary>The root's file system for the log: the image (erofs) or the initramfs (ramfs, tmpfs).</summary>
    public static string DescribeRoot()
    {
        try
        {
            return SystemCalls.FileSystemType("/") switch
            {
                Linux.EROFS_SUPER_MAGIC_V1 => "erofs",
                Linux.RAMFS_MAGIC => "ramfs",
                Linux.TMPFS_MAGIC => "tmpfs",
                var other => $"0x{other:x}",
            };
        }
        catch (IOException e)
        {
            return e.Message;
        }
    }

    internal static bool IsNeeded(string? stage, long rootFileSystemType) =>
        stage != StageValue && rootFileSystemType is Linux.RAMFS_MAGIC or Linux.TMPFS_MAGIC;

    /// <summary>Binds the root onto itself, enters it and execs /init again. Returns only by throwing.</summary>
    public void Run()
    {
        LogBinding(_logger);
        Directory.CreateDirectory(Staging);
        SystemCalls.Mount("/", Staging, null, Linux.MS_BIND, null);
        SystemCalls.Mount(null, Staging, null, Linux.MS_REMOUNT | Linux.MS_BIND | Linux.MS_NOSUID, null);

        // The next /init must find /dev/urandom from its first instruction: the .NET runtime opens
        // it once, early, and if it is missing then, cryptographic randomness (Guid.NewGuid) fails
        // for the life of the process. A mount under the staging bind moves with it.
        SystemCalls.Mount("devtmpfs", Staging + "/dev", "devtmpfs", Linux.MS_NOSUID, "mode=0755");
        Directory.SetCurrentDirectory(Staging);
        SystemCalls.Mount(".", "/", null, Linux.MS_MOVE, null);
        SystemCalls.ChangeRoot(".");
        Directory.SetCurrentDirectory("/");

        var environment = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Where(k => k != StageVariable)
            .Select(k => $"{k}={Environment.GetEnvironmentVariable(k)}")
            .Append($"{StageVariable}={StageValue}")
            .ToList();
        ProcessSpawner.Exec(["/init", .. Environment.GetCommandLineArgs().Skip(1)], environment);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "root is the initramfs: binding it onto itself so that pivot_root works, then /init again")]
    private static partial void LogBinding(ILogger logger);
}
