using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataSharp.Protocol;
using KataSharp.Protocol.Containerd.Events;
using KataSharp.Protocol.Containerd.Services.Events.Ttrpc.V1;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Protocol.Ttrpc.Wire;

namespace KataSharp.Tests.Unit.Protocol;

public sealed class TtrpcClientServerTests
{
    private const string Service = "test.Echo";

    private static TtrpcServiceRegistry EchoRegistry(Func<byte[], ServerCallContext, Task<byte[]>>? handler = null)
    {
        var registry = new TtrpcServiceRegistry();
        registry.Add(Service, "Echo", (payload, context) => handler?.Invoke(payload, context) ?? Task.FromResult(payload));
        return registry;
    }

    private static async Task<Response> RawCallAsync(Stream stream, uint streamId, byte[] requestPayload, uint? declaredLength = null)
    {
        var header = new byte[TtrpcFrameHeader.Size];
        new TtrpcFrameHeader(declaredLength ?? (uint)requestPayload.Length, streamId, TtrpcMessageType.Request, 0).Write(header);
        await stream.WriteAsync(header);
        await stream.WriteAsync(requestPayload);
        await stream.FlushAsync();

        var responseHeader = new byte[TtrpcFrameHeader.Size];
        await stream.ReadExactlyAsync(responseHeader).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        var parsed = TtrpcFrameHeader.Read(responseHeader);
        Assert.Equal(streamId, parsed.StreamId);
        Assert.Equal(TtrpcMessageType.Response, parsed.Type);
        var body = new byte[parsed.Length];
        await stream.ReadExactlyAsync(body);
        return Response.Parser.ParseFrom(body);
    }

    private static byte[] EchoRequest(string method = "Echo", string service = Service) =>
        new Request { Service = service, Method = method, Payload = ByteString.CopyFromUtf8("x") }.ToByteArray();

    [Fact]
    public async Task UnaryCall_RoundTripsPayloadAndMetadata()
    {
        string? seen = null;
        await using var harness = await TtrpcTestHarness.StartAsync(EchoRegistry((payload, context) =>
        {
            seen = context.RequestHeaders.GetValue("containerd-namespace-ttrpc");
            return Task.FromResult(payload.Reverse().ToArray());
        }));

        var response = await harness.Client.CallAsync(Service, "Echo", "abc"u8.ToArray(),
            metadata: new Metadata { { "containerd-namespace-ttrpc", "k8s.io" } });

        Assert.Equal("cba", Encoding.UTF8.GetString(response));
        Assert.Equal("k8s.io", seen);
    }

    [Fact]
    public async Task UnknownMethodAndService_AreUnimplemented()
    {
        await using var harness = await TtrpcTestHarness.StartAsync(EchoRegistry());
        var method = await Assert.ThrowsAsync<RpcException>(() => harness.Client.CallAsync(Service, "Nope", Array.Empty<byte>()));
        var service = await Assert.ThrowsAsync<RpcException>(() => harness.Client.CallAsync("no.Such", "Echo", Array.Empty<byte>()));
        Assert.Equal(StatusCode.Unimplemented, method.StatusCode);
        Assert.Equal(StatusCode.Unimplemented, service.StatusCode);
    }

    [Fact]
    public async Task EvenStreamId_IsInvalidArgument()
    {
        await using var harness = await TtrpcTestHarness.StartAsync(EchoRegistry());
        await using var raw = await harness.ConnectRawAsync();
        var response = await RawCallAsync(raw, 2, EchoRequest());
        Assert.Equal((int)StatusCode.InvalidArgument, response.Status.Code);
        Assert.Contains("odd", response.Status.Message);
    }

    [Fact]
    public async Task MalformedRequestEnvelope_IsInvalidArgument_AndTheConnectionSurvives()
    {
        await using var harness = await TtrpcTestHarness.StartAsync(EchoRegistry());
        await using var raw = await harness.ConnectRawAsync();
        var bad = await RawCallAsync(raw, 1, [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);
        Assert.Equal((int)StatusCode.InvalidArgument, bad.Status.Code);

        var good = await RawCallAsync(raw, 3, EchoRequest());
        Assert.Equal(0, good.Status.Code);
        Assert.Equal("x", good.Payload.ToStringUtf8());
    }

    [Fact]
    public async Task MalformedMessagePayload_IsInvalidArgument()
    {
        var registry = new TtrpcServiceRegistry();
        Events.BindService(registry, new RecordingEvents());
        await using var harness = await TtrpcTestHarness.StartAsync(registry);
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            harness.Client.CallAsync("containerd.services.events.ttrpc.v1.Events", "Forward", new byte[] { 0x0A, 0xFF, 0x01 }));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
    }

