using System.Text.Json.Nodes;

namespace KataSharp.Shim.TaskService;

/// <summary>A container in the guest as the shim drives it.</summary>
internal interface IGuestContainer
{
    IGuestProcess Init { get; }

    Task StartAsync(CancellationToken cancellationToken);

    Task<IGuestProcess> ExecAsync(string execId, JsonObject process, bool stdin, bool terminal, CancellationToken cancellationToken);

    Task RemoveAsync(CancellationToken cancellationToken);
}
