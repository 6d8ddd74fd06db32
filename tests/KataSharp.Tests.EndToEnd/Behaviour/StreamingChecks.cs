using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using KataSharp.Protocol.Cri.V1;
using KataSharp.Tests.EndToEnd.Streaming;

namespace KataSharp.Tests.EndToEnd.Behaviour;

// Owned by the helper "pfwd": port-forward, ExecSync timeout.
public static class StreamingChecks
{
    /// <summary>Where the web server's files live in its container; cgi-bin/upload answers with the sha256 of what it was sent.</summary>
    private const string WebRoot = "/tmp/www";

    private const int LargeBytes = 1 << 20;

    private static readonly TimeSpan StreamTimeout = TimeSpan.FromMinutes(3);

    public static IReadOnlyList<BehaviourCheck> All { get; } =
    [
        // kubectl port-forward: containerd dials localhost:PORT in the pod's network namespace. The server is bound
        // to 127.0.0.1 only, so nothing but the pod's own loopback can reach it. Twice, as each URL carries one
        // connection; afterwards the pod holds no connection to the port that is not closing down.
        new("streaming/port-forward-loopback", async ctx =>
        {
            const int port = 18080;
            var (pod, server) = await StartWebServerAsync(ctx, port);
            for (var connection = 0; connection < 2; connection++)
            {
                var result = await ForwardAsync(ctx, pod, port, "GET /index.html HTTP/1.0\r\n\r\n"u8.ToArray());
                Assert.Equal("", result.Error);
                Assert.Equal(port, result.Port);
                Assert.Matches(@"^HTTP/1\.[01] 200 ", result.Text);
                Assert.EndsWith("\r\n\r\nport-forward-ok\n", result.Text, StringComparison.Ordinal);
            }

            await WaitUntilAsync(async () => (await ctx.ShAsync(server, $"netstat -tn > /tmp/netstat || exit 3; grep ':{port} ' /tmp/netstat | grep -v TIME_WAIT; true")).Trim().Length == 0,
                $"connections to port {port} in the pod to be gone");
        }),
        // A megabyte each way on two connections at once: every byte arrives, in order, whatever the chunking.
        new("streaming/port-forward-large-both-ways", async ctx =>
        {
            const int port = 18081;
            var (pod, server) = await StartWebServerAsync(ctx, port);
            var served = (await ctx.ShAsync(server, $"sha256sum {WebRoot}/large")).Split(' ')[0];
            var upload = RandomNumberGenerator.GetBytes(LargeBytes);
            var request = Encoding.ASCII.GetBytes($"POST /cgi-bin/upload HTTP/1.0\r\nContent-Type: application/octet-stream\r\nContent-Length: {upload.Length}\r\n\r\n");

            var download = ForwardAsync(ctx, pod, port, "GET /large HTTP/1.0\r\n\r\n"u8.ToArray());
            var uploaded = ForwardAsync(ctx, pod, port, [.. request, .. upload]);
            await Task.WhenAll(download, uploaded);

            var body = Body((await download).Data);
            Assert.Equal(LargeBytes, body.Length);
            Assert.Equal(served, Convert.ToHexStringLower(SHA256.HashData(body)));
            Assert.Matches(@"^HTTP/1\.[01] 200 ", (await uploaded).Text);
            Assert.EndsWith($"\n{Convert.ToHexStringLower(SHA256.HashData(upload))}\n", (await uploaded).Text, StringComparison.Ordinal);
        }),
        // Nothing listens on the port: no data, and containerd says why on the stream's error channel.
        new("streaming/port-forward-nothing-listening", async ctx =>
        {
            const int port = 18082;
            var pod = await ctx.SharedPodAsync();
            await ctx.DefaultContainerAsync();
            var result = await ForwardAsync(ctx, pod, port, "GET / HTTP/1.0\r\n\r\n"u8.ToArray());
            Assert.Empty(result.Data);
            Assert.Contains($"error forwarding port {port}", result.Error, StringComparison.Ordinal);
        }),
        // containerd kills the exec when the timeout expires and waits for it: the call returns, and the process is gone.
        new("streaming/exec-sync-timeout", async ctx =>
        {
            var id = await ctx.StartContainerAsync(ctx.NewContainer("sleep", "1000000"));
            var clock = Stopwatch.StartNew();
            var e = await Assert.ThrowsAsync<RpcException>(async () => await ctx.Cri.Runtime.ExecSyncAsync(
                new ExecSyncRequest { ContainerId = id, Cmd = { "sleep", "3600" }, Timeout = 2 }, deadline: DateTime.UtcNow + StreamTimeout));
            clock.Stop();

            Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
            Assert.Contains("timeout 2s exceeded", e.Status.Detail, StringComparison.Ordinal);
            // Long before the command itself would have ended (an hour): the timeout, not the command, ended the call.
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(2), $"ExecSync with a 2 s timeout returned after {clock.Elapsed}");
            var processes = await ctx.ShAsync(id, "ps -o args");
            Assert.DoesNotContain("sleep 3600", processes, StringComparison.Ordinal);
            Assert.Contains("sleep 1000000", processes, StringComparison.Ordinal);
        }),
    ];

    /// <summary>
    /// busybox httpd on 127.0.0.1:<paramref name="port"/> only, in the shared pod, serving a small page, a
    /// <see cref="LargeBytes"/> random file, and a CGI that answers with the sha256 of the body posted to it.
    /// </summary>
    private static async Task<(CriPod Pod, string ContainerId)> StartWebServerAsync(CheckContext ctx, int port)
    {
        var setup = string.Join(" && ",
            $"mkdir -p {WebRoot}/cgi-bin",
            $"echo port-forward-ok > {WebRoot}/index.html",
            $"head -c {LargeBytes} /dev/urandom > {WebRoot}/large",
            $"printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\nhead -c $CONTENT_LENGTH | sha256sum | cut -d\" \" -f1\\n' > {WebRoot}/cgi-bin/upload",
            $"chmod +x {WebRoot}/cgi-bin/upload",
            $"exec httpd -f -p 127.0.0.1:{port} -h {WebRoot}");
        var id = await ctx.StartContainerAsync(ctx.NewContainer("sh", "-c", setup));
        await WaitUntilAsync(async () => (await ctx.ExecAsync(id, "wget", "-qO", "/dev/null", $"http://127.0.0.1:{port}/index.html")).ExitCode == 0,
            $"httpd on 127.0.0.1:{port}");
        return (await ctx.SharedPodAsync(), id);
    }

    /// <summary>Asks until <paramref name="condition"/> holds; each ask is an exec in the pod, which paces the loop.</summary>
    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + StreamTimeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new CheckFailedException($"waited {StreamTimeout.TotalMinutes:0} min for {what}");
            }
        }
    }

    /// <summary>One forwarded connection through the URL CRI PortForward returns: sends <paramref name="request"/>, reads until the stream closes.</summary>
    private static async Task<PortForwardResult> ForwardAsync(CheckContext ctx, CriPod pod, int port, byte[] request)
    {
        var url = (await ctx.Cri.Runtime.PortForwardAsync(new PortForwardRequest { PodSandboxId = pod.Id, Port = { port } },
            deadline: DateTime.UtcNow + StreamTimeout)).Url;
        using var timeout = new CancellationTokenSource(StreamTimeout);
        await using var stream = await PortForwardWebSocket.ConnectAsync(url, timeout.Token);
        var receiving = stream.ReceiveUntilClosedAsync(timeout.Token);
        await stream.SendAsync(request, timeout.Token);
        return await receiving;
    }

    /// <summary>A static file's HTTP response body: what follows the blank line after httpd's headers.</summary>
    private static byte[] Body(byte[] response)
    {
        var end = response.AsSpan().IndexOf("\r\n\r\n"u8);
        return end < 0 ? throw new CheckFailedException($"not an HTTP response: {Encoding.ASCII.GetString(response[..Math.Min(200, response.Length)])}") : response[(end + 4)..];
    }
}
