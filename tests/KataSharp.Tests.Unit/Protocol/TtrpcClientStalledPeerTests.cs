using System.Net.Sockets;
using Grpc.Core;
using KataSharp.Protocol.Ttrpc;

namespace KataSharp.Tests.Unit.Protocol;

/// <summary>
/// A peer that accepts and never reads (a guest whose agent hung, a port nobody opened): a request bigger than the
/// socket's buffers blocks in its flush. Found by the soak: a sandbox create that waited past its boot timeout.
/// </summary>
public sealed class TtrpcClientStalledPeerTests
{
    private static readonly byte[] Big = new byte[2 * 1024 * 1024];

    [Fact]
    public async Task ACallWhoseRequestCannotBeSentEndsAtItsDeadline()
    {
        var (peer, clientSide) = await ConnectedPairAsync();
        await using var client = new TtrpcClient(clientSide);

        var call = client.CallAsync("test.Stalled", "Put", Big, deadline: DateTime.UtcNow + TimeSpan.FromMilliseconds(500));

        var e = await Assert.ThrowsAsync<RpcException>(() => call.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
        peer.Dispose();
    }

    [Fact]
    public async Task DisposingAClientWithAStalledSendReturns()
    {
        var (peer, clientSide) = await ConnectedPairAsync();
        var client = new TtrpcClient(clientSide);
        var call = client.CallAsync("test.Stalled", "Put", Big);

        await client.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));

        var e = await Assert.ThrowsAsync<RpcException>(() => call.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains(e.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Cancelled });
        peer.Dispose();
    }

    private static async Task<(Socket Peer, Stream Client)> ConnectedPairAsync()
    {
        var (peer, client) = await UnixSocketPair.ConnectAsync();
        return (peer, new NetworkStream(client, ownsSocket: true));
    }
}
