using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Library;

/// <summary>Containers of one sandbox share one guest kernel (the VM) and nothing else that a container owns.</summary>
[Collection(SharedSandboxCollection.Name)]
public sealed class TwoContainersTests(SharedSandboxFixture fixture)
{
    private const string Report = "echo boot_id=$(cat /proc/sys/kernel/random/boot_id); echo kernel=$(uname -r); echo pid=$$; echo host=$(hostname); read wait_for_the_host; exit 0";

    [Fact]
    public async Task Two_running_containers_see_the_same_guest_kernel_and_boot_id()
    {
        await using var first = await fixture.StartAsync("first", ["sh", "-c", Report], stdin: true);
        await using var second = await fixture.StartAsync("second", ["sh", "-c", Report], stdin: true);

        // Both are running at the same time: each waits on its stdin after reporting.
        var a = Parse(await first.Output.Stdout.WaitForAsync(t => t.Contains("host=", StringComparison.Ordinal) && t.EndsWith('\n'), "the first report"));
        var b = Parse(await second.Output.Stdout.WaitForAsync(t => t.Contains("host=", StringComparison.Ordinal) && t.EndsWith('\n'), "the second report"));

        Assert.Matches("^[0-9a-f-]{36}$", a["boot_id"]);
        Assert.Equal(a["boot_id"], b["boot_id"]);
        Assert.Equal(fixture.Sandbox.Agent.GuestDetails.BootId, a["boot_id"]);
        Assert.Equal(TestEnvironment.KernelRelease, a["kernel"]);
        Assert.Equal(a["kernel"], b["kernel"]);
        Assert.NotEqual(File.ReadAllText("/proc/sys/kernel/osrelease").Trim(), a["kernel"]);
        // ...but each has its own PID namespace and UTS namespace.
        Assert.Equal("1", a["pid"]);
        Assert.Equal("1", b["pid"]);
        Assert.Equal("first", a["host"]);
        Assert.Equal("second", b["host"]);

        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        await fixture.Sandbox.Agent.CloseStdinAsync(first.Id, "", timeout.Token);
        await fixture.Sandbox.Agent.CloseStdinAsync(second.Id, "", timeout.Token);
        Assert.Equal(0, (await first.WaitAsync()).ExitCode);
        Assert.Equal(0, (await second.WaitAsync()).ExitCode);
    }

    private static Dictionary<string, string> Parse(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2))
            .Where(kv => kv.Length == 2)
            .ToDictionary(kv => kv[0], kv => kv[1].Trim());
}
