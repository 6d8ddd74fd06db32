using KataSharp.Protocol.Agent.V1;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Shim.TaskService;

/// <summary>A process in the guest as the shim drives it: the seam between task state and the sandbox.</summary>
internal interface IGuestProcess
{
    string ContainerId { get; }

    string ExecId { get; }

    /// <exception cref="SandboxException">The agent or the VM failed.</exception>
    Task<ProcessExitInfo> WaitAsync(CancellationToken cancellationToken);

    Task SignalAsync(int signal, bool all, CancellationToken cancellationToken);

    Task ResizeAsync(uint rows, uint columns, CancellationToken cancellationToken);

    Task CloseStdinAsync(CancellationToken cancellationToken);

    Task PumpOutputAsync(OutputStream stream, Stream destination, CancellationToken cancellationToken);

    Task ForwardStdinAsync(Stream source, CancellationToken cancellationToken);
}
