using System.Net.Sockets;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataSharp.Protocol.Containerd.Services.Events.Ttrpc.V1;
using KataSharp.Protocol.Ttrpc;

namespace KataSharp.Tests.Unit.Shim.Security;

/// <summary>containerd's event service on a Unix socket: it records every envelope the shim forwards.</summary>
internal sealed class FakeContainerd : Events.EventsBase, IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-containerd-").FullName;
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Envelope> _received = [];
    private readonly Task _serving;

    public FakeContainerd()
    {
        Address = Path.Combine(_dir, "ttrpc.sock");
        _listener.Bind(new UnixDomainSocketEndPoint(Address));
        _listener.Listen(4);
        var registry = new TtrpcServiceRegistry();
        Events.BindService(registry, this);
        _serving = new TtrpcServer(registry).ListenAsync(_listener, _stop.Token);
    }

    public string Address { get; }

    public IReadOnlyList<Envelope> Received
    {
        get
        {
            lock (_received)
            {
                return [.. _received];
            }
        }
    }

    public override Task<Empty> Forward(ForwardRequest request, ServerCallContext context)
    {
        lock (_received)
        {
            _received.Add(request.Envelope);
            Monitor.PulseAll(_received);
        }

        return Task.FromResult(new Empty());
    }

    /// <summary>The first envelope of <paramref name="topic"/>, once it has arrived.</summary>
    public Task<Envelope> WaitForAsync(string topic) => Task.Run(() =>
    {
        var giveUp = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        lock (_received)
        {
            while (true)
            {
                if (_received.FirstOrDefault(e => e.Topic == topic) is { } found)
                {
                    return found;
                }

                var left = giveUp - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    throw new TimeoutException($"containerd never received {topic}");
                }

                Monitor.Wait(_received, left);
            }
        }
    });

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _serving.WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
