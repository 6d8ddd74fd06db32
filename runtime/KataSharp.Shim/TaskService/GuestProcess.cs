using KataSharp.Protocol.Agent.V1;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Shim.TaskService;

/// <summary>A sandbox <see cref="ContainerProcess"/> behind the shim's seam, its failures in the shared error vocabulary.</summary>
internal sealed class GuestProcess : IGuestProcess
{
    private readonly ContainerProcess _process;

    public GuestProcess(ContainerProcess process) => _process = process;

    public string ContainerId => _process.ContainerId;

    public string ExecId => _process.ExecId;

    public Task<ProcessExitInfo> WaitAsync(CancellationToken cancellationToken) => SandboxCall.Run(() => _process.WaitAsync(cancellationToken));

    public Task SignalAsync(int signal, bool all, CancellationToken cancellationToken) => SandboxCall.Run(() => _process.SignalAsync(signal, all, cancellationToken));

    public Task ResizeAsync(uint rows, uint columns, CancellationToken cancellationToken) => SandboxCall.Run(() => _process.ResizeAsync(rows, columns, cancellationToken));

    public Task CloseStdinAsync(CancellationToken cancellationToken) => SandboxCall.Run(() => _process.CloseStdinAsync(cancellationToken));

    public Task PumpOutputAsync(OutputStream stream, Stream destination, CancellationToken cancellationToken) =>
        SandboxCall.Run(() => _process.PumpOutputAsync(stream, destination, null, cancellationToken));

    public Task ForwardStdinAsync(Stream source, CancellationToken cancellationToken) => SandboxCall.Run(() => _process.ForwardStdinAsync(source, cancellationToken));
}
