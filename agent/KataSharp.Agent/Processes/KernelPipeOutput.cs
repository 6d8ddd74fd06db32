using KataSharp.Native;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Processes;

/// <summary>
/// A process's output pipe that ReadOutput answers from directly: a read waits until the pipe holds bytes, asks how
/// many (FIONREAD), and hands them out as <see cref="PipedBytes"/> still in the pipe, which the ttrpc server then
/// splices into the virtio-serial port. The agent never copies them, where a pump reading them into a buffer
/// copied each byte four times on the guest's one vCPU. The kernel pipe (<see cref="OutputPipe.KernelPipeBytes"/>)
/// is the only buffer, so a host that stops reading stops the process through its own output, as a full FIFO
/// does under runc. A small thread sleeps in poll while a reader waits, so no pool thread ever blocks.
/// </summary>
internal sealed partial class KernelPipeOutput : IProcessOutput
{
    private readonly OwnedFd _fd;
    private readonly OwnedFd _wakeRead;
    private readonly OwnedFd _wakeWrite;
    private readonly string _name;
    private readonly SemaphoreSlim _readGate = new(1, 1);
    private readonly SemaphoreSlim _armed = new(0);
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _watcherDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource? _ready;
    private ILogger? _logger;
    private bool _started;
    private bool _closing;

    /// <summary>Takes ownership of <paramref name="fd"/>, the read end of the process's pipe.</summary>
    public KernelPipeOutput(OwnedFd fd, string name)
    {
        _fd = fd;
        _name = name;
        FdOps.SetNonBlocking(fd.Value);
        (_wakeRead, _wakeWrite) = FdOps.CreatePipe();
    }

    /// <summary>Completes once a reader saw the end of the stream, or the stream was abandoned and its fd closed.</summary>
    public Task Finished => _finished.Task;

    /// <summary>The read end; valid while a <see cref="PipedBytes"/> of this output is out.</summary>
    internal int Fd => _fd.Value;

    public void Start(ILogger logger)
    {
        lock (_lock)
        {
            if (_started || _closing)
            {
                return;
            }

            _started = true;
            _logger = logger;
            if (_ready is not null)
            {
                // A reader came before the watcher and is waiting for it.
                _armed.Release();
            }
        }

        new Thread(Watch, 64 * 1024) { IsBackground = true, Name = $"out {_name}" }.Start();
    }

    public async Task<OutputChunk> ReadAsync(int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        await _readGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var handedOut = false;
        try
        {
            while (true)
            {
                if (Volatile.Read(ref _closing))
                {
                    return OutputChunk.End;
                }

                var available = FdOps.BytesReadable(_fd.Value);
                if (available > 0)
                {
                    handedOut = true;
                    return new OutputChunk([], false, new PipedBytes(this, Math.Min(available, maxBytes)));
                }

                var events = FdOps.PollOne(_fd.Value, Linux.POLLIN, 0);
                if ((events & Linux.POLLIN) != 0)
                {
                    continue;
                }

                if ((events & (Linux.POLLHUP | Linux.POLLERR)) != 0)
                {
                    // Empty, and every writer has closed its end.
                    _finished.TrySetResult();
                    return OutputChunk.End;
                }

                await WhenReadable().WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            if (!handedOut)
            {
                _readGate.Release();
            }
        }
    }

    /// <summary>
    /// Readers see the end, and the fd closes once no read and no <see cref="PipedBytes"/> holds it: a process still
    /// writing then gets EPIPE, as it would from a closed FIFO. What the pipe held is dropped with it.
    /// </summary>
    public void Abandon()
    {
        bool started;
        lock (_lock)
        {
            if (_closing)
            {
                return;
            }

            _closing = true;
            started = _started;
            _ready?.TrySetResult();
            _ready = null;
        }

        FdOps.WriteAll(_wakeWrite.Value, [1], "output wake-up", CancellationToken.None);
        _armed.Release();
        if (!started)
        {
            _watcherDone.TrySetResult();
        }

        _ = CloseWhenIdleAsync();
    }

    /// <summary>Called once by the <see cref="PipedBytes"/> handed out, written or not.</summary>
    internal void Release() => _readGate.Release();

    private Task WhenReadable()
    {
        lock (_lock)
        {
            if (_ready is { } pending)
            {
                return pending.Task;
            }

            var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_closing)
            {
                ready.TrySetResult();
                return ready.Task;
            }

            _ready = ready;
            if (_started)
            {
                _armed.Release();
            }

            return ready.Task;
        }
    }

    private void Watch()
    {
        try
        {
            while (true)
            {
                _armed.Wait();
                if (Volatile.Read(ref _closing))
                {
                    break;
                }

                var readable = FdOps.PollReadable(_fd.Value, _wakeRead.Value);
                TaskCompletionSource? ready;
                lock (_lock)
                {
                    ready = _ready;
                    _ready = null;
                }

                ready?.TrySetResult();
                if (!readable)
                {
                    break;
                }
            }
        }
        catch (Exception e)
        {
            if (_logger is not null)
            {
                LogWatchFailed(_logger, _name, e.Message);
            }

            lock (_lock)
            {
                _ready?.TrySetResult();
                _ready = null;
            }
        }
        finally
        {
            _watcherDone.TrySetResult();
        }
    }

    private async Task CloseWhenIdleAsync()
    {
        await _readGate.WaitAsync().ConfigureAwait(false);
        try
        {
            await _watcherDone.Task.ConfigureAwait(false);
            _fd.Dispose();
            _wakeRead.Dispose();
            _wakeWrite.Dispose();
            _finished.TrySetResult();
        }
        finally
        {
            _readGate.Release();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "waiting for output of {Name} failed: {Reason}")]
    private static partial void LogWatchFailed(ILogger logger, string name, string reason);
}
