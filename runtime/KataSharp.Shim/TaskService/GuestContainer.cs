using System.Text.Json.Nodes;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Shim.TaskService;

/// <summary>A sandbox <see cref="Container"/> behind the shim's seam.</summary>
internal sealed class GuestContainer : IGuestContainer
{
    private readonly Container _container;

    public GuestContainer(Container container)
    {
        _container = container;
        Init = new GuestProcess(container.Init);
    }

    public IGuestProcess Init { get; }

    public Task StartAsync(CancellationToken cancellationToken) => SandboxCall.Run(() => _container.StartAsync(cancellationToken));

    public async Task<IGuestProcess> ExecAsync(string execId, JsonObject process, bool stdin, bool terminal, CancellationToken cancellationToken) =>
        new GuestProcess(await SandboxCall.Run(() => _container.ExecAsync(execId, process, stdin, terminal, cancellationToken)).ConfigureAwait(false));

    public Task RemoveAsync(CancellationToken cancellationToken) => SandboxCall.Run(() => _container.RemoveAsync(cancellationToken));
}
