using CsCheck;
using Xunit.Abstractions;
using AgentApi = KataSharp.Protocol.Agent.V1.Agent;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>
/// The agent as the host's ttrpc server: hostile framing and dispatch (ttrpc-agent), and its RPC handlers
/// with random and mutated protobuf (agent-rpc), over an in-memory connection to the real server and bindings.
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed class AgentFuzzTests(ITestOutputHelper output)
{
    [Fact]
    [Trait("Category", "Fuzz")]
    [Trait("FuzzTarget", "ttrpc-agent")]
    public Task TtrpcFramingAndDispatch() => RunAsync("ttrpc-agent", hostileFraming: true, smokeSamples: 1500);

    [Fact]
    [Trait("Category", "Fuzz")]
    [Trait("FuzzTarget", "agent-rpc")]
    public Task RpcHandlers() => RunAsync("agent-rpc", hostileFraming: false, smokeSamples: 1500);

    private async Task RunAsync(string target, bool hostileFraming, int smokeSamples)
    {
        var corpus = Corpus.Load(target);
        var messages = new ProtoMessages(Corpus.Load("oci-spec"));
        var gen = Gen.Frequency(
            (1, ByteMutator.Mutations(corpus)),
            (2, WireInputs.Calls(AgentWorld.Service, AgentApi.Descriptor.Methods.Where(m => AgentWorld.Fuzzed.Contains(m.Name)).ToList(), messages, hostileFraming)));
        await ServerWorlds.RunAsync(target, gen, () => new AgentWorld(), corpus, smokeSamples, output);
    }
}

/// <summary>Fuzz targets run one at a time: each keeps a core busy, and the machine is shared.</summary>
[CollectionDefinition(Name)]
public sealed class FuzzCollection
{
    public const string Name = "fuzz";
}
