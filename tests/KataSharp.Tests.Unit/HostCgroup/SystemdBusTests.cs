using System.Diagnostics;
using KataSharp.Shim.HostCgroup;

namespace KataSharp.Tests.Unit.HostCgroup;

/// <summary>A fact that needs systemd as the host's init and root to start units; elsewhere it is skipped with the reason.</summary>
public sealed class SystemdFactAttribute : FactAttribute
{
    public SystemdFactAttribute()
    {
        if (SystemdBus.Connect(out var reason) is null)
        {
            Skip = $"needs systemd's manager on the system bus: {reason}";
        }
        else if (!Environment.IsPrivilegedProcess)
        {
            Skip = "needs root to start a transient unit";
        }
    }
}

public sealed class SystemdBusTests
{
    [SystemdFact]
    public async Task AScopeStartedOverDBusHoldsTheProcessInTheSlice()
    {
        using var sleeper = Process.Start(new ProcessStartInfo("sleep", "60"))!;
        var scope = new TransientScope($"katasharp-test-{Guid.NewGuid():N}.scope", "system.slice", (uint)sleeper.Id);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await SystemdBus.Connect(out _)!.StartTransientScopeAsync(scope, timeout.Token);

            var cgroups = await File.ReadAllTextAsync($"/proc/{sleeper.Id}/cgroup");
            Assert.Contains($"/system.slice/{scope.Unit}", cgroups, StringComparison.Ordinal);
        }
        finally
        {
            // systemd stops the emptied scope.
            sleeper.Kill();
        }
    }
}
