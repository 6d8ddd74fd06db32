using System.Diagnostics;
using Xunit.Abstractions;

namespace KataSharp.Tests.EndToEnd.Behaviour;

/// <summary>
/// The CRI behaviour suite: every check of <see cref="BehaviourCatalog"/> under runc and under katasharp,
/// against one containerd (the classes below), as a table in the test output and on stderr. The two handlers run
/// side by side, each <see cref="ChecksAtOnce"/> checks at a time: a check's pods, containers, names and scratch
/// directory are its own, so checks do not see each other (what they share is the handler's shared pod, where each
/// starts containers of its own). It fails when a
/// check is broken (runc fails it), when katasharp fails what runc passes outside <see cref="VmLimitations"/>,
/// and when katasharp leaves anything behind. <c>KATASHARP_CHECKS=substring</c> runs only the checks whose
/// name contains one of its comma-separated strings.
/// </summary>
public abstract class BehaviourSuite
{
    private static readonly string[] Handlers = ["runc", "katasharp"];

    /// <summary>
    /// Checks in flight per handler. Most of a check's time is waiting on containerd, the shim and the VM, not CPU;
    /// more than two at a time only queues up on a two-core machine under TCG.
    /// </summary>
    private const int ChecksAtOnce = 2;
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromMinutes(5);
    private readonly ContainerdFixture _containerd;
    private readonly ITestOutputHelper _output;

    protected BehaviourSuite(ContainerdFixture containerd, ITestOutputHelper output)
    {
        _containerd = containerd;
        _output = output;
    }

    [ContainerdFact]
    public async Task EveryCheck_BehavesUnderKataSharpAsUnderRunc()
    {
        var checks = BehaviourCatalog.Selected();
        Assert.True(checks.Count > 0, $"KATASHARP_CHECKS={Environment.GetEnvironmentVariable("KATASHARP_CHECKS")} matches no check");
        using var cri = new CriClient(_containerd.CriSocket);
        var results = await Task.WhenAll(Handlers.Select(handler => RunAllAsync(cri, handler, checks)));
        var outcomes = Handlers.Zip(results).ToDictionary(r => r.First, r => r.Second);

        var report = new BehaviourReport();
        for (var i = 0; i < checks.Count; i++)
        {
            report.Add(checks[i], outcomes["runc"][i], outcomes["katasharp"][i]);
        }

        var table = report.Render(_containerd.Release.Name);
        _output.WriteLine(table);
        // On stderr too, so that the table shows in ./build.sh test's log (which keeps lines so marked) whatever the verdict.
        foreach (var line in table.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            Console.Error.WriteLine($"[behaviour] {line}");
        }

        await CriTests.AssertNothingLeftAsync(_containerd, "");
        Assert.True(report.Problems.Count == 0, string.Join("\n", report.Problems));
    }

    private async Task<IReadOnlyList<CheckOutcome>> RunAllAsync(CriClient cri, string handler, IReadOnlyList<BehaviourCheck> checks)
    {
        var outcomes = new CheckOutcome[checks.Count];
        await using var session = new HandlerSession(cri, handler, _containerd);
        await Parallel.ForEachAsync(Enumerable.Range(0, checks.Count), new ParallelOptions { MaxDegreeOfParallelism = ChecksAtOnce }, async (i, _) =>
        {
            var clock = Stopwatch.StartNew();
            outcomes[i] = await RunAsync(session, checks[i]);
            _output.WriteLine($"{checks[i].Name} [{handler}]: {(outcomes[i].Passed ? "passed" : "failed")} after {clock.Elapsed.TotalSeconds:F1} s");
        });

        return outcomes;
    }

    private static async Task<CheckOutcome> RunAsync(HandlerSession session, BehaviourCheck check)
    {
        var outcome = CheckOutcome.Pass;
        var context = new CheckContext(session, check);
        try
        {
            await check.Body(context).WaitAsync(CheckTimeout);
        }
        catch (Exception e)
        {
            outcome = CheckOutcome.Of(e);
        }

        try
        {
            await context.DisposeAsync();
        }
        catch (Exception e) when (outcome.Passed)
        {
            outcome = CheckOutcome.Of(e);
        }
        catch (Exception)
        {
            // The body's failure is the one worth reporting.
        }

        return outcome;
    }
}

[Collection(KataSharpContainerdCollection.Name)]
public sealed class BehaviourSuiteOnContainerd16(KataSharpContainerd containerd, ITestOutputHelper output) : BehaviourSuite(containerd, output);

[Collection(KataSharpContainerd2Collection.Name)]
public sealed class BehaviourSuiteOnContainerd2(KataSharpContainerd2 containerd, ITestOutputHelper output) : BehaviourSuite(containerd, output);
