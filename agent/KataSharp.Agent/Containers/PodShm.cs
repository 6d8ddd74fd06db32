using System.Text.Json.Nodes;
using KataSharp.Native;

namespace KataSharp.Agent.Containers;

/// <summary>
/// The pod's /dev/shm, one tmpfs in the guest that every container of the pod binds, as CRI's own is one tmpfs per
/// pod on the node: what one container puts in POSIX shared memory the others see, and it outlives the container
/// that wrote it (a restarted container finds it again). The tmpfs is made from the sandbox container's /dev/shm
/// tmpfs (its size and mode, which the shim set from CRI's bind) in the agent's mount namespace, which every
/// container's namespace is copied from; a container joining the sandbox's IPC namespace gets a bind of it in place
/// of its own tmpfs. Only as the guest's init: a developer-mode agent leaves the host's mounts alone.
/// </summary>
internal sealed class PodShm
{
    private const string Destination = "/dev/shm";
    private const ulong Flags = Linux.MS_NOSUID | Linux.MS_NODEV | Linux.MS_NOEXEC;

    /// <summary>Mount flags, which are not tmpfs data.</summary>
    private static readonly string[] FlagOptions = ["nosuid", "nodev", "noexec", "ro", "rw", "suid", "dev", "exec"];

    private readonly string _path;
    private readonly bool _enabled;
    private readonly Lock _gate = new();
    private bool _mounted;

    public PodShm(string path, bool enabled)
    {
        _path = path;
        _enabled = enabled;
    }

    /// <summary>
    /// Points the /dev/shm tmpfs of a translated spec at the pod's: the sandbox container's makes the pod's tmpfs; a
    /// container that joins the sandbox's IPC namespace (<paramref name="sandboxInitPid"/>) binds it. Others keep theirs.
    /// </summary>
    /// <exception cref="IOException">The pod's tmpfs could not be mounted.</exception>
    public void Apply(JsonObject spec, bool sandboxContainer, int? sandboxInitPid)
    {
        if (!_enabled || spec["mounts"] is not JsonArray mounts)
        {
            return;
        }

        var index = mounts.ToList().FindIndex(m => m is JsonObject o && Str(o, "destination") == Destination && Str(o, "type") == "tmpfs");
        if (index < 0)
        {
            return;
        }

        var tmpfs = mounts[index]!.AsObject();
        var options = (tmpfs["options"] as JsonArray)?.Select(o => o?.GetValue<string>() ?? "").ToList() ?? [];
        lock (_gate)
        {
            if (sandboxContainer)
            {
                MountLocked(options);
            }
            else if (!_mounted || sandboxInitPid is not { } pid || !JoinsIpcOf(spec, pid))
            {
                return;
            }
        }

        mounts[index] = new JsonObject
        {
            ["destination"] = Destination,
            ["type"] = "bind",
            ["source"] = _path,
            ["options"] = new JsonArray("rbind", "nosuid", "nodev", "noexec", options.Contains("ro") ? "ro" : "rw"),
        };
    }

    /// <summary>Unmounts the pod's tmpfs (with the sandbox container); containers that still bind it keep their copy.</summary>
    public void Release()
    {
        lock (_gate)
        {
            if (_mounted)
            {
                SystemCalls.Unmount(_path);
                _mounted = false;
            }
        }
    }

    private void MountLocked(List<string> options)
    {
        if (_mounted)
        {
            return;
        }

        var data = string.Join(',', options.Where(o => !FlagOptions.Contains(o)));
        Directory.CreateDirectory(_path);
        SystemCalls.Mount("shm", _path, "tmpfs", Flags, data.Length > 0 ? data : null);
        _mounted = true;
    }

    private static bool JoinsIpcOf(JsonObject spec, int sandboxInitPid) =>
        spec["linux"]?["namespaces"] is JsonArray namespaces
        && namespaces.OfType<JsonObject>().Any(n => Str(n, "type") == "ipc" && Str(n, "path") == $"/proc/{sandboxInitPid}/ns/ipc");

    private static string? Str(JsonObject o, string name) =>
        o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
}
