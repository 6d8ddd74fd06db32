using System.Diagnostics;
using Google.Protobuf.WellKnownTypes;
using KataSharp.Protocol;
using KataSharp.Protocol.Containerd.Events;
using KataSharp.Protocol.Containerd.Services.Events.Ttrpc.V1;
using KataSharp.Protocol.Ttrpc;

namespace KataSharp.Tests.EndToEnd;

/// <summary>Our ttrpc client against a real Go ttrpc server: containerd's events service.</summary>
public sealed class ContainerdEventsInteropTests
{
    [Fact]
    public async Task ForwardedTaskExit_ReachesContainerdSubscribers()
    {
        await using var containerd = await ContainerdDaemon.StartAsync(disabledPlugins: ["io.containerd.grpc.v1.cri"]);
        var containerId = $"interop-{Guid.NewGuid():N}"[..20];

        using var events = Process.Start(containerd.CtrStartInfo(["events"]))!;
        var seen = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        events.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line && line.Contains("/tasks/exit") && line.Contains(containerId))
            {
                seen.TrySetResult(line);
            }
        };
        events.BeginOutputReadLine();

        try
        {
            await using var ttrpc = await TtrpcClient.ConnectUnixAsync(containerd.TtrpcAddress, CancellationToken.None);
            var client = new Events.EventsClient(new TtrpcCallInvoker(ttrpc));
            var exit = new TaskExit
            {
                ContainerId = containerId,
                Id = containerId,
                Pid = 4242,
                ExitStatus = 3,
                ExitedAt = Timestamp.FromDateTime(DateTime.UtcNow),
            };

            // ctr events gives no sign that its subscription is live, so keep forwarding until it reports one.
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!seen.Task.IsCompleted && DateTime.UtcNow < deadline)
            {
                await client.ForwardAsync(new ForwardRequest
                {
                    Envelope = new Envelope
                    {
                        Timestamp = Timestamp.FromDateTime(DateTime.UtcNow),
                        Namespace = "default",
                        Topic = "/tasks/exit",
                        Event = TypeUrls.Pack(exit),
                    },
                }, deadline: DateTime.UtcNow.AddSeconds(10));
                await Task.WhenAny(seen.Task, Task.Delay(250));
            }

            Assert.True(seen.Task.IsCompleted, $"containerd never published the event; its log:\n{containerd.Log}");
            var line = await seen.Task;
            Assert.Contains("\"exit_status\":3", line);
            Assert.Contains("\"pid\":4242", line);
        }
        finally
        {
            events.Kill();
            await events.WaitForExitAsync();
        }
    }

    [Fact]
    public async Task ForwardWithAnInvalidTopic_IsRejectedByContainerd()
    {
        await using var containerd = await ContainerdDaemon.StartAsync(disabledPlugins: ["io.containerd.grpc.v1.cri"]);
        await using var ttrpc = await TtrpcClient.ConnectUnixAsync(containerd.TtrpcAddress, CancellationToken.None);
        var client = new Events.EventsClient(new TtrpcCallInvoker(ttrpc));
        var error = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => client.ForwardAsync(new ForwardRequest
        {
            Envelope = new Envelope
            {
                Timestamp = Timestamp.FromDateTime(DateTime.UtcNow),
                Namespace = "default",
                Topic = "no-leading-slash",
                Event = TypeUrls.Pack(new TaskOOM { ContainerId = "x" }),
            },
        }, deadline: DateTime.UtcNow.AddSeconds(10)).ResponseAsync);
        Assert.NotEqual(Grpc.Core.StatusCode.OK, error.StatusCode);
        Assert.NotEqual(Grpc.Core.StatusCode.Unavailable, error.StatusCode);
    }
}
