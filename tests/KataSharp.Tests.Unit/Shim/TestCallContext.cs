using Grpc.Core;

namespace KataSharp.Tests.Unit.Shim;

/// <summary>The call context a handler gets, for calling the Task service directly.</summary>
internal sealed class TestCallContext : ServerCallContext
{
    private readonly CancellationToken _cancellationToken;

    public TestCallContext(CancellationToken cancellationToken = default) => _cancellationToken = cancellationToken;

    protected override string MethodCore => "/containerd.task.v2.Task/Test";
    protected override string HostCore => "localhost";
    protected override string PeerCore => "test";
    protected override DateTime DeadlineCore => DateTime.MaxValue;
    protected override Metadata RequestHeadersCore { get; } = [];
    protected override CancellationToken CancellationTokenCore => _cancellationToken;
    protected override Metadata ResponseTrailersCore { get; } = [];
    protected override Status StatusCore { get; set; }
    protected override WriteOptions? WriteOptionsCore { get; set; }
    protected override AuthContext AuthContextCore => new(null, []);

    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();

    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
}
