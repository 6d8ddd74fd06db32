using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataSharp.Agent.Containers;
using KataSharp.Agent.Cpus;
using KataSharp.Agent.Network;
using KataSharp.Agent.Sandbox;
using KataSharp.Agent.Stats;
using KataSharp.Protocol.Agent.V1;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Service;

/// <summary>
/// katasharp.agent.v1.Agent: a thin adapter from RPCs to the components that do the work.
/// Failures that are not already a precise gRPC status become Internal with the reason, so
/// a bad request never takes the agent down and the host always learns why.
/// </summary>
internal sealed partial class AgentService : Protocol.Agent.V1.Agent.AgentBase
{
    private static readonly Empty EmptyResponse = new();

    private readonly SandboxManager _sandbox;
    private readonly ContainerLifecycle _containers;
    private readonly ExecLauncher _execs;
    private readonly ProcessControl _processes;
    private readonly NetworkConfigurator _network;
    private readonly OomWatcher _oom;
    private readonly CpuHotplug _cpus;
    private readonly Task _guestSetUp;
    private readonly ILogger _logger;

    /// <param name="guestSetUp">The guest's set-up for containers, which every RPC but Check and GetGuestDetails waits for.</param>
    public AgentService(SandboxManager sandbox, ContainerLifecycle containers, ExecLauncher execs, ProcessControl processes,
        NetworkConfigurator network, OomWatcher oom, CpuHotplug cpus, Task guestSetUp, ILogger<AgentService> logger)
    {
        _cpus = cpus;
        _guestSetUp = guestSetUp;
        _sandbox = sandbox;
        _containers = containers;
        _execs = execs;
        _processes = processes;
        _network = network;
        _oom = oom;
        _logger = logger;
    }

    public override Task<CheckResponse> Check(CheckRequest request, ServerCallContext context) =>
        Task.FromResult(new CheckResponse { Status = CheckResponse.Types.ServingStatus.Serving });

    public override Task<GuestDetailsResponse> GetGuestDetails(GuestDetailsRequest request, ServerCallContext context) =>
        Task.FromResult(GuestInfo.Read(context.Peer));

    public override Task<Empty> CreateSandbox(CreateSandboxRequest request, ServerCallContext context) =>
        Guard("CreateSandbox", context, async () =>
        {
            await _sandbox.CreateAsync(request, context.CancellationToken).ConfigureAwait(false);
            return EmptyResponse;
        });

    public override Task<Empty> DestroySandbox(DestroySandboxRequest request, ServerCallContext context) =>
        Guard("DestroySandbox", context, async () =>
        {
            await _sandbox.DestroyAsync(request, context.CancellationToken).ConfigureAwait(false);
            return EmptyResponse;
        });

    public override Task<CreateContainerResponse> CreateContainer(CreateContainerRequest request, ServerCallContext context) =>
        Guard("CreateContainer", context, async () => new CreateContainerResponse
        {
            Pid = (uint)await _containers.CreateAsync(request, context.CancellationToken).ConfigureAwait(false),
        });

    public override Task<StartContainerResponse> StartContainer(ContainerRequest request, ServerCallContext context) =>
        Guard("StartContainer", context, async () => new StartContainerResponse
        {
            Pid = (uint)await _containers.StartAsync(request.ContainerId, context.CancellationToken).ConfigureAwait(false),
        });

    public override Task<Empty> RemoveContainer(RemoveContainerRequest request, ServerCallContext context) =>
        Guard("RemoveContainer", context, async () =>
        {
            await _containers.RemoveAsync(request.ContainerId, TimeSpan.FromSeconds(request.TimeoutSeconds)).ConfigureAwait(false);
            return EmptyResponse;
        });

    public override Task<Empty> PauseContainer(ContainerRequest request, ServerCallContext context) =>
        Guard("PauseContainer", context, async () =>
        {
            await _containers.PauseAsync(request.ContainerId, context.CancellationToken).ConfigureAwait(false);
            return EmptyResponse;
        });

    public override Task<Empty> ResumeContainer(ContainerRequest request, ServerCallContext context) =>
        Guard("ResumeContainer", context, async () =>
        {
            await _containers.ResumeAsync(request.ContainerId, context.CancellationToken).ConfigureAwait(false);
            return EmptyResponse;
        });

    public override Task<Empty> UpdateContainer(UpdateContainerRequest request, ServerCallContext context) =>
        Guard("UpdateContainer", context, async () =>
        {
            await _containers.UpdateAsync(request.ContainerId, request.ResourcesJson.Memory, context.CancellationToken).ConfigureAwait(false);
            return EmptyResponse;
        });

    public override Task<StatsContainerResponse> StatsContainer(ContainerRequest request, ServerCallContext context) =>
        Guard("StatsContainer", context, () => Task.FromResult(_processes.Stats(request.ContainerId)));

