using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Storage;

/// <summary>
/// The sandbox's <c>shared/</c> directory, exported to the guest over 9p or virtio-fs (design decision 9).
/// Container rootfs and bind volumes are bind-mounted under <c>shared/&lt;cid&gt;/</c>, so that the
/// guest can reach them and nothing else. Teardown finds the mounts from /proc/self/mountinfo
/// rather than from memory, so it also cleans up after a process that died (<c>katasharp rm</c>).
/// </summary>
public sealed partial class SharedDirectory
{
    private readonly ILogger _logger;

    public SharedDirectory(string path, ILogger logger)
    {
        Path = System.IO.Path.GetFullPath(path);
        _logger = logger;
    }

    public string Path { get; }

    public void Create() => Directory.CreateDirectory(Path);

    /// <summary>Where a container's rootfs appears, relative to the share (what CreateContainerRequest.rootfs carries).</summary>
    public static string RootfsRelativePath(string containerId) => $"{containerId}/rootfs";

    /// <summary>Bind-mounts a container's root filesystem at <c>shared/&lt;cid&gt;/rootfs</c> and returns the relative path.</summary>
    public string ShareRootfs(string containerId, string rootfsDirectory, bool readOnly = false)
    {
        ValidateId(containerId);
        if (!Directory.Exists(rootfsDirectory))
        {
            throw new DirectoryNotFoundException($"container rootfs {rootfsDirectory} does not exist");
        }

        var relative = RootfsRelativePath(containerId);
        Mount(rootfsDirectory, relative, readOnly, isDirectory: true);
        return relative;
    }

    /// <summary>
    /// Shares every bind mount of an OCI spec whose source is an absolute host path: the source is
    /// bind-mounted at <c>shared/&lt;cid&gt;/mounts/&lt;n&gt;</c> (read-only when the mount says "ro") and
    /// the spec's source is rewritten to that relative path, which the agent resolves under its share.
    /// </summary>
    public void ShareSpecMounts(string containerId, JsonObject spec)
    {
        ValidateId(containerId);
        if (spec["mounts"] is not JsonArray mounts)
        {
            return;
        }

        var n = 0;
        foreach (var mount in mounts.OfType<JsonObject>())
        {
            var options = (mount["options"] as JsonArray)?.Select(o => o?.GetValue<string>() ?? "").ToList() ?? [];
            var isBind = mount["type"]?.GetValue<string>() == "bind" || options.Contains("bind") || options.Contains("rbind");
            if (!isBind || mount["source"]?.GetValue<string>() is not { } source || !source.StartsWith('/'))
            {
                continue;
            }

            if (!File.Exists(source) && !Directory.Exists(source))
            {
                throw new FileNotFoundException($"bind mount source {source} does not exist", source);
            }

            var relative = $"{containerId}/mounts/{n.ToString(CultureInfo.InvariantCulture)}";
            n++;
            Mount(source, relative, options.Contains("ro"), Directory.Exists(source));
            mount["source"] = relative;
        }
    }

    /// <summary>Unmounts everything under <c>shared/&lt;cid&gt;</c> and removes it.</summary>
    public void RemoveContainer(string containerId)
    {
        ValidateId(containerId);
        MountedDirectory.UnmountAndDelete(System.IO.Path.Combine(Path, containerId), _logger);
    }

    /// <summary>Unmounts everything under the share and deletes it. Safe to call more than once.</summary>
    public void Destroy() => MountedDirectory.UnmountAndDelete(Path, _logger);

    private void Mount(string source, string relativeTarget, bool readOnly, bool isDirectory)
    {
        var target = System.IO.Path.Combine(Path, relativeTarget);
        if (isDirectory)
        {
            Directory.CreateDirectory(target);
        }
        else
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            using (File.Create(target))
            {
                // A file bind mount needs a file to mount over.
            }
        }

        BindMounts.Bind(source, target, readOnly);
        LogMounted(_logger, source, target, readOnly);
    }

    private static void ValidateId(string containerId)
    {
        if (containerId.Length == 0 || containerId is "." or ".." || containerId.Contains('/', StringComparison.Ordinal) || containerId.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"invalid container id '{containerId}'", nameof(containerId));
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "bind-mounted {Source} at {Target} (read-only: {ReadOnly})")]
    private static partial void LogMounted(ILogger logger, string source, string target, bool readOnly);

}
