using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Hypervisors.Qemu;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Hypervisors;

/// <summary>
/// The one place that knows every driver: <c>hypervisor.kind</c> (or a sandbox's state.json) names
/// the VMM, and this returns its driver. A new VMM is a folder under Hypervisors/ and a line here.
/// </summary>
public static class HypervisorFactory
{
    public static IHypervisorDriver Create(HypervisorConfig config, ILoggerFactory loggers) => config.Kind switch
    {
        HypervisorKind.Qemu => new QemuDriver(config, loggers),
        _ => throw new HypervisorException($"hypervisor.kind {config.Kind} has no driver"),
    };

    /// <summary>The name state.json records for <paramref name="kind"/>.</summary>
    public static string NameOf(HypervisorKind kind) =>
        ConfigKeys.HypervisorKinds.Single(k => k.Value == kind).Name;

    /// <exception cref="HypervisorException">state.json names a VMM this build does not know.</exception>
    public static HypervisorKind KindNamed(string name) =>
        ConfigKeys.HypervisorKinds.FirstOrDefault(k => k.Name == name) is { Name: not null } known
            ? known.Value
            : throw new HypervisorException($"unknown hypervisor '{name}'");
}
