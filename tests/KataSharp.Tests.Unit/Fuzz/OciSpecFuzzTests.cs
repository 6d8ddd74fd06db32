using System.Text.Json.Nodes;
using CsCheck;
using KataSharp.Agent.Containers;
using KataSharp.Protocol.Errors;
using KataSharp.Shim.Lifecycle;
using KataSharp.Shim.TaskService;
using Xunit.Abstractions;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>
/// The OCI config.json containerd writes, as both sides read it: the shim's BundleSpec and GuestSpecAdapter,
/// the agent's SpecTranslator and OciVersionNormalizer. Hostile input may only be refused with a precise error,
/// and whatever is accepted must keep the guest's rules: rootfs and bind sources inside the share, no hooks,
/// the agent's cgroup path, and a spec that serializes back to config.json.
/// </summary>
[Collection(FuzzCollection.Name)]
public sealed class OciSpecFuzzTests(ITestOutputHelper output)
{
    private const string SharedDir = "/run/katasharp/shared";

    [Fact]
    [Trait("Category", "Fuzz")]
    [Trait("FuzzTarget", "oci-spec")]
    public async Task SpecsFromContainerd()
    {
        var corpus = Corpus.Load("oci-spec");
        var bundle = Directory.CreateTempSubdirectory("ks-fuzz-bundle-").FullName;
        try
        {
            var gen = Gen.Frequency((3, JsonMutator.Mutations(corpus)), (1, ByteMutator.Mutations(corpus)));
            await FuzzRunner.RunAsync("oci-spec", Gen.Select(gen, Gen.UInt.Array[0, 8], (json, c) => (json, c)), input =>
            {
                var choices = new Choices(input.Item2);
                Shim(input.json, bundle);
                Agent(input.json, choices);
            }, corpus.Select(json => (json, Array.Empty<uint>())), smokeSamples: 1500, output,
            input => System.Text.Encoding.UTF8.GetString(input.json));
        }
        finally
        {
            Directory.Delete(bundle, recursive: true);
        }
    }

    private static void Shim(byte[] json, string bundle)
    {
        File.WriteAllBytes(Path.Combine(bundle, "config.json"), json);
        BundleSpec spec;
        try
        {
            spec = BundleSpec.Load(bundle);
        }
        catch (InvalidDataException)
        {
            return;
        }

        _ = (spec.CreatesSandbox, spec.GroupId("c1"), PodVm.NetworkNamespacePath(spec.Spec));
        try
        {
            HostNamespaceRefusal.Check(spec.Spec);
            ResourceFit.Require((spec.Spec["linux"] as JsonObject)?["resources"] as JsonObject, "c1", new VmSize(1, 256), new HostCapacity(2, 1024));
        }
        catch (KataSharpException e) when (e.Kind is ErrorKind.InvalidArgument or ErrorKind.FailedPrecondition)
        {
        }

        // The adapted spec goes to the agent as JSON: neither step may fail on what BundleSpec accepted.
        _ = GuestSpecAdapter.Adapt(spec.Spec).ToJsonString();
    }

    private static void Agent(byte[] json, Choices choices)
    {
        var rootfs = choices.Chance(3) ? HostileValues.String(choices) : "rootfs";
        var input = new SpecTranslationInput("c1", SharedDir, rootfs, choices.Chance(2), choices.Chance(2) ? 42 : null) { SharePidNamespace = choices.Chance(2) };
        JsonObject spec;
        try
        {
            spec = SpecTranslator.Translate(json, input);
        }
        catch (KataSharpException e) when (e.Kind is ErrorKind.InvalidArgument or ErrorKind.FailedPrecondition)
        {
            return;
        }

        Assert.StartsWith(SharedDir + "/", spec["root"]!["path"]!.GetValue<string>() + "/");
        Assert.Null(spec["hooks"]);
        Assert.Equal(SpecTranslator.CgroupsPath("c1"), spec["linux"]!["cgroupsPath"]!.GetValue<string>());
        foreach (var mount in (spec["mounts"] as JsonArray ?? []).OfType<JsonObject>().Where(SpecTranslator.IsBindMount))
        {
            Assert.StartsWith(SharedDir + "/", mount["source"]!.GetValue<string>() + "/");
        }

        _ = spec.ToJsonString();
        if (spec["process"] is JsonObject process)
        {
            try
            {
                _ = SpecTranslator.TranslateProcess(System.Text.Encoding.UTF8.GetBytes(process.ToJsonString()), terminal: false).ToJsonString();
            }
            catch (KataSharpException e) when (e.Kind is ErrorKind.InvalidArgument or ErrorKind.FailedPrecondition)
            {
            }
        }
    }
}