    public override Task<ListProcessesResponse> ListProcesses(ContainerRequest request, ServerCallContext context) =>
        Guard("ListProcesses", context, () => Task.FromResult(_processes.ListProcesses(request.ContainerId)));

    public override Task<ExecProcessResponse> ExecProcess(ExecProcessRequest request, ServerCallContext context) =>
        Guard("ExecProcess", context, async () => new ExecProcessResponse
        {
            Pid = (uint)await _execs.ExecAsync(request, context.CancellationToken).ConfigureAwait(false),
        });

    public override Task<Empty> SignalProcess(SignalProcessRequest request, ServerCallContext context) =>
        Guard("SignalProcess", context, async () =>
        {
            await _processes.SignalAsync(request, context.CancellationToken).ConfigureAwait(false);
            return EmptyResponse;
        });

    public override Task<WaitProcessResponse> WaitProcess(ProcessRequest request, ServerCallContext context) =>
        Guard("WaitProcess", context, () => _processes.WaitAsync(request, context.CancellationToken));

    public override Task<WriteStdinResponse> WriteStdin(WriteStdinRequest request, ServerCallContext context) =>
        Guard("WriteStdin", context, async () => new WriteStdinResponse
        {
            Written = await _processes.WriteStdinAsync(request, context.CancellationToken).ConfigureAwait(false),
        });

    public override Task<Empty> CloseStdin(ProcessRequest request, ServerCallContext context) =>
        Guard("CloseStdin", context, async () =>
        {
            await _processes.CloseStdinAsync(request, context.CancellationToken).ConfigureAwait(false);
            return EmptyResponse;
        });

    public override Task<ReadOutputResponse> ReadOutput(ReadOutputRequest request, ServerCallContext context) =>
        Guard("ReadOutput", context, () => _processes.ReadOutputAsync(request, context.CancellationToken));

    public override Task<Empty> ResizeTty(ResizeTtyRequest request, ServerCallContext context) =>
        Guard("ResizeTty", context, () =>
        {
            _processes.ResizeTty(request);
            return Task.FromResult(EmptyResponse);
        });

    public override Task<Interface> UpdateInterface(UpdateInterfaceRequest request, ServerCallContext context) =>
        Guard("UpdateInterface", context, () => _network.UpdateInterfaceAsync(request.Interface, context.CancellationToken));

    public override Task<Routes> UpdateRoutes(UpdateRoutesRequest request, ServerCallContext context) =>
        Guard("UpdateRoutes", context, () => _network.UpdateRoutesAsync(request.Routes, context.CancellationToken));

    public override Task<Empty> AddArpNeighbors(AddArpNeighborsRequest request, ServerCallContext context) =>
        Guard("AddArpNeighbors", context, async () =>
        {
            await _network.AddArpNeighborsAsync(request.Neighbors, context.CancellationToken).ConfigureAwait(false);
            return EmptyResponse;
        });

    public override Task<Interfaces> ListInterfaces(Empty request, ServerCallContext context) =>
        Guard("ListInterfaces", context, () => _network.ListInterfacesAsync(context.CancellationToken));

    public override Task<Routes> ListRoutes(Empty request, ServerCallContext context) =>
        Guard("ListRoutes", context, () => _network.ListRoutesAsync(context.CancellationToken));

    public override Task<OomEvent> GetOomEvent(Empty request, ServerCallContext context) =>
        Guard("GetOomEvent", context, async () => new OomEvent
        {
            ContainerId = await _oom.NextAsync(context.CancellationToken).ConfigureAwait(false),
        });

    private async Task<T> Guard<T>(string method, ServerCallContext context, Func<Task<T>> body)
    {
        try
        {
            await _guestSetUp.WaitAsync(context.CancellationToken).ConfigureAwait(false);
            return await body().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.Deadline != DateTime.MaxValue)
        {
            // The server cancels at the deadline by timer, which can fire a hair before the
            // deadline's clock reading; a cancelled call that had a deadline ran out of time.
            // (When the connection itself closed, nobody reads this answer anyway.)
            throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"{method}: deadline exceeded"));
        }
        catch (RpcException e)
        {
            if (e.StatusCode is StatusCode.Internal)
            {
                LogFailed(_logger, method, e.Status.Detail);
            }

            throw;
        }
        catch (CrunException e) when (e.Operation is "create" or "start" or "exec")
        {
            // The container's own spec or process could not be run (no such executable, a bad
            // working directory, ...): that is the caller's input, not the agent failing.
            LogFailed(_logger, method, e.Message);
            throw AgentErrors.FailedPrecondition(e.Message);
        }
        catch (CrunException e)
        {
            LogFailed(_logger, method, e.Message);
            throw AgentErrors.Internal(e.Message);
        }
        catch (Exception e) when (e is IOException and not FileNotFoundException and not DirectoryNotFoundException
                                      or UnauthorizedAccessException)
        {
            LogFailed(_logger, method, e.Message);
            throw AgentErrors.Internal($"{method}: {e.Message}");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string method, string reason);
}
