using KataSharp.Native;
using KataSharp.Native.Processes;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Processes;

/// <summary>What a helper command printed and how it ended.</summary>
internal sealed record CommandResult(int ExitStatus, string Stdout, string Stderr)
{
    public bool Succeeded => ExitStatus == 0;

    /// <summary>The most useful text for an error message: stderr, else stdout.</summary>
    public string Diagnostics => (Stderr.Trim().Length > 0 ? Stderr : Stdout).Trim();
}

/// <summary>
/// Runs helper programs (crun, busybox ip) through the reaper, each bounded by a timeout.
/// </summary>
internal sealed partial class CommandRunner
{
    /// <summary>What is kept of each stream: a helper's answer (crun state, ip output) is far smaller.</summary>
    internal const int MaxCapturedBytes = 4 * 1024 * 1024;

    // Once the process has exited, output still buffered in the pipe is drained for this long;
    // a grandchild that inherited the pipe must not hold the call open.
    private const int DrainAfterExitMilliseconds = 200;

    private readonly ChildReaper _reaper;
    private readonly ILogger _logger;

    public CommandRunner(ChildReaper reaper, ILogger<CommandRunner> logger)
    {
        _reaper = reaper;
        _logger = logger;
    }

    /// <summary>Runs a command, feeding <paramref name="stdin"/> and capturing stdout and stderr.</summary>
    /// <exception cref="TimeoutException">It ran longer than <paramref name="timeout"/> and was killed.</exception>
    public async Task<CommandResult> RunAsync(IReadOnlyList<string> argv, TimeSpan timeout, CancellationToken cancellationToken,
        ReadOnlyMemory<byte> stdin = default)
    {
        var (stdinRead, stdinWrite) = FdOps.CreatePipe();
        var (stdoutRead, stdoutWrite) = FdOps.CreatePipe();
        var (stderrRead, stderrWrite) = FdOps.CreatePipe();
        using (stdinWrite)
        using (stdoutRead)
        using (stderrRead)
        {
            int pid;
            Task<ProcessExit> exit;
            using (stdinRead)
            using (stdoutWrite)
            using (stderrWrite)
            {
                (pid, exit) = _reaper.Spawn(new SpawnRequest(argv, stdinRead.Value, stdoutWrite.Value, stderrWrite.Value) { NewSession = true });
            }

            LogStarted(_logger, pid, string.Join(' ', argv));
            FdOps.SetNonBlocking(stdinWrite.Value);
            FdOps.SetNonBlocking(stdoutRead.Value);
            FdOps.SetNonBlocking(stderrRead.Value);

            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            var io = Task.Factory.StartNew(
                () => PumpIo(stdin, stdinWrite, stdoutRead, stderrRead, exit, deadline.Token),
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            try
            {
                var (stdout, stderr) = await io.ConfigureAwait(false);
                var result = await exit.WaitAsync(deadline.Token).ConfigureAwait(false);
                return new CommandResult(result.ExitStatus, stdout, stderr);
            }
            catch (OperationCanceledException)
            {
                SystemCalls.Kill(pid, Linux.SIGKILL);
                await exit.ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                throw new TimeoutException($"{argv[0]} {string.Join(' ', argv.Skip(1).Take(3))} did not finish within {timeout.TotalSeconds:0.#} s");
            }
        }
    }

    /// <summary>
    /// Runs a command on the given stdio fds (which its descendants may keep, as a container's
    /// init keeps crun's) and returns its exit status.
    /// </summary>
    public async Task<int> RunWithStdioAsync(IReadOnlyList<string> argv, int stdin, int stdout, int stderr, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var (pid, exit) = _reaper.Spawn(new SpawnRequest(argv, stdin, stdout, stderr) { NewSession = true });
        LogStarted(_logger, pid, string.Join(' ', argv));
        try
        {
            var result = await exit.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return result.ExitStatus;
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            SystemCalls.Kill(pid, Linux.SIGKILL);
            await exit.ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw new TimeoutException($"{argv[0]} {string.Join(' ', argv.Skip(1).Take(3))} did not finish within {timeout.TotalSeconds:0.#} s");
        }
    }

    private static (string Stdout, string Stderr) PumpIo(ReadOnlyMemory<byte> stdin, OwnedFd stdinWrite, OwnedFd stdoutRead, OwnedFd stderrRead,
        Task<ProcessExit> exit, CancellationToken cancellationToken)
    {
        var stdout = new BoundedCapture(MaxCapturedBytes);
        var stderr = new BoundedCapture(MaxCapturedBytes);
        var buffer = new byte[16384];
        var stdinOffset = 0;
        if (stdin.IsEmpty)
        {
            stdinWrite.Dispose();
        }

        var stdoutOpen = true;
        var stderrOpen = true;
        long drainUntil = 0;
        Span<PollFd> fds = stackalloc PollFd[3];
        while (stdoutOpen || stderrOpen)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (exit.IsCompleted)
            {
                var now = Environment.TickCount64;
                if (drainUntil == 0)
                {
                    drainUntil = now + DrainAfterExitMilliseconds;
                }
                else if (now > drainUntil)
                {
                    break;
                }
            }

            var count = 0;
            if (stdoutOpen)
            {
                fds[count++] = new PollFd { Fd = stdoutRead.Value, Events = Linux.POLLIN };
            }

            if (stderrOpen)
            {
                fds[count++] = new PollFd { Fd = stderrRead.Value, Events = Linux.POLLIN };
            }

            if (!stdinWrite.IsClosed)
            {
                fds[count++] = new PollFd { Fd = stdinWrite.Value, Events = Linux.POLLOUT };
            }

            Poll(fds[..count], 50);
            for (var i = 0; i < count; i++)
            {
                var fd = fds[i];
                if (fd.ReturnedEvents == 0)
                {
                    continue;
                }

                if (fd.Fd == stdinWrite.Value)
                {
                    stdinOffset += WriteSome(fd.Fd, stdin.Span[stdinOffset..]);
                    if (stdinOffset >= stdin.Length || (fd.ReturnedEvents & (Linux.POLLERR | Linux.POLLHUP)) != 0)
                    {
                        stdinWrite.Dispose();
                    }

                    continue;
                }

                var target = fd.Fd == stdoutRead.Value ? stdout : stderr;
                var n = FdOps.ReadSome(fd.Fd, buffer, "command output");
                if (n > 0)
                {
                    target.Append(buffer.AsSpan(0, n));
                }
                else if (n == 0)
                {
                    if (fd.Fd == stdoutRead.Value)
                    {
                        stdoutOpen = false;
                    }
                    else
                    {
                        stderrOpen = false;
                    }
                }
            }
        }

        stdinWrite.Dispose();
        return (stdout.Text(), stderr.Text());
    }

    private static unsafe void Poll(Span<PollFd> fds, int timeoutMilliseconds)
    {
        fixed (PollFd* p = fds)
        {
            if (Libc.Poll(p, (nuint)fds.Length, timeoutMilliseconds) < 0)
            {
                var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno != Linux.EINTR)
                {
                    throw new ErrnoException("poll", errno);
                }
            }
        }
    }

    private static unsafe int WriteSome(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            var n = Libc.Write(fd, p, data.Length);
            // EAGAIN: nothing written this round. EPIPE: the command closed stdin; stop feeding it.
            return n > 0 ? (int)n : n == 0 ? 0 : System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == Linux.EAGAIN ? 0 : data.Length;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "started pid {Pid}: {CommandLine}")]
    private static partial void LogStarted(ILogger logger, int pid, string commandLine);
}
