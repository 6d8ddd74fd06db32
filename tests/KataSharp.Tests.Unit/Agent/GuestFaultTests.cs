using Grpc.Core;
using KataSharp.Agent.Faults;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Tests.Unit.Shim;
using Microsoft.Extensions.Logging.Abstractions;
using AgentApi = KataSharp.Protocol.Agent.V1.Agent;

namespace KataSharp.Tests.Unit.Agent;

public sealed class GuestFaultTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(null, "None")]
    [InlineData("", "None")]
    [InlineData("none", "None")]
    [InlineData("agent-hang", "AgentHang")]
    [InlineData("rm -rf /", "None")]
    public void TheKernelParameter_NamesTheFault_AndAnUnknownOneNone(string? value, string expected)
    {
        var fault = GuestFault.FromEnvironment(name => name == GuestFault.Variable ? value : null, NullLogger.Instance);

        Assert.Equal(expected, fault.Kind.ToString());
    }

    [Fact]
    public async Task AgentHang_AnswersUntilAWorkloadStarts_ThenNoCallReturnsUntilCancelled()
    {
        var binder = Bind(new GuestFault(GuestFaultKind.AgentHang, NullLogger.Instance));

        Assert.Equal(CheckResponse.Types.ServingStatus.Serving, (await binder.CheckAsync(default)).Status);
        await binder.StartAsync("sandbox", default);
        Assert.Equal(CheckResponse.Types.ServingStatus.Serving, (await binder.CheckAsync(default)).Status);
        await binder.StartAsync("app", default);

        using var cancel = new CancellationTokenSource();
        var hung = binder.CheckAsync(cancel.Token);
        var another = binder.StartAsync("app2", cancel.Token);
        Assert.False(hung.IsCompleted);
        Assert.False(another.IsCompleted);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hung.WaitAsync(Timeout));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => another.WaitAsync(Timeout));
    }

    [Fact]
    public async Task NoFault_BindsTheHandlersUnchanged()
    {
        var binder = Bind(new GuestFault(GuestFaultKind.None, NullLogger.Instance));

        await binder.StartAsync("app", default);
        Assert.Equal(CheckResponse.Types.ServingStatus.Serving, (await binder.CheckAsync(default).WaitAsync(Timeout)).Status);
    }

    private static CapturingBinder Bind(GuestFault fault)
    {
        var capture = new CapturingBinder();
        AgentApi.BindService(new FaultInjectingBinder(capture, fault, id => id != "sandbox"), new FakeAgent());
        return capture;
    }

    private sealed class FakeAgent : AgentApi.AgentBase
    {
        public override Task<CheckResponse> Check(CheckRequest request, ServerCallContext context) =>
            Task.FromResult(new CheckResponse { Status = CheckResponse.Types.ServingStatus.Serving });

        public override Task<StartContainerResponse> StartContainer(ContainerRequest request, ServerCallContext context) =>
            Task.FromResult(new StartContainerResponse { Pid = 7 });
    }

    /// <summary>Keeps the handlers the fault binder passes on, to call them as the ttrpc server would.</summary>
    private sealed class CapturingBinder : ServiceBinderBase
    {
        private readonly Dictionary<string, Delegate> _handlers = new(StringComparer.Ordinal);

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            if (handler is not null)
            {
                _handlers[method.Name] = handler;
            }
        }

        public Task<CheckResponse> CheckAsync(CancellationToken cancellationToken) =>
            ((UnaryServerMethod<CheckRequest, CheckResponse>)_handlers["Check"])(new CheckRequest(), new TestCallContext(cancellationToken));

        public Task<StartContainerResponse> StartAsync(string id, CancellationToken cancellationToken) =>
            ((UnaryServerMethod<ContainerRequest, StartContainerResponse>)_handlers["StartContainer"])(new ContainerRequest { ContainerId = id }, new TestCallContext(cancellationToken));
    }
}
