using System.IO.Pipelines;
using System.Text;
using Google.Protobuf;
using Grpc.Core;
using KataSharp.Agent.Containers;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Errors;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Protocol.Ttrpc.Wire;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>Each input the fuzzers found that crashed or hung a handler, minimized, with the answer it must get now.</summary>
[Collection(FuzzCollection.Name)]
public sealed class FuzzFindingTests
{
    private const string Agent = AgentWorld.Service;

    /// <summary>
    /// ttrpc-agent/agent-rpc: a timeout_nano past CancellationTokenSource's ~49-day timer limit threw before the
    /// handler ran, so the call was never answered.
    /// </summary>
    [Fact]
    public async Task Ttrpc_TimeoutBeyondTheTimerLimit_IsAnsweredAsIfNoDeadline()
    {
        await using var world = new AgentWorld();
        var response = await AnswerAsync(world.Server, FuzzFrame.Call(1, Agent, "Check", new CheckRequest(), timeoutNano: 100_000_000_000_000_000));

        Assert.Equal((int)StatusCode.OK, response.Status?.Code ?? 0);
        Assert.Equal(CheckResponse.Types.ServingStatus.Serving, CheckResponse.Parser.ParseFrom(response.Payload).Status);
    }

    /// <summary>ttrpc-agent: a metadata key gRPC cannot represent (here a space) threw before the handler ran; no answer came.</summary>
    [Fact]
    public async Task Ttrpc_MetadataKeyGrpcRefuses_IsInvalidArgument()
    {
        await using var world = new AgentWorld();
        var request = new Request { Service = Agent, Method = "RemoveContainer", Payload = ByteString.CopyFrom(0x0A, 0x01, 0x20), Metadata = { new KeyValue { Key = " " } } };

        var response = await AnswerAsync(world.Server, new FuzzFrame(1, (byte)TtrpcMessageType.Request, 0, request.ToByteArray()));

        Assert.Equal((int)StatusCode.InvalidArgument, response.Status.Code);
        Assert.Contains("metadata key", response.Status.Message);
    }

    /// <summary>agent-rpc: invalid UTF-8 inside a JSON string of spec_json passed the parser and failed when read (Internal).</summary>
    [Theory]
    [InlineData("{\"ociVersion\":\"1.\u0001\"}")]
    [InlineData("{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"\u0001\"]}}")]
    public void SpecTranslator_InvalidUtf8InAString_IsInvalidArgument(string template)
    {
        var json = Encoding.UTF8.GetBytes(template).Select(b => b == 0x01 ? (byte)0x9A : b).ToArray();

        var e = Assert.Throws<KataSharpException>(() => SpecTranslator.Translate(json, new SpecTranslationInput("c1", "/run/katasharp/shared", "rootfs", false, null)));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<KataSharpException>(() => SpecTranslator.TranslateProcess(json, terminal: false)).Kind);
    }

    /// <summary>ttrpc-agent: WriteStdin after CloseStdin failed with an unclassified InvalidOperationException (Internal).</summary>
    [Fact]
    public async Task Agent_WriteStdinAfterCloseStdin_IsFailedPrecondition()
    {
        await using var world = new AgentWorld();
        var (client, end) = InMemoryDuplex.Create();
        var serving = world.Server.ServeAsync(end, "test", CancellationToken.None);
        await using (var agent = new TtrpcClient(client))
        {
            await agent.CallAsync(Agent, "CreateContainer", new CreateContainerRequest
            {
                ContainerId = "c1",
                SpecJson = ByteString.CopyFrom(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "corpus", "oci-spec", "ctr-run.json"))),
                Rootfs = "rootfs",
                Stdio = new StdioOptions { Stdin = true },
            }.ToByteArray());
            await agent.CallAsync(Agent, "CloseStdin", new ProcessRequest { ContainerId = "c1" }.ToByteArray());

            var e = await Assert.ThrowsAsync<RpcException>(() => agent.CallAsync(Agent, "WriteStdin",
                new WriteStdinRequest { ContainerId = "c1", Data = ByteString.CopyFromUtf8("x") }.ToByteArray()));
            Assert.Equal(StatusCode.FailedPrecondition, e.StatusCode);
        }

        await serving.WaitAsync(TimeSpan.FromSeconds(10));
        world.Log.ThrowIfAny();
    }

    /// <summary>Sends one frame on a fresh connection and returns the server's answer to it.</summary>
    internal static async Task<Response> AnswerAsync(TtrpcServer server, FuzzFrame frame)
    {
        var (client, end) = InMemoryDuplex.Create();
        var serving = server.ServeAsync(end, "test", CancellationToken.None);
        using (client)
        {
            await client.WriteAsync(FuzzFrame.Encode([frame]));
            var reader = new TtrpcFrameReader(PipeReader.Create(client, new StreamPipeReaderOptions(leaveOpen: true)));
            var answer = await reader.ReadAsync(TtrpcMessageType.Response, Response.Parser, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.NotNull(answer?.Message);
            Assert.Equal(frame.StreamId, answer.Header.StreamId);
            InMemoryDuplex.CloseWrite(client);
            await serving.WaitAsync(TimeSpan.FromSeconds(10));
            return answer.Message;
        }
    }
}
