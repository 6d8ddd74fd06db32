using KataSharp.Native;
using KataSharp.Native.Processes;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Init;

/// <summary>
/// First start as PID 1: the root is the initramfs, which cannot be pivot_root'ed (crun needs
/// that), so copy it into a tmpfs and switch_root into it, running this same /init again.
/// </summary>
internal sealed partial class SwitchRoot
{
    public const string Marker = "/.katasharp-switched";
    private const string NewRoot = "/newroot";
    private const string Busybox = "/bin/busybox";

    private static readonly HashSet<string> NotCopied = new(StringComparer.Ordinal) { "newroot", "proc", "sys", "dev" };

    private readonly ILogger _logger;

    public SwitchRoot(ILogger<SwitchRoot> logger) => _logger = logger;

    /// <summary>True on the first start, from the initramfs.</summary>
    public static bool IsNeeded() => !File.Exists(Marker);

    /// <summary>Copies the root and execs switch_root. Returns only by throwing.</summary>
    public void Run()
    {
        LogSwitching(_logger);
        Directory.CreateDirectory(NewRoot);
        SystemCalls.Mount("tmpfs", NewRoot, "tmpfs", Linux.MS_NOSUID, "mode=0755");
        foreach (var entry in Directory.EnumerateFileSystemEntries("/"))
        {
            var name = Path.GetFileName(entry);
            if (NotCopied.Contains(name))
            {
                continue;
            }

            // busybox cp -a keeps modes, owners, links and device nodes.
            var pid = ProcessSpawner.Spawn(new SpawnRequest([Busybox, "cp", "-a", entry, NewRoot + "/"], 0, 1, 2));
            var status = SystemCalls.WaitChild(pid);
            if (status != 0)
            {
                throw new IOException($"copying {entry} into {NewRoot} failed (wait status {status})");
            }
        }

        foreach (var dir in NotCopied.Where(d => d != "newroot"))
        {
            Directory.CreateDirectory(Path.Combine(NewRoot, dir));
        }

        // The next /init must find /dev/urandom from its first instruction: the .NET runtime opens
        // it once, early, and if it is missing then, cryptographic randomness (Guid.NewGuid) fails
        // for the life of the process. A mount under /newroot moves with it in switch_root.
        SystemCalls.Mount("devtmpfs", NewRoot + "/dev", "devtmpfs", Linux.MS_NOSUID, "mode=0755");

        File.WriteAllText(NewRoot + Marker, string.Empty);
        var environment = Environment.GetEnvironmentVariables().Keys.Cast<string>()
            .Select(k => $"{k}={Environment.GetEnvironmentVariable(k)}").ToList();
        LogExec(_logger);
        ProcessSpawner.Exec([Busybox, "switch_root", NewRoot, "/init"], environment);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "root is the initramfs: copying it into a tmpfs at /newroot")]
    private static partial void LogSwitching(ILogger logger);

    [LoggerMessage(Level = LogLevel.Information, Message = "switch_root /newroot /init")]
    private static partial void LogExec(ILogger logger);
}
