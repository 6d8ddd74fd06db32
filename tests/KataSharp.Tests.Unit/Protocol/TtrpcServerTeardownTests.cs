using System.Net.Sockets;
using Google.Protobuf;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Protocol.Ttrpc.Wire;

namespace KataSharp.Tests.Unit.Protocol;

/// <summary>A peer that half-closes and never reads its responses: its connection ends anyway, and no other one notices.</summary>
public sealed class TtrpcServerTeardownTests
{
    private const string Service = "test.Teardown";

    /// <summary>Far more than a Unix socket buffers, so the server's write blocks until somebody reads.</summary>
    private const int ResponseBytes = 4 * 1024 * 1024 - 64;

    [Fact]
    public async Task PeerThatHalfClosesAndNeverReads_ConnectionEnds_AndAnotherConnectionIsServedMeanwhile()
    {
        var registry = new TtrpcServiceRegistry();
        var writing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        registry.Add(Service, "Big", (_, _) =>
        {
            writing.TrySetResult();
            return Task.FromResult(new byte[ResponseBytes]);
        });
        registry.Add(Service, "Echo", (payload, _) => Task.FromResult(payload));
        var server = new TtrpcServer(registry);
        var dir = Directory.CreateTempSubdirectory("ks-ttrpc-teardown-").FullName;
        try
        {
            var (stuckServerEnd, stuckPeer) = await SocketPairAsync(Path.Combine(dir, "a.sock"));
            var (otherServerEnd, otherPeer) = await SocketPairAsync(Path.Combine(dir, "b.sock"));
            using var serverStopping = new CancellationTokenSource();
            var stuck = server.ServeAsync(new NetworkStream(stuckServerEnd, ownsSocket: true), "stuck", serverStopping.Token);
            var other = server.ServeAsync(new NetworkStream(otherServerEnd, ownsSocket: true), "other", serverStopping.Token);

            using (stuckPeer)
            {
                await stuckPeer.SendAsync(Frames(Enumerable.Range(0, 4).Select(i => Call((uint)(2 * i + 1), "Big")).ToArray()));
                await writing.Task.WaitAsync(TimeSpan.FromSeconds(10));
                // The server is inside a response write that cannot finish: part of it sits unread in the socket.
                var deadline = DateTime.UtcNow.AddSeconds(10);
                while (stuckPeer.Available == 0 && DateTime.UtcNow < deadline)
                {
                    await Task.Delay(10);
                }

                Assert.True(stuckPeer.Available > 0, "the server never started writing a response");
                stuckPeer.Shutdown(SocketShutdown.Send);

                // While the stuck connection still holds responses nobody reads, another is answered at once.
                await using (var client = new TtrpcClient(new NetworkStream(otherPeer, ownsSocket: true)))
                {
                    var echoed = await client.CallAsync(Service, "Echo", new byte[] { 1, 2, 3 }).WaitAsync(TimeSpan.FromSeconds(10));
                    Assert.Equal([1, 2, 3], echoed);
                }

                // The peer closed its side and reads nothing: the server tears the connection down regardless.
                await stuck.WaitAsync(TimeSpan.FromSeconds(30));
            }

            await other.WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static ReadOnlyMemory<byte> Frames(params (uint StreamId, byte[] Payload)[] calls)
    {
        var output = new MemoryStream();
        var header = new byte[TtrpcFrameHeader.Size];
        foreach (var (streamId, payload) in calls)
        {
            new TtrpcFrameHeader((uint)payload.Length, streamId, TtrpcMessageType.Request, 0).Write(header);
            output.Write(header);
            output.Write(payload);
        }

        return output.ToArray();
    }

    private static (uint, byte[]) Call(uint streamId, string method) =>
        (streamId, new Request { Service = Service, Method = method, Payload = ByteString.Empty }.ToByteArray());

    /// <summary>Two connected Unix sockets: the server's end and the peer's.</summary>
    private static async Task<(Socket Server, Socket Peer)> SocketPairAsync(string path)
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        var peer = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await peer.ConnectAsync(new UnixDomainSocketEndPoint(path));
        return (await listener.AcceptAsync(), peer);
    }
}
