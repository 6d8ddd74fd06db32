using System.Diagnostics;
using KataSharp.Native.Processes;

namespace KataSharp.Shim.Lifecycle;

/// <summary>
/// <c>start</c>: make sure the pod's shim daemon serves, then print its address (see
/// <see cref="StartReply"/>) and nothing else.
/// containerd reads stdout and stderr together, and waits for both to close, so the daemon must
/// not inherit them and no log line may reach them.
/// </summary>
internal static class StartCommand
{
    private static readonly TimeSpan ServeTimeout = TimeSpan.FromSeconds(20);

    /// <summary>What is kept of the daemon's stdout and stderr: before it swaps them out it prints at most a startup error.</summary>
    internal const int MaxCapturedBytes = 64 * 1024;

    public static async Task<int> RunAsync(ShimArguments args, TextWriter stdout, TextWriter stderr)
    {
        var bundle = string.IsNullOrEmpty(args.Bundle) ? Directory.GetCurrentDirectory() : args.Bundle;
        if (string.IsNullOrEmpty(args.Id))
        {
            await stderr.WriteLineAsync("start: -id is required").ConfigureAwait(false);
            return 1;
        }

        BundleSpec spec;
        try
        {
            spec = BundleSpec.Load(bundle);
        }
        catch (InvalidDataException e)
        {
            await stderr.WriteLineAsync($"start: {e.Message}").ConfigureAwait(false);
            return 1;
        }

        // Asking containerd its release runs while the daemon boots.
        var taskApiVersion = StartReply.NegotiateAsync(Environment.GetEnvironmentVariable(StartReply.MaxShimVersionVariable), args.PublishBinary, CancellationToken.None);
        var address = ShimSocket.AddressFor(args.Address, args.Namespace, spec.GroupId(args.Id));
        var socketPath = ShimSocket.PathOf(address);
        Directory.CreateDirectory(ShimSocket.Directory);

        // Two containers of one pod may start at once: only one of them may spawn the daemon.
        await using (var groupLock = await AcquireLockAsync(socketPath + ".lock").ConfigureAwait(false))
        {
            if (!ShimSocket.IsServing(socketPath))
            {
                if (File.Exists(socketPath))
                {
                    File.Delete(socketPath);
                }

                var error = await SpawnDaemonAsync(args, bundle, socketPath).ConfigureAwait(false);
                if (error is not null)
                {
                    await stderr.WriteLineAsync($"start: {error}").ConfigureAwait(false);
                    return 1;
                }
            }
        }

        await File.WriteAllTextAsync(Path.Combine(bundle, "address"), address).ConfigureAwait(false);
        await stdout.WriteAsync(StartReply.Format(address, await taskApiVersion.ConfigureAwait(false))).ConfigureAwait(false);
        await stdout.FlushAsync().ConfigureAwait(false);
        return 0;
    }

    private static async Task<string?> SpawnDaemonAsync(ShimArguments args, string bundle, string socketPath)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath ?? throw new InvalidOperationException("no process path"))
        {
            WorkingDirectory = bundle,
            UseShellExecute = false,
            // Pipes rather than inheritance: the daemon replaces them with /dev/null and the log FIFO at once.
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "-namespace", args.Namespace, "-id", args.Id, "-address", args.Address, "-publish-binary", args.PublishBinary, "-bundle", bundle, "-socket", socketPath })
        {
            start.ArgumentList.Add(arg);
        }

        if (args.Debug)
        {
            start.ArgumentList.Add("-debug");
        }

        using var daemon = Process.Start(start);
        if (daemon is null)
        {
            return "could not start the shim daemon";
        }

        daemon.StandardInput.Close();
        var stderr = new BoundedCapture(MaxCapturedBytes);
        using var stopDrain = new CancellationTokenSource();
        // Drained from the start, so a daemon that fails loudly is never stuck writing to a full pipe.
        var drained = Task.WhenAll(
            new BoundedCapture(MaxCapturedBytes).DrainAsync(daemon.StandardOutput.BaseStream, stopDrain.Token),
            stderr.DrainAsync(daemon.StandardError.BaseStream, stopDrain.Token));
        var deadline = DateTime.UtcNow + ServeTimeout;
        try
        {
            while (DateTime.UtcNow < deadline)
            {
                if (ShimSocket.IsServing(socketPath))
                {
                    return null;
                }

                if (daemon.HasExited)
                {
                    // A descendant still holding its stderr must not hold start past the deadline.
                    stopDrain.CancelAfter(Remaining(deadline));
                    await Task.WhenAny(drained).ConfigureAwait(false);
                    return $"the shim daemon exited with {daemon.ExitCode}: {stderr.Text().Trim()}";
                }

                await Task.Delay(10).ConfigureAwait(false);
            }

            daemon.Kill();
            return $"the shim daemon did not listen on {socketPath} within {ServeTimeout.TotalSeconds} s";
        }
        finally
        {
            await stopDrain.CancelAsync().ConfigureAwait(false);
            await Task.WhenAny(drained).ConfigureAwait(false);
        }
    }

    private static TimeSpan Remaining(DateTime deadline)
    {
        var left = deadline - DateTime.UtcNow;
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    private static async Task<FileStream> AcquireLockAsync(string path)
    {
        var deadline = DateTime.UtcNow + ServeTimeout;
        while (true)
        {
            try
            {
                // FileShare.None takes an exclusive flock on Unix.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20).ConfigureAwait(false);
            }
        }
    }
}
