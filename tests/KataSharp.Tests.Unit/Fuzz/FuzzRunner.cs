using CsCheck;
using Xunit.Abstractions;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>
/// Runs one fuzz target: the corpus first, then generated inputs. In <c>./build.sh test</c> that is a
/// deterministic smoke (a fixed number of samples from fixed PCG streams, so a failure names the
/// seed that reproduces it); with KATASHARP_FUZZ_SECONDS set (<c>./build.sh fuzz</c>) CsCheck samples
/// for that long from random seeds and shrinks any failure to a minimal input.
/// </summary>
internal static class FuzzRunner
{
    private const ulong SmokeSeed = 0x4B61746153686172;

    /// <summary>No input may take longer than this, whatever the oracle waits for inside.</summary>
    private static readonly TimeSpan InputBound = TimeSpan.FromSeconds(120);

    /// <summary>Seconds of long fuzzing per target; 0 means the smoke.</summary>
    public static int LongSeconds =>
        int.TryParse(Environment.GetEnvironmentVariable("KATASHARP_FUZZ_SECONDS"), out var seconds) && seconds > 0 ? seconds : 0;

    public static async Task RunAsync<T>(string target, Gen<T> gen, Func<T, Task> property, IEnumerable<T> corpus, int smokeSamples,
        ITestOutputHelper output, Func<T, string> print)
    {
        long executions = 0;
        async Task Once(T input)
        {
            Interlocked.Increment(ref executions);
            try
            {
                var run = property(input);
                if (await Task.WhenAny(run, Task.Delay(InputBound)) != run)
                {
                    throw new TimeoutException($"the input hung for {InputBound.TotalSeconds} s");
                }

                await run;
            }
            catch
            {
                // While CsCheck shrinks, each failing input is smaller than the last: the file ends with the minimal one.
                await KeepFindingAsync(target, print(input));
                throw;
            }
        }

        var replayed = 0;
        foreach (var entry in corpus)
        {
            await Checked(target, $"corpus entry {replayed++}", entry, Once, print);
        }

        var started = DateTime.UtcNow;
        if (LongSeconds == 0)
        {
            for (var i = 0; i < smokeSamples; i++)
            {
                var pcg = new PCG((uint)i, SmokeSeed);
                var seed = pcg.ToString();
                var input = gen.Generate(pcg, null, out _);
                await Checked(target, $"smoke sample {i} (KATASHARP_FUZZ_SEED={seed})", input, Once, print);
            }
        }
        else
        {
            await gen.SampleAsync(Once, output.WriteLine, seed: Environment.GetEnvironmentVariable("KATASHARP_FUZZ_SEED"),
                iter: long.MaxValue, time: LongSeconds, threads: 1, print: print);
        }

        Report(target, Interlocked.Read(ref executions), replayed, DateTime.UtcNow - started, output);
    }

    public static Task RunAsync<T>(string target, Gen<T> gen, Action<T> property, IEnumerable<T> corpus, int smokeSamples,
        ITestOutputHelper output, Func<T, string> print) =>
        RunAsync(target, gen, input =>
        {
            property(input);
            return Task.CompletedTask;
        }, corpus, smokeSamples, output, print);

    private static async Task Checked<T>(string target, string what, T input, Func<T, Task> once, Func<T, string> print)
    {
        try
        {
            await once(input);
        }
        catch (Exception e)
        {
            var shown = print(input);
            throw new FuzzFindingException($"fuzz target {target}: {what} failed: {e.GetType().Name}: {e.Message}\ninput: {(shown.Length > 4000 ? shown[..4000] + "…" : shown)}", e);
        }
    }

    /// <summary>The whole failing input, for minimizing it into a regression test, under KATASHARP_FUZZ_FINDINGS.</summary>
    private static async Task KeepFindingAsync(string target, string input)
    {
        if (Environment.GetEnvironmentVariable("KATASHARP_FUZZ_FINDINGS") is { Length: > 0 } findings)
        {
            Directory.CreateDirectory(findings);
            await File.WriteAllTextAsync(Path.Combine(findings, $"{target}.txt"), input);
        }
    }

    /// <summary>One line per target run, to the test output and to KATASHARP_FUZZ_REPORT (which ./build.sh fuzz prints).</summary>
    private static void Report(string target, long executions, int corpus, TimeSpan elapsed, ITestOutputHelper output)
    {
        var line = $"fuzz {target}: {executions} executions ({corpus} corpus), 0 failures, {elapsed.TotalSeconds:0.0} s, mode {(LongSeconds == 0 ? "smoke" : "long")}";
        output.WriteLine(line);
        if (Environment.GetEnvironmentVariable("KATASHARP_FUZZ_REPORT") is { Length: > 0 } report)
        {
            lock (typeof(FuzzRunner))
            {
                File.AppendAllText(report, line + Environment.NewLine);
            }
        }
    }
}

/// <summary>An input that broke a fuzz oracle; the message carries the input and how to reproduce it.</summary>
internal sealed class FuzzFindingException(string message, Exception inner) : Exception(message, inner);