    [Fact]
    public async Task OversizedRequest_IsResourceExhausted_AndTheConnectionSurvives()
    {
        await using var harness = await TtrpcTestHarness.StartAsync(EchoRegistry());
        await using var raw = await harness.ConnectRawAsync();
        var oversized = new byte[TtrpcFrameHeader.MaxPayload + 1];
        var response = await RawCallAsync(raw, 1, oversized);
        Assert.Equal((int)StatusCode.ResourceExhausted, response.Status.Code);

        var next = await RawCallAsync(raw, 3, EchoRequest());
        Assert.Equal(0, next.Status.Code);
    }

    [Fact]
    public async Task OversizedRequest_IsRefusedByTheClientBeforeSending()
    {
        await using var harness = await TtrpcTestHarness.StartAsync(EchoRegistry());
        var error = await Assert.ThrowsAsync<RpcException>(() => harness.Client.CallAsync(Service, "Echo", new byte[TtrpcFrameHeader.MaxPayload]));
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.Equal("ok", Encoding.UTF8.GetString(await harness.Client.CallAsync(Service, "Echo", "ok"u8.ToArray())));
    }

    [Fact]
    public async Task HundredConcurrentCalls_CompleteOutOfOrder_AndEachGetsItsOwnResponse()
    {
        const int calls = 100;
        var arrived = 0;
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var completionOrder = new List<int>();
        await using var harness = await TtrpcTestHarness.StartAsync(EchoRegistry(async (payload, _) =>
        {
            var index = BinaryPrimitives.ReadInt32LittleEndian(payload);
            if (Interlocked.Increment(ref arrived) == calls)
            {
                allArrived.SetResult();
            }

            // Hold every call until all are in flight, then release them in reverse order.
            await allArrived.Task;
            await Task.Delay((calls - index) * 3);
            lock (completionOrder)
            {
                completionOrder.Add(index);
            }

            return payload;
        }));

        var tasks = Enumerable.Range(0, calls).Select(async i =>
        {
            var payload = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(payload, i);
            var response = await harness.Client.CallAsync(Service, "Echo", payload);
            return BinaryPrimitives.ReadInt32LittleEndian(response);
        }).ToArray();

        var results = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, calls), results);
        Assert.NotEqual(Enumerable.Range(0, calls), completionOrder);
    }

    [Fact]
    public async Task ExpiredDeadline_FailsWithDeadlineExceeded_AndCancelsTheHandler()
    {
        var handlerCancelled = new TaskCompletionSource<DateTime>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var harness = await TtrpcTestHarness.StartAsync(EchoRegistry(async (payload, context) =>
        {
            Assert.NotEqual(DateTime.MaxValue, context.Deadline);
            try
            {
                await Task.Delay(Timeout.Infinite, context.CancellationToken);
            }
            catch (OperationCanceledException)
            {
                handlerCancelled.SetResult(context.Deadline);
                throw;
            }

            return payload;
        }));

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            harness.Client.CallAsync(Service, "Echo", Array.Empty<byte>(), deadline: DateTime.UtcNow.AddMilliseconds(200)));
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        await handlerCancelled.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task PeerClosingMidCall_FailsPendingCallsWithUnavailable_AndLaterCallsAtOnce()
    {
        var dir = Directory.CreateTempSubdirectory("ks-ttrpc-close-").FullName;
        try
        {
            var path = Path.Combine(dir, "s.sock");
            using var listener = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
            listener.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
            listener.Listen();
            await using var client = await TtrpcClient.ConnectUnixAsync(path, CancellationToken.None);
            using var serverSide = await listener.AcceptAsync();

            var pending = client.CallAsync(Service, "Echo", new byte[] { 1, 2, 3 });
            // Wait until the request is on the wire, then hang up without answering.
            var buffer = new byte[64];
            Assert.True(await serverSide.ReceiveAsync(buffer) > 0);
            serverSide.Shutdown(System.Net.Sockets.SocketShutdown.Both);
            serverSide.Close();

            var error = await Assert.ThrowsAsync<RpcException>(() => pending.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(StatusCode.Unavailable, error.StatusCode);
            var later = await Assert.ThrowsAsync<RpcException>(() => client.CallAsync(Service, "Echo", Array.Empty<byte>()));
            Assert.Equal(StatusCode.Unavailable, later.StatusCode);
            Assert.False(client.IsConnected);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Theory]
    [InlineData(StatusCode.NotFound)]
    [InlineData(StatusCode.AlreadyExists)]
    [InlineData(StatusCode.FailedPrecondition)]
    public async Task RpcExceptionFromHandler_KeepsItsCode(StatusCode code)
    {
        await using var harness = await TtrpcTestHarness.StartAsync(EchoRegistry((_, _) =>
            throw new RpcException(new Status(code, "because"))));
        var error = await Assert.ThrowsAsync<RpcException>(() => harness.Client.CallAsync(Service, "Echo", Array.Empty<byte>()));
        Assert.Equal(code, error.StatusCode);
        Assert.Equal("because", error.Status.Detail);
    }

    [Fact]
    public async Task OtherExceptions_MapToGrpcCodes()
    {
        var registry = new TtrpcServiceRegistry();
        registry.Add(Service, "Arg", (_, _) => throw new ArgumentException("bad id"));
        registry.Add(Service, "Missing", (_, _) => throw new KeyNotFoundException("no such container"));
        registry.Add(Service, "Boom", (_, _) => throw new Exception("boom"));
        await using var harness = await TtrpcTestHarness.StartAsync(registry);

        Assert.Equal(StatusCode.InvalidArgument, (await Assert.ThrowsAsync<RpcException>(() => harness.Client.CallAsync(Service, "Arg", Array.Empty<byte>()))).StatusCode);
        Assert.Equal(StatusCode.NotFound, (await Assert.ThrowsAsync<RpcException>(() => harness.Client.CallAsync(Service, "Missing", Array.Empty<byte>()))).StatusCode);
        var unknown = await Assert.ThrowsAsync<RpcException>(() => harness.Client.CallAsync(Service, "Boom", Array.Empty<byte>()));
        Assert.Equal(StatusCode.Unknown, unknown.StatusCode);
        Assert.Equal("boom", unknown.Status.Detail);
    }

    [Fact]
    public async Task GeneratedClientAndService_WorkOverTtrpc()
    {
        var events = new RecordingEvents();
        var registry = new TtrpcServiceRegistry();
        Events.BindService(registry, events);
        await using var harness = await TtrpcTestHarness.StartAsync(registry);
        var client = new Events.EventsClient(new TtrpcCallInvoker(harness.Client));

        var exit = new TaskExit { ContainerId = "c1", Id = "c1", Pid = 42, ExitStatus = 3, ExitedAt = Timestamp.FromDateTime(DateTime.UtcNow) };
        await client.ForwardAsync(new ForwardRequest
        {
            Envelope = new Envelope { Namespace = "default", Topic = "/tasks/exit", Timestamp = Timestamp.FromDateTime(DateTime.UtcNow), Event = TypeUrls.Pack(exit) },
        }, deadline: DateTime.UtcNow.AddSeconds(10));

        var received = Assert.Single(events.Received);
        Assert.Equal("containerd.events.TaskExit", received.Event.TypeUrl);
        Assert.Equal(exit, TypeUrls.Unpack<TaskExit>(received.Event));
    }

    [Fact]
    public async Task AliasedService_ServesTheSameHandlers()
    {
        var registry = EchoRegistry();
        registry.AddAlias("test.EchoV3", Service);
        await using var harness = await TtrpcTestHarness.StartAsync(registry);
        Assert.Equal("hi", Encoding.UTF8.GetString(await harness.Client.CallAsync("test.EchoV3", "Echo", "hi"u8.ToArray())));
    }

    private sealed class RecordingEvents : Events.EventsBase
    {
        public List<Envelope> Received { get; } = [];

        public override Task<Empty> Forward(ForwardRequest request, ServerCallContext context)
        {
            lock (Received)
            {
                Received.Add(request.Envelope);
            }

            return Task.FromResult(new Empty());
        }
    }
}
