using KataSharp.Native;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Processes;

/// <summary>
/// Moves one output pipe (or a pty master) into its <see cref="OutputPipe"/> on a small dedicated thread,
/// which sleeps in poll until the fd has data or <see cref="Stop"/> wakes it (no timer), and blocks while
/// the host is behind. It owns the fd and closes it at EOF or when stopped.
/// </summary>
internal sealed partial class OutputPump
{
    private readonly OwnedFd _fd;
    private readonly OwnedFd _wakeRead;
    private readonly OwnedFd _wakeWrite;
    private readonly OutputPipe _output;
    private readonly string _name;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _wakeGate = new();
    private volatile bool _stopping;
    private bool _closed;

    private OutputPump(OwnedFd fd, OutputPipe output, string name, ILogger logger)
    {
        _fd = fd;
        (_wakeRead, _wakeWrite) = FdOps.CreatePipe();
        _output = output;
        _name = name;
        _logger = logger;
    }

    /// <summary>Completes once the source reached EOF (or the pump was stopped) and the fd is closed.</summary>
    public Task Finished => _finished.Task;

    public static OutputPump Start(OwnedFd fd, OutputPipe output, string name, ILogger logger)
    {
        FdOps.SetNonBlocking(fd.Value);
        var pump = new OutputPump(fd, output, name, logger);
        new Thread(pump.Run, 128 * 1024) { IsBackground = true, Name = $"out {name}" }.Start();
        return pump;
    }

    /// <summary>
    /// Stops reading and closes the fd; a writer still holding the pipe then gets EPIPE. A pump blocked
    /// on a host that does not read is released by <see cref="OutputPipe.Abandon"/>, which comes first.
    /// </summary>
    public void Stop()
    {
        _stopping = true;
        lock (_wakeGate)
        {
            // Once the pump has closed its wake-up pipe, its number may already belong to someone else.
            if (!_closed)
            {
                FdOps.WriteAll(_wakeWrite.Value, [1], "pump wake-up", CancellationToken.None);
            }
        }
    }

    private void Run()
    {
        try
        {
            while (!_stopping)
            {
                var memory = _output.GetMemory();
                var n = FdOps.ReadSome(_fd.Value, memory.Span, _name);
                if (n == 0)
                {
                    break;
                }

                if (n > 0)
                {
                    _output.Commit(n);
                    continue;
                }

                if (!FdOps.PollReadable(_fd.Value, _wakeRead.Value))
                {
                    break;
                }
            }
        }
        catch (Exception e)
        {
            LogPumpFailed(_logger, _name, e.Message);
        }
        finally
        {
            _output.Complete();
            _fd.Dispose();
            lock (_wakeGate)
            {
                _closed = true;
                _wakeRead.Dispose();
                _wakeWrite.Dispose();
            }

            _finished.TrySetResult();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "output of {Name} failed: {Reason}")]
    private static partial void LogPumpFailed(ILogger logger, string name, string reason);
}
