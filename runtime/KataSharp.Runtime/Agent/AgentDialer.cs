using System.Net.Sockets;
using KataSharp.Runtime.Hypervisors;

namespace KataSharp.Runtime.Agent;

/// <summary>Opens one byte stream to the agent over whichever channel the VM has.</summary>
internal static class AgentDialer
{
    public static async Task<Stream> DialAsync(AgentChannel channel, TimeSpan timeout, CancellationToken cancellationToken)
    {
        switch (channel.Kind)
        {
            case AgentChannelKind.Vsock:
                return await VsockConnector.ConnectAsync(channel.Cid, channel.Port, timeout, cancellationToken).ConfigureAwait(false);
            case AgentChannelKind.HybridVsock:
                return await HybridVsockConnector.ConnectAsync(channel.SocketPath, channel.Port, timeout, cancellationToken).ConfigureAwait(false);
            default:
                using (var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    deadline.CancelAfter(timeout);
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    try
                    {
                        await socket.ConnectAsync(new UnixDomainSocketEndPoint(channel.SocketPath), deadline.Token).ConfigureAwait(false);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                    {
                        socket.Dispose();
                        throw new IOException($"connecting to {channel.SocketPath} timed out", e);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                }
        }
    }
}
