using System.Text;
using System.Text.RegularExpressions;
using KataSharp.Runtime.Hypervisors;

namespace KataSharp.Runtime.Sandbox;

/// <summary>The files of one sandbox under <c>&lt;stateDir&gt;/sandboxes/&lt;id&gt;/</c>.</summary>
public sealed partial record SandboxPaths(string Directory)
{
    /// <summary>Unix socket paths are limited to 108 bytes including the terminating NUL.</summary>
    private const int MaxSocketPath = 107;

    public static SandboxPaths For(string stateDir, string sandboxId) =>
        new(Path.Combine(Path.GetFullPath(stateDir), "sandboxes", sandboxId));

    public static string SandboxesDirectory(string stateDir) => Path.Combine(Path.GetFullPath(stateDir), "sandboxes");

    /// <summary>Exported to the guest (9p/virtio-fs); container rootfs and volumes are bind-mounted under it.</summary>
    public string Shared => Path.Combine(Directory, "shared");

    /// <summary>The host's private tree of the share's mounts (0700, never exported); <see cref="Shared"/> is a read-only view of it.</summary>
    public string SharedMounts => Path.Combine(Directory, "mounts");

    /// <summary>Unpacked image root filesystems, outside the share; each is bind-mounted into it.</summary>
    public string Rootfs(string containerId) => Path.Combine(Directory, "rootfs", containerId);

    /// <summary>The VMM's control socket (QEMU's QMP); the names do not depend on which VMM runs.</summary>
    public string VmmSocket => Path.Combine(Directory, "vmm.sock");

    /// <summary>The VMM's own stdout and stderr.</summary>
    public string VmmLog => Path.Combine(Directory, "vmm.log");

    public string VmmPidFile => Path.Combine(Directory, "vmm.pid");

    public VmmFiles Vmm => new(Directory, VmmSocket, VmmPidFile, VmmLog);

    public string AgentSocket => Path.Combine(Directory, "agent.sock");

    /// <summary>The shim's Prometheus metrics (HTTP), which <c>katasharp monitor</c> scrapes.</summary>
    public string MonitorSocket => Path.Combine(Directory, MonitorSocketName);

    public const string MonitorSocketName = "monitor.sock";
    public string VirtiofsdSocket => Path.Combine(Directory, "virtiofsd.sock");
    public string ConsoleLog => Path.Combine(Directory, "console.log");
    public string VirtiofsdLog => Path.Combine(Directory, "virtiofsd.log");
    public string StateFile => Path.Combine(Directory, "state.json");

    /// <summary>A copy of a kept container's output, for <c>katasharp logs</c>.</summary>
    public string OutputLog(string containerId) => Path.Combine(Directory, $"{containerId}.output.log");

    /// <exception cref="SandboxException">The state directory is so deep that a socket path would not fit.</exception>
    public void ValidateSocketPaths()
    {
        foreach (var socket in new[] { VmmSocket, AgentSocket, VirtiofsdSocket })
        {
            if (Encoding.UTF8.GetByteCount(socket) > MaxSocketPath)
            {
                throw new SandboxException(SandboxErrorCode.InvalidArgument, $"socket path {socket} is longer than {MaxSocketPath} bytes; use a shorter runtime.stateDir");
            }
        }
    }

    /// <exception cref="SandboxException">Not a valid sandbox or container id.</exception>
    public static void ValidateId(string id, string what = "sandbox")
    {
        if (!IdPattern().IsMatch(id))
        {
            throw new SandboxException(SandboxErrorCode.InvalidArgument, $"invalid {what} id '{id}': use 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex IdPattern();
}
