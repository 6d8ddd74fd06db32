using System.Diagnostics;
using System.Security.Cryptography;
using KataSharp.Runtime.Sandbox;
using KataSharp.Runtime.Stdio;
using KataSharp.Tests.Integration.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Tests.Integration.Library;

/// <summary>
/// Back-pressure end to end, as under runc: a container whose stdout goes to a FIFO nobody reads blocks on its own
/// write, and nothing else stops: the other containers of the pod run and are heard. Once the FIFO is read, every
/// byte arrives and the container finishes.
/// </summary>
[Collection(SharedSandboxCollection.Name)]
public sealed class OutputBackPressureTests(SharedSandboxFixture fixture)
{
    /// <summary>Far more than every buffer on the way holds (pipes, the agent's and the host's bounds).</summary>
    private const int Size = 8 * 1024 * 1024;

    [Fact]
    public async Task A_fifo_nobody_reads_blocks_only_its_own_container_and_loses_nothing()
    {
        var work = TestEnvironment.NewWorkDirectory("backpressure");
        var fifo = Path.Combine(work, "stdout");
        using (var mkfifo = Process.Start("mkfifo", ["-m", "0600", fifo]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        var id = $"stalled-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}";
        var rootfs = await BusyboxRootfs.CopyAsync(id);
        var marker = Path.Combine(rootfs, "tmp", "wrote-all");
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        var stalled = await fixture.Sandbox.CreateContainerAsync(new ContainerOptions
        {
            Id = id,
            Spec = DefaultSpec.Create(new SpecOptions { Args = ["sh", "-c", $"head -c {Size} /dev/zero; touch /tmp/wrote-all"], Hostname = "stalled" }),
            RootfsDirectory = rootfs,
        }, timeout.Token);
        var stderr = new OutputCapture.CaptureStream();
        var bridge = new StdioBridge(stalled.Init, NullLogger.Instance);
        try
        {
            // Opened read-write, as the shim opens containerd's FIFOs: no reader is needed to open it.
            var writer = new FileStream(File.OpenHandle(fifo, FileMode.Open, FileAccess.ReadWrite), FileAccess.Write, 0);
            bridge.Start(writer, stderr, terminal: false, openStdin: null);
            await stalled.StartAsync(timeout.Token);

            // Another container of the same pod runs to its end and is heard while the first one's stdout is stuck.
            var (exit, stdout, _) = await fixture.RunAsync("neighbour", "sh", "-c", "head -c 1048576 /dev/urandom | wc -c; echo neighbour-done");
            Assert.Equal(0, exit.ExitCode);
            Assert.Equal("1048576\nneighbour-done\n", stdout);

            // The stuck one has not got past its write: it is blocked, not finished and not failing.
            var wait = stalled.Init.WaitAsync(timeout.Token);
            Assert.False(wait.IsCompleted, "the container finished though nobody read its stdout");
            Assert.False(File.Exists(marker), "the container wrote everything though nobody read its stdout");
            Assert.False(bridge.OutputDone.IsCompleted);

            // Now somebody reads: every byte arrives, in order, and the container finishes.
            await using var reader = new FileStream(fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 0);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[256 * 1024];
            long total = 0;
            int n;
            while ((n = await reader.ReadAsync(buffer, timeout.Token)) > 0)
            {
                hash.AppendData(buffer, 0, n);
                total += n;
            }

            Assert.Equal(Size, total);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(new byte[Size])), Convert.ToHexStringLower(hash.GetHashAndReset()));
            Assert.Equal(0, (await wait).ExitCode);
            Assert.True(File.Exists(marker));
            await bridge.OutputDone.WaitAsync(TestEnvironment.OperationTimeout);
            Assert.Equal("", stderr.Text);
        }
        finally
        {
            if (!bridge.OutputDone.IsCompleted)
            {
                // A failed run: read the FIFO empty so the bridge's writer is not left blocked in this process.
                _ = Task.Run(async () =>
                {
                    await using var drain = new FileStream(fifo, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 0);
                    await drain.CopyToAsync(Stream.Null).WaitAsync(TestEnvironment.OperationTimeout);
                });
            }

            await bridge.DisposeAsync();
            await stalled.RemoveAsync(CancellationToken.None);
            if (Leftovers.MountPointsUnder(rootfs).Count == 0)
            {
                Directory.Delete(Path.GetDirectoryName(rootfs)!, recursive: true);
            }
        }
    }
}
