namespace KataSharp.Tests.EndToEnd.Behaviour;

/// <summary>
/// The checks katasharp may fail because a VM cannot do them, with why. Exactly these are the README's
/// "Differences from runc" (<see cref="VmLimitationsTests"/> keeps the two equal). Anything else katasharp fails
/// while runc passes fails the suite, and a check listed here that katasharp passes fails it too: the list
/// stays what the product really refuses.
/// </summary>
public static class VmLimitations
{
    public static IReadOnlyDictionary<string, string> All { get; } = new Dictionary<string, string>
    {
        ["security/host-network"] = "the pod's network is the VM's; the host's network namespace is on the other side of the VM boundary",
        ["security/host-pid"] = "the guest kernel has its own process table; the host's processes cannot be seen from inside the VM",
        ["security/host-ipc"] = "the guest kernel has its own IPC namespace; the host's shared memory and semaphores cannot be reached",
        // Owned by the helper "mounts".
        ["mounts/propagation-bidirectional"] = "a mount made inside the VM exists only in the guest kernel and cannot reach the host; only HostToContainer (rslave) crosses the boundary",
    };
}
