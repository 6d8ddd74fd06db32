using KataSharp.Native;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Init;

/// <summary>The file systems an init must mount before anything else works, and the cgroup2 set-up.</summary>
internal sealed partial class SystemMounts
{
    private static readonly string[] Controllers = ["cpu", "memory", "pids", "io", "cpuset", "hugetlb"];

    private readonly ILogger _logger;

    public SystemMounts(ILogger<SystemMounts> logger) => _logger = logger;

    private const ulong Secure = Linux.MS_NOSUID | Linux.MS_NODEV | Linux.MS_NOEXEC;

    /// <summary>What the agent's channels need before it can listen: /proc, /sys (virtio-ports) and /dev.</summary>
    public void MountForChannels()
    {
        Mount("proc", "/proc", "proc", Secure, null);
        Mount("sysfs", "/sys", "sysfs", Secure, null);
        if (!File.Exists("/dev/null"))
        {
            // Normally already mounted before the root was bound (see PivotableRoot).
            Mount("devtmpfs", "/dev", "devtmpfs", Linux.MS_NOSUID, "mode=0755");
        }
    }

    /// <summary>What containers need, mounted while the agent already listens (the first requests need none of it).</summary>
    public void MountForContainers()
    {
        const ulong secure = Secure;
        Mount("devpts", "/dev/pts", "devpts", Linux.MS_NOSUID | Linux.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
        Mount("shm", "/dev/shm", "tmpfs", Linux.MS_NOSUID | Linux.MS_NODEV, "mode=1777");
        Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", secure | Linux.MS_RELATIME, "nsdelegate");
        Mount("tmpfs", "/run", "tmpfs", Linux.MS_NOSUID | Linux.MS_NODEV, "mode=0755");
        Mount("tmpfs", "/tmp", "tmpfs", Linux.MS_NOSUID | Linux.MS_NODEV, "mode=1777");
        LinkDevices();
        EnableControllers();
    }

    private void Mount(string source, string target, string type, ulong flags, string? data)
    {
        try
        {
            Directory.CreateDirectory(target);
            SystemCalls.Mount(source, target, type, flags, data);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogMountFailed(_logger, type, target, e.Message);
        }
    }

    /// <summary>The links udev would make: a private devpts needs /dev/ptmx to point into it.</summary>
    private void LinkDevices()
    {
        (string Link, string Target)[] links =
        [
            ("/dev/ptmx", "pts/ptmx"),
            ("/dev/fd", "/proc/self/fd"),
            ("/dev/stdin", "/proc/self/fd/0"),
            ("/dev/stdout", "/proc/self/fd/1"),
            ("/dev/stderr", "/proc/self/fd/2"),
        ];
        foreach (var (link, target) in links)
        {
            try
            {
                if (File.Exists(link) || Directory.Exists(link))
                {
                    if (link != "/dev/ptmx")
                    {
                        continue;
                    }

                    File.Delete(link);
                }

                File.CreateSymbolicLink(link, target);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogMountFailed(_logger, "symlink", link, e.Message);
            }
        }
    }

    /// <summary>Lets crun give containers cpu, memory, pids and io limits: enable them for children of the root.</summary>
    private void EnableControllers()
    {
        const string root = "/sys/fs/cgroup";
        try
        {
            var available = File.ReadAllText(Path.Combine(root, "cgroup.controllers")).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            foreach (var controller in Controllers.Where(available.Contains))
            {
                try
                {
                    File.WriteAllText(Path.Combine(root, "cgroup.subtree_control"), "+" + controller);
                }
                catch (IOException e)
                {
                    LogControllerFailed(_logger, controller, e.Message);
                }
            }

            LogControllers(_logger, File.ReadAllText(Path.Combine(root, "cgroup.subtree_control")).Trim());
        }
        catch (IOException e)
        {
            LogControllerFailed(_logger, "(all)", e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "mount {Type} on {Target} failed: {Reason}")]
    private static partial void LogMountFailed(ILogger logger, string type, string target, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "cgroup controller {Controller} not enabled: {Reason}")]
    private static partial void LogControllerFailed(ILogger logger, string controller, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "cgroup2 controllers for containers: {Controllers}")]
    private static partial void LogControllers(ILogger logger, string controllers);
}
