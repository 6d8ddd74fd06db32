using KataSharp.Runtime.Sandbox;

namespace KataSharp.Shim.TaskService;

/// <summary>The pod's VM as the shim drives it: the sandbox seam that tests fake.</summary>
internal interface IPodVm : IAsyncDisposable
{
    string Id { get; }

    /// <summary>The task pid containerd and CRI see for every container.</summary>
    uint Pid { get; }

    /// <summary>The vCPUs and memory it has now, and the RAM it booted with: the most it can grow to (<see cref="ResourceFit"/>).</summary>
    VmSize Size { get; }

    /// <summary>Gives the guest <paramref name="memoryMiB"/> of its boot RAM (no-op when it has that already); returns once the guest has it.</summary>
    /// <exception cref="Protocol.Errors.KataSharpException">The VM could not grow.</exception>
    Task GrowMemoryAsync(int memoryMiB, CancellationToken cancellationToken);

    /// <summary>Brings <paramref name="vcpus"/> of its boot vCPUs online in the guest (no-op when it has that many already).</summary>
    /// <exception cref="Protocol.Errors.KataSharpException">The guest could not online them.</exception>
    Task GrowVcpusAsync(int vcpus, CancellationToken cancellationToken);

    /// <summary>Completes when the VM is gone, with a description of how it ended.</summary>
    Task<string> Exited { get; }

    /// <summary>The agent in the VM, for the calls that are not about one process.</summary>
    IPodAgent Agent { get; }

    /// <summary>What the shim's metrics endpoint reads of this VM; null for a VM that has none (a test's fake).</summary>
    Telemetry.PodMetricsSource? Metrics => null;

    /// <exception cref="Protocol.Errors.KataSharpException">The guest refused or failed.</exception>
    Task<IGuestContainer> CreateContainerAsync(ContainerOptions options, CancellationToken cancellationToken);
}
