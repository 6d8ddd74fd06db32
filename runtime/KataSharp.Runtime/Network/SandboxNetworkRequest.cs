namespace KataSharp.Runtime.Network;

public enum SandboxNetworkMode
{
    /// <summary>No NIC at all: the guest has only lo.</summary>
    None,

    /// <summary>A namespace CNI (or anyone) prepared: its endpoints are mirrored into the VM, and QEMU runs in it.</summary>
    PodNamespace,

    /// <summary>A private namespace, veth and /30 of our own, with NAT to the outside where the host allows it (<c>katasharp run</c>).</summary>
    Nat,
}

/// <summary>How a sandbox gets its network.</summary>
public sealed record SandboxNetworkRequest(SandboxNetworkMode Mode, string? NetnsPath = null)
{
    public static SandboxNetworkRequest None { get; } = new(SandboxNetworkMode.None);

    public static SandboxNetworkRequest Nat { get; } = new(SandboxNetworkMode.Nat);

    /// <param name="netnsPath">e.g. /var/run/netns/cni-..., or /proc/PID/ns/net.</param>
    public static SandboxNetworkRequest PodNamespace(string netnsPath) => new(SandboxNetworkMode.PodNamespace, netnsPath);
}

/// <summary>A sandbox's network, set up on the host side and waiting for the VM.</summary>
/// <param name="NetnsPath">Where QEMU must start (null: this process's namespace).</param>
/// <param name="Nics">The taps for QEMU, with the MACs the guest NICs get.</param>
/// <param name="Guest">What the agent must configure once it answers.</param>
/// <param name="GuestAddress">The guest's address in a <see cref="SandboxNetworkMode.Nat"/> network ("10.213.0.2/30").</param>
/// <param name="Nat">Whether the guest can reach beyond the host (NAT); false when iptables was missing or refused.</param>
public sealed record SandboxNetworkAttachment(
    string? NetnsPath,
    IReadOnlyList<Hypervisors.NetworkInterfaceSpec> Nics,
    GuestNetworkConfig Guest,
    string? GuestAddress = null,
    bool Nat = false)
{
    public static SandboxNetworkAttachment None { get; } = new(null, [], GuestNetworkConfig.Empty);

    /// <summary>
    /// The host-side steps QEMU does not need at start (taps up and joined to their endpoints), which overlap the
    /// boot; awaited before the guest configures its NICs. Its failure is the caller's to undo, as any other step's.
    /// </summary>
    public Task Completion { get; init; } = Task.CompletedTask;
}
