namespace KataSharp.Runtime.Hypervisors.Qemu;

/// <summary>
/// What only QEMU is told: the machine type and the TCG translation cache. The control socket of
/// <see cref="VmmFiles"/> speaks QMP.
/// </summary>
public sealed record QemuOptions
{
    /// <summary>microvm (virtio-mmio, no PCI) or q35.</summary>
    public string Machine { get; init; } = "microvm";

    /// <summary>TCG translation-block cache size; QEMU's default (1 GiB) is wasteful for a small guest.</summary>
    public int TbSizeMiB { get; init; } = 64;
}
