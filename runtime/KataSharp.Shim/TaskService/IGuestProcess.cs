using KataSharp.Runtime.Sandbox;
using KataSharp.Runtime.Stdio;

namespace KataSharp.Shim.TaskService;

/// <summary>A process in the guest as the shim drives it: the seam between task state and the sandbox.</summary>
internal interface IGuestProcess : IProcessStdio
{
    /// <exception cref="SandboxException">The agent or the VM failed.</exception>
    Task<ProcessExitInfo> WaitAsync(CancellationToken cancellationToken);

    Task SignalAsync(int signal, bool all, CancellationToken cancellationToken);

    Task ResizeAsync(uint rows, uint columns, CancellationToken cancellationToken);
}
