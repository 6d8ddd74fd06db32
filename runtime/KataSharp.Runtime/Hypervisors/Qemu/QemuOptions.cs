namespace KataSharp.Runtime.Hypervisors.Qemu;

/// <summary>
/// What only QEMU is told: the machine type and the TCG translation cache. The control socket of
/// <see cref="VmmFiles"/> speaks QMP.
/// </summary>
public sealed record QemuOptions
{
    /// <summary>microvm (virtio-mmio, no PCI) or q35.</summary>
    public string Machine { get; init; } = "microvm";

    /// <summary>TCG translation-block cache size; see <c>HypervisorConfig.TbSizeMiB</c> for how it was sized.</summary>
    public int TbSizeMiB { get; init; } = 64;
}
