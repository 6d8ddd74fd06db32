namespace KataSharp.Runtime.Hypervisors;

/// <summary>
/// One VMM (QEMU, later Cloud Hypervisor): what it can offer a sandbox, and how to start or take over
/// one of its VMs. <see cref="HypervisorFactory"/> picks the driver from <c>hypervisor.kind</c>.
/// </summary>
public interface IHypervisorDriver
{
    /// <summary>The name <c>hypervisor.kind</c> and state.json use, e.g. "qemu".</summary>
    string Name { get; }

    /// <summary>The host-guest channels this VMM can give the agent (design decision 6).</summary>
    IReadOnlySet<AgentChannelKind> AgentChannels { get; }

    /// <summary>A VM that <see cref="IHypervisor.StartAsync"/> will boot.</summary>
    IHypervisor Create(VmSpec spec);

    /// <summary>Takes over a VM another process started (a kept sandbox), to watch or stop it.</summary>
    IHypervisor Attach(RunningVm vm);
}
