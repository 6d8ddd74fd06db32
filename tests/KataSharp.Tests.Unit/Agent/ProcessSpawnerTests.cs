using System.Text;
using KataSharp.Native;
using KataSharp.Native.Processes;
using KataSharp.Agent.Processes;
using Xunit;

namespace KataSharp.Tests.Unit.Agent;

/// <summary>posix_spawn through P/Invoke, waited for by pid (never waitpid(-1) in a shared test host).</summary>
public sealed class ProcessSpawnerTests
{
    [Fact]
    public void ChildGetsTheGivenStdioAndItsExitStatusIsDecoded()
    {
        var (read, write) = FdOps.CreatePipe();
        using (read)
        {
            int pid;
            using (write)
            {
                pid = ProcessSpawner.Spawn(new SpawnRequest(["/bin/sh", "-c", "echo hi; exit 3"], 0, write.Value, 2));
            }

            var status = SystemCalls.WaitChild(pid);

            Assert.Equal(3, WaitStatus.ToExitStatus(status));
            Assert.Equal("hi\n", ReadAll(read));
        }
    }

    [Fact]
    public void ChildStartsWithDefaultSignalsAndAnEmptyMask()
    {
        // The .NET runtime ignores SIGPIPE; a container must not inherit that.
        var (read, write) = FdOps.CreatePipe();
        using (read)
        {
            int pid;
            using (write)
            {
                pid = ProcessSpawner.Spawn(new SpawnRequest(["/bin/cat", "/proc/self/status"], 0, write.Value, 2) { NewSession = true });
            }

            var status = ReadAll(read);
            Assert.Equal(0, WaitStatus.ToExitStatus(SystemCalls.WaitChild(pid)));
            string Field(string name) => status.Split('\n').Single(l => l.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..].Trim();
            // Signals 1-31 (bits 0-30). glibc's posix_spawn leaves its internal 32 and 33 ignored, as
            // every posix_spawn does; glibc programs reinstall them and nothing else may use them.
            const ulong standardSignals = 0x7fffffff;
            Assert.Equal(0UL, Convert.ToUInt64(Field("SigIgn"), 16) & standardSignals);
            Assert.Equal(0UL, Convert.ToUInt64(Field("SigBlk"), 16));
        }
    }

    [Fact]
    public void ChildGetsNoFdItWasNotGiven_EvenOneWithoutCloseOnExec()
    {
        // A pipe without O_CLOEXEC stands for what a caller inherited (a harness's flock, a shell's pipe).
        var (read, write) = FdOps.CreatePipe();
        var (leakRead, leakWrite) = FdOps.CreatePipe();
        using (read)
        using (leakRead)
        using (leakWrite)
        {
            Assert.Equal(0, Libc.Fcntl(leakWrite.Value, Linux.F_SETFD, 0));
            Assert.Contains(leakWrite.Value, InheritedDescriptors.List());
            int pid;
            using (write)
            {
                pid = ProcessSpawner.Spawn(new SpawnRequest(["/bin/ls", "/proc/self/fd"], 0, write.Value, 2));
            }

            var fds = ReadAll(read).Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToList();
            Assert.Equal(0, WaitStatus.ToExitStatus(SystemCalls.WaitChild(pid)));
            // ls itself opens one fd for the directory it lists; nothing of ours is there.
            Assert.DoesNotContain(leakWrite.Value, fds);
            Assert.True(fds.Count(fd => fd > 2) <= 1, $"fds in the child: {string.Join(' ', fds)}");
        }
    }

    [Theory]
    [InlineData(new int[0], 3)]
    [InlineData(new[] { 0, 1, 2 }, 3)]
    [InlineData(new[] { 0, 1, 2, 5 }, 6)]
    public void FdsAboveTheOnesTheFileActionsSetUpAreClosed(int[] targets, int firstClosed)
    {
        var actions = targets.Select(t => (SpawnFileAction)new SpawnFileAction.Duplicate(0, t)).ToList();

        Assert.Equal(firstClosed, ProcessSpawner.FirstUnnamedFd(actions));
    }

    [Fact]
    public void RelativeProgramPathIsRefused()
    {
        Assert.Throws<ArgumentException>(() => ProcessSpawner.Spawn(new SpawnRequest(["sh"], 0, 1, 2)));
    }

    private static string ReadAll(OwnedFd fd)
    {
        var text = new StringBuilder();
        var buffer = new byte[4096];
        int n;
        while ((n = FdOps.ReadSome(fd.Value, buffer, "test")) > 0)
        {
            text.Append(Encoding.UTF8.GetString(buffer, 0, n));
        }

        return text.ToString();
    }
}
