using System.Collections.Concurrent;
using KataSharp.Protocol.Errors;
using KataSharp.Shim.Lifecycle;

namespace KataSharp.Shim.TaskService;

/// <summary>A container this shim serves: its bundle, its init process and its execs.</summary>
internal sealed class ShimContainer
{
    public ShimContainer(string id, string bundle, BundleSpec spec, ShimProcess init, bool ownsVm)
    {
        Id = id;
        Bundle = bundle;
        Spec = spec;
        Init = init;
        OwnsVm = ownsVm;
    }

    public string Id { get; }

    public string Bundle { get; }

    public BundleSpec Spec { get; }

    public ShimProcess Init { get; }

    /// <summary>The pod's sandbox container (or a lone ctr container): deleting it ends the VM.</summary>
    public bool OwnsVm { get; }

    public string RootfsDirectory => Path.Combine(Bundle, "rootfs");

    public bool RootfsMounted { get; set; }

    public IGuestContainer? Guest { get; set; }

    public ConcurrentDictionary<string, ShimProcess> Execs { get; } = new();

    /// <summary>Every process, the execs before init: init's exit is the last one containerd sees.</summary>
    public IEnumerable<ShimProcess> Processes => Execs.Values.Append(Init);

    /// <summary>The init process, or the named exec.</summary>
    /// <exception cref="KataSharpException">NotFound for an unknown exec id.</exception>
    public ShimProcess Process(string execId) =>
        execId.Length == 0 ? Init
        : Execs.TryGetValue(execId, out var exec) ? exec
        : throw Errdefs.NotFound($"exec {execId} of container {Id} not found");
}
