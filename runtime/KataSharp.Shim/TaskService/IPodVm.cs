using KataSharp.Runtime.Sandbox;

namespace KataSharp.Shim.TaskService;

/// <summary>The pod's VM as the shim drives it: the sandbox seam that tests fake.</summary>
internal interface IPodVm : IAsyncDisposable
{
    string Id { get; }

    /// <summary>The task pid containerd and CRI see for every container.</summary>
    uint Pid { get; }

    /// <summary>The vCPUs and memory it booted with, which it keeps: limits past them are refused (<see cref="ResourceFit"/>).</summary>
    VmSize Size { get; }

    /// <summary>Completes when the VM is gone, with a description of how it ended.</summary>
    Task<string> Exited { get; }

    /// <summary>The agent in the VM, for the calls that are not about one process.</summary>
    IPodAgent Agent { get; }

    /// <exception cref="Protocol.Errors.KataSharpException">The guest refused or failed.</exception>
    Task<IGuestContainer> CreateContainerAsync(ContainerOptions options, CancellationToken cancellationToken);
}
