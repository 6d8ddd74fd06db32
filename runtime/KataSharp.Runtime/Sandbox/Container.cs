using System.Text.Json.Nodes;
using Google.Protobuf;
using Grpc.Core;
using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Runtime.Sandbox;

/// <summary>What to create: an OCI spec, a host rootfs directory, and which stdio streams the host will use.</summary>
public sealed record ContainerOptions
{
    public required string Id { get; init; }

    /// <summary>The OCI runtime spec; bind mounts with absolute host sources are shared into the guest and rewritten.</summary>
    public required JsonObject Spec { get; init; }

    /// <summary>The container's root filesystem on the host (an unpacked image or a containerd snapshot mount).</summary>
    public required string RootfsDirectory { get; init; }

    public bool Stdin { get; init; }
    public bool Stdout { get; init; } = true;
    public bool Stderr { get; init; } = true;
    public bool Terminal { get; init; }

    /// <summary>The pod's own (pause) container, whose namespaces the others join.</summary>
    public bool SandboxContainer { get; init; }

    internal StdioOptions StdioOptions => new() { Stdin = Stdin, Stdout = Stdout, Stderr = Stderr, Terminal = Terminal };
}

/// <summary>A container inside a sandbox VM.</summary>
public sealed class Container
{
    private readonly Sandbox _sandbox;

    internal Container(Sandbox sandbox, string id, bool terminal, uint guestPid)
    {
        _sandbox = sandbox;
        Id = id;
        GuestPid = guestPid;
        Init = new ContainerProcess(sandbox.Agent, id, "", terminal);
    }

    public string Id { get; }

    /// <summary>The init process's pid inside the guest.</summary>
    public uint GuestPid { get; private set; }

    /// <summary>The container's init process.</summary>
    public ContainerProcess Init { get; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            GuestPid = await _sandbox.Agent.StartContainerAsync(Id, cancellationToken).ConfigureAwait(false);
            _sandbox.RecordContainerStarted(Id, GuestPid);
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
        {
            throw SandboxException.FromRpc($"starting container {Id}", e);
        }
    }

    /// <summary>Starts another process in the container. <paramref name="process"/> is an OCI process object (see <see cref="DefaultSpec.Process"/>).</summary>
    public async Task<ContainerProcess> ExecAsync(string execId, JsonObject process, bool stdin, bool terminal, CancellationToken cancellationToken)
    {
        SandboxPaths.ValidateId(execId, "exec");
        var stdio = new StdioOptions { Stdin = stdin, Stdout = true, Stderr = !terminal, Terminal = terminal };
        try
        {
            await _sandbox.Agent.ExecProcessAsync(Id, execId, ByteString.CopyFromUtf8(process.ToJsonString()), stdio, cancellationToken).ConfigureAwait(false);
            return new ContainerProcess(_sandbox.Agent, Id, execId, terminal);
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
        {
            throw SandboxException.FromRpc($"exec in container {Id}", e);
        }
    }

    /// <summary>Records how the init process ended (state.json), for ps and rm in other processes.</summary>
    public void RecordExit(ProcessExitInfo exit) => _sandbox.RecordContainerExited(Id, exit);

    /// <summary>Removes the container from the guest and unshares its rootfs and volumes.</summary>
    public Task RemoveAsync(CancellationToken cancellationToken) => _sandbox.RemoveContainerAsync(Id, cancellationToken);
}
