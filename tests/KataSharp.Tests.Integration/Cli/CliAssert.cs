using KataSharp.Runtime.Sandbox;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Cli;

internal static class CliAssert
{
    /// <summary>A fresh sandbox id (the CLI's --name) for one test.</summary>
    public static string NewId(string prefix) => $"{prefix}-{SandboxManager.NewId()[..6]}";

    /// <summary>The sandbox left no QEMU, mount, socket or directory.</summary>
    public static void NoTraceOf(string sandboxId)
    {
        var directory = SandboxPaths.For(TestEnvironment.StateDirectory, sandboxId).Directory;
        Assert.Empty(Leftovers.QemuProcesses(directory));
        Assert.Empty(Leftovers.MountPointsUnder(directory));
        Assert.Empty(Leftovers.UnixSocketsUnder(directory));
        Assert.False(Directory.Exists(directory), $"{directory} was left behind");
    }

    /// <summary>No sandbox of this run exists at all (for commands whose sandbox id the test does not know).</summary>
    public static void NoSandboxes()
    {
        Assert.Empty(Leftovers.QemuProcesses(TestEnvironment.StateDirectory));
        Assert.Empty(Leftovers.SandboxDirectories(TestEnvironment.StateDirectory));
        Assert.Empty(Leftovers.MountPointsUnder(TestEnvironment.StateDirectory));
    }
}
