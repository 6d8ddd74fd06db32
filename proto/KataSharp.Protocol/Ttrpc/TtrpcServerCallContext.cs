using Grpc.Core;

namespace KataSharp.Protocol.Ttrpc;

/// <summary>The per-call context handed to generated service implementations.</summary>
internal sealed class TtrpcServerCallContext : ServerCallContext
{
    private readonly string _method;
    private readonly string _peer;
    private readonly DateTime _deadline;
    private readonly Metadata _requestHeaders;
    private readonly CancellationToken _cancellationToken;
    private readonly Metadata _responseTrailers = new();

    public TtrpcServerCallContext(string method, string peer, DateTime deadline, Metadata requestHeaders, CancellationToken cancellationToken)
    {
        _method = method;
        _peer = peer;
        _deadline = deadline;
        _requestHeaders = requestHeaders;
        _cancellationToken = cancellationToken;
    }

    protected override string MethodCore => _method;

    protected override string HostCore => string.Empty;

    protected override string PeerCore => _peer;

    protected override DateTime DeadlineCore => _deadline;

    protected override Metadata RequestHeadersCore => _requestHeaders;

    protected override CancellationToken CancellationTokenCore => _cancellationToken;

    protected override Metadata ResponseTrailersCore => _responseTrailers;

    protected override Status StatusCore { get; set; }

    protected override WriteOptions? WriteOptionsCore { get; set; }

    protected override AuthContext AuthContextCore => new(null, new Dictionary<string, List<AuthProperty>>());

    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) =>
        throw new NotSupportedException("ttrpc does not propagate contexts");

    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
}
