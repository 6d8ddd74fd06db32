using System.Net.Sockets;

namespace KataSharp.Tests.Unit.Protocol;

/// <summary>Two connected Unix stream sockets, made through a listener that is gone once they are.</summary>
internal static class UnixSocketPair
{
    public static async Task<(Socket Server, Socket Client)> ConnectAsync()
    {
        var dir = Directory.CreateTempSubdirectory("ks-ttrpc-").FullName;
        try
        {
            var path = Path.Combine(dir, "ttrpc.sock");
            using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen();
            var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await client.ConnectAsync(new UnixDomainSocketEndPoint(path));
            return (await listener.AcceptAsync(), client);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
