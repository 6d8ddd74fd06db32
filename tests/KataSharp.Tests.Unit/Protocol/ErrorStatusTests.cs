using System.Net.Sockets;
using Grpc.Core;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Errors;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Runtime.Agent;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Tests.Unit.Protocol;

/// <summary>The one error vocabulary: its gRPC mapping both ways, over the ttrpc server, and back in the agent client.</summary>
public sealed class ErrorStatusTests
{
    public static TheoryData<ErrorKind> Kinds => new(Enum.GetValues<ErrorKind>());

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryKindSurvivesTheTripThroughAStatus(ErrorKind kind)
    {
        var error = new KataSharpException(kind, "why");

        Assert.Equal(kind, ErrorStatus.ToKind(error.StatusCode));
        Assert.Equal(kind, ErrorStatus.FromRpc(new RpcException(error.Status)).Kind);
        Assert.Equal("why", error.Status.Detail);
    }

    [Theory]
    [InlineData(ErrorKind.InvalidArgument, StatusCode.InvalidArgument)]
    [InlineData(ErrorKind.NotFound, StatusCode.NotFound)]
    [InlineData(ErrorKind.AlreadyExists, StatusCode.AlreadyExists)]
    [InlineData(ErrorKind.FailedPrecondition, StatusCode.FailedPrecondition)]
    [InlineData(ErrorKind.NotImplemented, StatusCode.Unimplemented)]
    [InlineData(ErrorKind.Internal, StatusCode.Internal)]
    [InlineData(ErrorKind.Unknown, StatusCode.Unknown)]
    public void KindsAreTheCodesContainerdBranchesOn(ErrorKind kind, StatusCode code) =>
        Assert.Equal(code, ErrorStatus.ToStatusCode(kind));

    public static TheoryData<Exception, StatusCode> DotNetExceptions => new()
    {
        { new ArgumentException("bad id"), StatusCode.InvalidArgument },
        { new ArgumentOutOfRangeException("size"), StatusCode.InvalidArgument },
        { new KeyNotFoundException("no such container"), StatusCode.NotFound },
        { new FileNotFoundException("no such file"), StatusCode.NotFound },
        { new NotSupportedException("no checkpoints"), StatusCode.Unimplemented },
        { new TimeoutException("too slow"), StatusCode.DeadlineExceeded },
        { new OperationCanceledException(), StatusCode.Cancelled },
        // A handler's broken invariant is its own bug, never the caller's FailedPrecondition.
        { new InvalidOperationException("collection was modified"), StatusCode.Internal },
        { new ObjectDisposedException("buffer"), StatusCode.Internal },
        { new NullReferenceException(), StatusCode.Internal },
        { new Exception("boom"), StatusCode.Unknown },
        { Errdefs.FailedPrecondition("still running"), StatusCode.FailedPrecondition },
        { new RpcException(new Status(StatusCode.AlreadyExists, "twice")), StatusCode.AlreadyExists },
    };

    [Theory]
    [MemberData(nameof(DotNetExceptions))]
    public void HandlerExceptionsMapToTheirMeaning(Exception exception, StatusCode code) =>
        Assert.Equal(code, TtrpcStatusMapper.ToStatus(exception, deadlineExpired: false).StatusCode);

    [Fact]
    public void ACancelAtTheDeadlineIsDeadlineExceeded() =>
        Assert.Equal(StatusCode.DeadlineExceeded, TtrpcStatusMapper.ToStatus(new OperationCanceledException(), deadlineExpired: true).StatusCode);

    [Fact]
    public async Task TheServerAnswersABugAsInternalAndAnErrorWithItsKind()
    {
        var registry = new TtrpcServiceRegistry();
        registry.Add("test.Errors", "Bug", (_, _) => throw new InvalidOperationException("the agent's own bug"));
        registry.Add("test.Errors", "Refused", (_, _) => throw Errdefs.FailedPrecondition("container c1 is not running"));
        await using var harness = await TtrpcTestHarness.StartAsync(registry);

        var bug = await Assert.ThrowsAsync<RpcException>(() => harness.Client.CallAsync("test.Errors", "Bug", Array.Empty<byte>()));
        var refused = await Assert.ThrowsAsync<RpcException>(() => harness.Client.CallAsync("test.Errors", "Refused", Array.Empty<byte>()));

        Assert.Equal((StatusCode.Internal, "the agent's own bug"), (bug.StatusCode, bug.Status.Detail));
        Assert.Equal((StatusCode.FailedPrecondition, "container c1 is not running"), (refused.StatusCode, refused.Status.Detail));
    }

    [Theory]
    [InlineData(StatusCode.NotFound, ErrorKind.NotFound, SandboxErrorCode.NotFound)]
    [InlineData(StatusCode.FailedPrecondition, ErrorKind.FailedPrecondition, SandboxErrorCode.FailedPrecondition)]
    [InlineData(StatusCode.Internal, ErrorKind.Internal, SandboxErrorCode.Internal)]
    [InlineData(StatusCode.Unknown, ErrorKind.Unknown, SandboxErrorCode.Internal)]
    public async Task TheAgentClientMapsAStatusBackOnce(StatusCode answered, ErrorKind kind, SandboxErrorCode sandboxCode)
    {
        var registry = new TtrpcServiceRegistry();
        KataSharp.Protocol.Agent.V1.Agent.BindService(registry, new RefusingAgent(answered));
        await using var harness = await TtrpcTestHarness.StartAsync(registry);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(harness.SocketPath));
        await using var agent = AgentConnection.FromStream(new NetworkStream(socket, ownsSocket: false), TimeSpan.FromSeconds(10));

        var error = await Assert.ThrowsAsync<KataSharpException>(() => agent.StartContainerAsync("c1", CancellationToken.None));
        var sandbox = SandboxException.FromRpc("starting c1", error);

        Assert.Equal(kind, error.Kind);
        Assert.Equal("refused", error.Status.Detail);
        Assert.Equal(sandboxCode, sandbox.Code);
        Assert.Equal(sandbox.Kind, sandbox.ToError().Kind);
    }

    private sealed class RefusingAgent(StatusCode code) : KataSharp.Protocol.Agent.V1.Agent.AgentBase
    {
        public override Task<StartContainerResponse> StartContainer(ContainerRequest request, ServerCallContext context) =>
            throw new RpcException(new Status(code, "refused"));
    }
}
