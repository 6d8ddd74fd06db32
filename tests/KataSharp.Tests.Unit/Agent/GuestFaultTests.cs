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
    [InlineData("agent-crash", "AgentCrash")]
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
    public async Task AgentCrash_DiesOnceAfterTheFirstWorkloadStart_NamingTheFault_AndAnswersEveryCallTillThen()
    {
        var died = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var deaths = 0;
        var fault = new GuestFault(GuestFaultKind.AgentCrash, NullLogger.Instance, message =>
        {
            Interlocked.Increment(ref deaths);
            died.TrySetResult(message);
        }, TimeSpan.Zero);
        var binder = Bind(fault);

        await binder.StartAsync("sandbox", default);
        Assert.False(fault.IsTripped);
        Assert.Equal(7u, (await binder.StartAsync("app", default).WaitAsync(Timeout)).Pid);
        Assert.True(fault.IsTripped);
        await binder.StartAsync("app2", default).WaitAsync(Timeout);

        var message = await died.Task.WaitAsync(Timeout);
        Assert.Contains("injected fault agent-crash", message, StringComparison.Ordinal);
        Assert.Contains("app", message, StringComparison.Ordinal);
        Assert.DoesNotContain("app2", message, StringComparison.Ordinal);
        Assert.Equal(CheckResponse.Types.ServingStatus.Serving, (await binder.CheckAsync(default).WaitAsync(Timeout)).Status);
        Assert.Equal(1, Volatile.Read(ref deaths));
    }

    [Fact]
    public async Task AgentCrash_AnswersTheStartFirst_AndDiesOnlyOnceTheGraceIsOver()
    {
        var died = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var binder = Bind(new GuestFault(GuestFaultKind.AgentCrash, NullLogger.Instance, message => died.TrySetResult(message), TimeSpan.FromHours(1)));

        Assert.Equal(7u, (await binder.StartAsync("app", default).WaitAsync(Timeout)).Pid);
        Assert.Equal(CheckResponse.Types.ServingStatus.Serving, (await binder.CheckAsync(default).WaitAsync(Timeout)).Status);
        Assert.False(died.Task.IsCompleted);
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
