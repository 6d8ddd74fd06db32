using KataSharp.Native;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Processes;

/// <summary>
/// Moves one output pipe (or a pty master) into its <see cref="OutputBuffer"/> on a small
/// dedicated thread. It owns the fd and closes it at EOF or when stopped.
/// </summary>
internal sealed partial class OutputPump
{
    private const int ChunkSize = 64 * 1024;
    private const int PollMilliseconds = 200;

    private readonly OwnedFd _fd;
    private readonly OutputBuffer _buffer;
    private readonly string _name;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _stopping;

    private OutputPump(OwnedFd fd, OutputBuffer buffer, string name, ILogger logger)
    {
        _fd = fd;
        _buffer = buffer;
        _name = name;
        _logger = logger;
    }

    /// <summary>Completes once the source reached EOF (or the pump was stopped) and the fd is closed.</summary>
    public Task Finished => _finished.Task;

    public static OutputPump Start(OwnedFd fd, OutputBuffer buffer, string name, ILogger logger)
    {
        FdOps.SetNonBlocking(fd.Value);
        var pump = new OutputPump(fd, buffer, name, logger);
        new Thread(pump.Run, 128 * 1024) { IsBackground = true, Name = $"out {name}" }.Start();
        return pump;
    }

    /// <summary>Stops reading and closes the fd; a writer still holding the pipe then gets EPIPE.</summary>
    public void Stop() => _stopping = true;

    private void Run()
    {
        var chunk = new byte[ChunkSize];
        try
        {
            while (!_stopping)
            {
                var space = _buffer.WaitForSpace(PollMilliseconds);
                if (space == 0)
                {
                    continue;
                }

                var events = FdOps.PollOne(_fd.Value, Linux.POLLIN, PollMilliseconds);
                if (events == 0)
                {
                    continue;
                }

                var n = FdOps.ReadSome(_fd.Value, chunk.AsSpan(0, Math.Min(space, chunk.Length)), _name);
                if (n == 0)
                {
                    break;
                }

                if (n > 0)
                {
                    _buffer.Append(chunk.AsSpan(0, n));
                }
            }
        }
        catch (Exception e)
        {
            LogPumpFailed(_logger, _name, e.Message);
        }
        finally
        {
            _buffer.Complete();
            _fd.Dispose();
            _finished.TrySetResult();
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "output of {Name} failed: {Reason}")]
    private static partial void LogPumpFailed(ILogger logger, string name, string reason);
}
