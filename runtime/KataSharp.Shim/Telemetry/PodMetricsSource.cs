using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Shim.Telemetry;

/// <summary>What the pod's VM offers its metrics: where to serve them, the VMM's pid, how long the boot took, the guest's memory.</summary>
internal sealed record PodMetricsSource(
    string SocketPath,
    int? VmmPid,
    TimeSpan? BootTime,
    Func<CancellationToken, Task<GuestMemoryResponse>> GuestMemoryAsync);
