using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Sockets;
using Google.Protobuf;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Protocol.Ttrpc.Wire;
using KataSharp.Runtime.Agent;

namespace KataSharp.Tests.Unit.Shim.Security;

/// <summary>
/// A guest agent that breaks the protocol on purpose, served on a Unix socket the test owns. Each request is
/// handed to the test's handler, which answers through <see cref="Reply"/>: well-formed, or any bytes at all.
/// </summary>
internal sealed class HostileAgent : IAsyncDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-hostile-").FullName;
    private readonly Socket _listener = new(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
    private readonly CancellationTokenSource _stop = new();
    private readonly Func<Request, Reply, Task> _handler;
    private readonly List<Task> _handlers = [];
    private Task _serving = Task.CompletedTask;

    private HostileAgent(Func<Request, Reply, Task> handler) => _handler = handler;

    /// <summary>Starts serving and returns the host's connection to it.</summary>
    public static async Task<(HostileAgent Agent, AgentConnection Connection)> StartAsync(Func<Request, Reply, Task> handler)
    {
        var agent = new HostileAgent(handler);
        var path = Path.Combine(agent._dir, "agent.sock");
        agent._listener.Bind(new UnixDomainSocketEndPoint(path));
        agent._listener.Listen(1);
        var accepting = agent._listener.AcceptAsync();
        var client = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await client.ConnectAsync(new UnixDomainSocketEndPoint(path));
        agent._serving = agent.ServeAsync(await accepting);
        return (agent, AgentConnection.FromStream(new NetworkStream(client, ownsSocket: true), TimeSpan.FromSeconds(30)));
    }

    private async Task ServeAsync(Socket socket)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        var reader = new TtrpcFrameReader(PipeReader.Create(stream));
        var gate = new SemaphoreSlim(1, 1);
        try
        {
            while (await reader.ReadAsync(_stop.Token) is { } frame)
            {
                var request = Request.Parser.ParseFrom(frame.Payload);
                lock (_handlers)
                {
                    _handlers.Add(Task.Run(() => _handler(request, new Reply(stream, gate, frame.Header.StreamId, _stop.Token))));
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
            // The test is over, or a reply hung up on purpose.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        await _serving;
        Task[] handlers;
        lock (_handlers)
        {
            handlers = [.. _handlers];
        }

        await Task.WhenAll(handlers).ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>How a handler answers one request.</summary>
    internal sealed class Reply(Stream stream, SemaphoreSlim gate, uint streamId, CancellationToken stopping)
    {
        public uint StreamId => streamId;

        public CancellationToken Stopping => stopping;

        public Task OkAsync(IMessage message) => OkAsync(message.ToByteString());

        public Task OkAsync(ByteString payload) => ResponseAsync(new Response { Status = new KataSharp.Protocol.Rpc.Status(), Payload = payload });

        public Task ResponseAsync(Response response, uint? onStream = null) => FrameAsync(response.ToByteArray(), onStream ?? streamId);

        /// <summary>A response frame whose header declares <paramref name="declaredLength"/> and carries <paramref name="payload"/>.</summary>
        public async Task FrameAsync(byte[] payload, uint onStream, uint? declaredLength = null)
        {
            var header = new byte[TtrpcFrameHeader.Size];
            new TtrpcFrameHeader(declaredLength ?? (uint)payload.Length, onStream, TtrpcMessageType.Response, 0).Write(header);
            await gate.WaitAsync(stopping);
            try
            {
                await stream.WriteAsync(header, stopping);
                await stream.WriteAsync(payload, stopping);
                await stream.FlushAsync(stopping);
            }
            finally
            {
                gate.Release();
            }
        }

        /// <summary>Ends the connection, as a guest that vanished mid-frame.</summary>
        public void HangUp() => stream.Close();
    }
}
