using KataSharp.Runtime.Configuration;

namespace KataSharp.Runtime.Hypervisors;

/// <summary>The accelerator to use, and the one-line reason when it is not what the user might expect.</summary>
public sealed record AcceleratorChoice(Accelerator Accelerator, string? Warning);

/// <summary>
/// Picks KVM or TCG (design decision 7). <c>auto</c> uses KVM only where it can boot a stock
/// kernel: /dev/kvm usable and not PVM (a PVM host rejects the guest's MSR writes).
/// </summary>
public static class AcceleratorSelector
{
    public const string KvmDevice = "/dev/kvm";
    public const string PvmModule = "/sys/module/kvm_pvm";

    /// <exception cref="HypervisorException"><c>kvm</c> was asked for but /dev/kvm cannot be used.</exception>
    public static AcceleratorChoice Choose(AccelMode mode, IHostSystem host)
    {
        switch (mode)
        {
            case AccelMode.Tcg:
                return new AcceleratorChoice(Accelerator.Tcg, null);
            case AccelMode.Kvm:
                if (!host.CanOpenReadWrite(KvmDevice))
                {
                    throw new HypervisorException($"hypervisor.accel is kvm, but {KvmDevice} is {(host.FileExists(KvmDevice) ? "not usable (permission?)" : "missing")}; use accel: auto or tcg");
                }

                return new AcceleratorChoice(Accelerator.Kvm, null);
            default:
                if (host.DirectoryExists(PvmModule))
                {
                    return new AcceleratorChoice(Accelerator.Tcg, $"KVM is PVM on this host ({PvmModule} exists) and cannot boot a stock guest kernel; using TCG emulation (slower)");
                }

                if (!host.FileExists(KvmDevice))
                {
                    return new AcceleratorChoice(Accelerator.Tcg, $"{KvmDevice} does not exist; using TCG emulation (slower)");
                }

                if (!host.CanOpenReadWrite(KvmDevice))
                {
                    return new AcceleratorChoice(Accelerator.Tcg, $"{KvmDevice} is not usable by this user; using TCG emulation (slower)");
                }

                return new AcceleratorChoice(Accelerator.Kvm, null);
        }
    }
}
