using CsCheck;
using Xunit.Abstractions;
using TaskApi = KataSharp.Protocol.Containerd.Task.V2.Task;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>
/// The shim as containerd's ttrpc server: hostile framing and dispatch (ttrpc-shim), and the Task API's handlers
/// with random and mutated protobuf, v2 and v3 names alike (shim-rpc).
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed class ShimFuzzTests(ITestOutputHelper output)
{
    [Fact]
    [Trait("Category", "Fuzz")]
    [Trait("FuzzTarget", "ttrpc-shim")]
    public Task TtrpcFramingAndDispatch() => RunAsync("ttrpc-shim", hostileFraming: true, smokeSamples: 1500);

    [Fact]
    [Trait("Category", "Fuzz")]
    [Trait("FuzzTarget", "shim-rpc")]
    public Task TaskApiHandlers() => RunAsync("shim-rpc", hostileFraming: false, smokeSamples: 1500);

    private async Task RunAsync(string target, bool hostileFraming, int smokeSamples)
    {
        var corpus = Corpus.Load(target);
        var messages = new ProtoMessages(Corpus.Load("oci-spec"));
        var methods = TaskApi.Descriptor.Methods.ToList();
        var gen = Gen.Frequency(
            (1, ByteMutator.Mutations(corpus)),
            (1, WireInputs.Calls(ShimWorld.Service, methods, messages, hostileFraming)),
            (1, WireInputs.Calls(ShimWorld.ServiceV3, methods, messages, hostileFraming)));
        await ServerWorlds.RunAsync(target, gen, () => new ShimWorld(), corpus, smokeSamples, output);
    }
}
