namespace KataSharp.Shim.HostCgroup;

/// <summary>
/// The transient scope systemd's cgroup driver puts the pod's VM in, as runc's systemd driver starts it for a pause
/// container: the shim's pid in the pod's slice, accounting on, and the sub-tree delegated (QEMU's helpers live below it).
/// </summary>
internal sealed record TransientScope(string Unit, string Slice, uint Pid)
{
    public static TransientScope For(PodCgroupPath.Systemd path, int pid) => new(path.Unit, path.Slice, (uint)pid);

    /// <summary>The unit's properties for StartTransientUnit, each a name with a string, bool or uint[] value.</summary>
    public IReadOnlyList<KeyValuePair<string, object>> Properties =>
    [
        new("Description", $"KataSharp pod VM {Unit}"),
        new("Slice", Slice),
        new("PIDs", new[] { Pid }),
        new("Delegate", true),
        // Starting or stopping the pod's scope must not wait for, or pull in, the rest of the system.
        new("DefaultDependencies", false),
        new("MemoryAccounting", true),
        new("CPUAccounting", true),
        new("TasksAccounting", true),
    ];
}
