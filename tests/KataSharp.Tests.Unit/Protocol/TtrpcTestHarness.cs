using System.Net.Sockets;
using KataSharp.Protocol.Ttrpc;

namespace KataSharp.Tests.Unit.Protocol;

/// <summary>A ttrpc server and client joined by a real Unix socket in a temporary directory.</summary>
internal sealed class TtrpcTestHarness : IAsyncDisposable
{
    private readonly string _dir;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop;
    private readonly Task _serving;

    private TtrpcTestHarness(string dir, Socket listener, CancellationTokenSource stop, Task serving, TtrpcClient client)
    {
        _dir = dir;
        _listener = listener;
        _stop = stop;
        _serving = serving;
        Client = client;
    }

    public TtrpcClient Client { get; }

    public string SocketPath => Path.Combine(_dir, "ttrpc.sock");

    public static async Task<TtrpcTestHarness> StartAsync(TtrpcServiceRegistry registry, TtrpcServerLimits? limits = null)
    {
        var dir = Directory.CreateTempSubdirectory("ks-ttrpc-").FullName;
        var path = Path.Combine(dir, "ttrpc.sock");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        var stop = new CancellationTokenSource();
        var serving = new TtrpcServer(registry, limits: limits).ListenAsync(listener, stop.Token);
        var client = await TtrpcClient.ConnectUnixAsync(path, CancellationToken.None);
        return new TtrpcTestHarness(dir, listener, stop, serving, client);
    }

    /// <summary>A raw connection to the server, for writing frames no well-behaved client would send.</summary>
    public async Task<NetworkStream> ConnectRawAsync()
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(SocketPath));
        return new NetworkStream(socket, ownsSocket: true);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        _stop.Cancel();
        _listener.Dispose();
        await _serving.WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
