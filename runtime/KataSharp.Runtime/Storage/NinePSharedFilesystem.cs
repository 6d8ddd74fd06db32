using KataSharp.Runtime.Hypervisors;

namespace KataSharp.Runtime.Storage;

/// <summary>9p: the VMM serves the share itself, so there is no helper process to own.</summary>
public sealed class NinePSharedFilesystem(SharedFsSpec spec) : ISharedFilesystem
{
    public SharedFsSpec Spec { get; } = spec;

    public string GuestKind => "9p";

    public ProcessIdentity? Helper => null;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
