using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KataSharp.Protocol.Containerd.Task.V2;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Sandbox;
using KataSharp.Runtime.Storage;
using KataSharp.Shim.HostCgroup;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.Lifecycle;

/// <summary>
/// <c>delete</c>: containerd's cleanup after a task's connection closed, which after a shim crash is
/// all that is left to remove the VM. It cleans up the named id only and prints a DeleteResponse.
/// </summary>
internal static partial class DeleteCommand
{
    public static async Task<int> RunAsync(ShimArguments args, Stream stdout, ILoggerFactory loggerFactory)
    {
        var logger = loggerFactory.CreateLogger("KataSharp.Shim.Delete");
        var bundle = string.IsNullOrEmpty(args.Bundle) ? Directory.GetCurrentDirectory() : args.Bundle;
        if (string.IsNullOrEmpty(args.Id))
        {
            LogNoId(logger);
            return 1;
        }

        try
        {
            RootfsMounter.UnmountAll(Path.Combine(bundle, "rootfs"));
        }
        catch (IOException e)
        {
            LogCleanupFailed(logger, args.Id, e.Message);
        }

        // Only a sandbox container has a VM of its own: the state directory is named by its id.
        if (ShimStateHint.Read(bundle) is { } stateDir)
        {
            var manager = new SandboxManager(new KataSharpConfig { Runtime = new RuntimeSection { StateDir = stateDir } }, loggerFactory);
            if (Directory.Exists(manager.PathsFor(args.Id).Directory))
            {
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                    await manager.RemoveAsync(args.Id, force: true, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SandboxException or OperationCanceledException)
                {
                    LogCleanupFailed(logger, args.Id, "removing the VM: " + e.Message);
                }

                await RemoveHostCgroupAsync(bundle, args.Id, logger).ConfigureAwait(false);
            }
        }

        var response = new DeleteResponse { Pid = 0, ExitStatus = 137, ExitedAt = Timestamp.FromDateTime(DateTime.UtcNow) };
        response.WriteTo(stdout);
        await stdout.FlushAsync().ConfigureAwait(false);
        return 0;
    }

    /// <summary>The dead shim joined the pod's host cgroup; with its VM gone the leaf is empty and nobody else removes it.</summary>
    private static async ValueTask RemoveHostCgroupAsync(string bundle, string id, ILogger logger)
    {
        try
        {
            await HostPodCgroup.RemoveLeftoversAsync(BundleSpec.Load(bundle).CgroupsPath, logger).ConfigureAwait(false);
        }
        catch (InvalidDataException e)
        {
            LogCleanupFailed(logger, id, "the host cgroup: " + e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "delete: -id is required")]
    private static partial void LogNoId(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "delete {Id}: {Reason}")]
    private static partial void LogCleanupFailed(ILogger logger, string id, string reason);
}
