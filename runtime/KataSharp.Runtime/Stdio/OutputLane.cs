using System.IO.Pipelines;
using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Runtime.Stdio;

/// <summary>
/// One output stream from the guest to its destination: the ReadOutput loop fills a bounded pipe and a
/// dedicated thread empties it into the destination with blocking writes. A destination that is not read
/// (a FIFO nobody reads, a stopped terminal) blocks only this thread; the full pipe then stops the
/// ReadOutput loop, the agent's pipe fills, and the container blocks on its own write, as under runc.
/// The two halves overlap, so a ReadOutput round trip is not paid on top of every destination write.
/// </summary>
internal sealed class OutputLane
{
    /// <summary>What one lane may hold on the host: about one ReadOutput answer ahead of the destination.</summary>
    public const int PauseBytes = 1024 * 1024;

    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: PauseBytes, resumeWriterThreshold: PauseBytes / 2, useSynchronizationContext: false));
    private readonly Stream _destination;
    private readonly Action _onData;
    private readonly TaskCompletionSource _written = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile Exception? _pumpFailure;

    private OutputLane(Stream destination, Action onData)
    {
        _destination = destination;
        _onData = onData;
    }

    /// <summary>Completes once every byte the guest sent is in the destination and the destination is disposed.</summary>
    public Task Written => _written.Task;

    /// <summary>Starts both halves; <paramref name="pump"/> copies the guest stream into the stream it is given.</summary>
    public static OutputLane Start(Stream destination, Action onData, string name, Func<Stream, Task> pump)
    {
        var lane = new OutputLane(destination, onData);
        new Thread(lane.WriteLoop, 256 * 1024) { IsBackground = true, Name = $"stdio {name}" }.Start();
        _ = lane.FillAsync(pump);
        return lane;
    }

    /// <summary>Stops writing (teardown): a thread blocked in the destination's write needs the destination to give up too.</summary>
    public void Stop() => _pipe.Reader.CancelPendingRead();

    private async Task FillAsync(Func<Stream, Task> pump)
    {
        try
        {
            await using var sink = _pipe.Writer.AsStream(leaveOpen: true);
            await pump(sink).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            _pumpFailure = e;
        }
        finally
        {
            // What arrived before a failure is still delivered (a pipe completed with an error would
            // throw it at the reader first); the failure is reported once the lane has written it all.
            await _pipe.Writer.CompleteAsync().ConfigureAwait(false);
        }
    }

    private void WriteLoop()
    {
        Exception? failure = null;
        try
        {
            while (true)
            {
                var result = _pipe.Reader.ReadAsync().AsTask().GetAwaiter().GetResult();
                if (result.IsCanceled)
                {
                    break;
                }

                foreach (var segment in result.Buffer)
                {
                    _destination.Write(segment.Span);
                }

                if (!result.Buffer.IsEmpty)
                {
                    _destination.Flush();
                    _onData();
                }

                _pipe.Reader.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception e)
        {
            failure = e;
        }
        finally
        {
            _pipe.Reader.Complete();
            failure ??= _pumpFailure;
            try
            {
                _destination.Dispose();
            }
            catch (IOException)
            {
                // Closing a destination whose reader went away; its bytes are gone either way.
            }

            if (failure is null)
            {
                _written.TrySetResult();
            }
            else
            {
                _written.TrySetException(failure);
            }
        }
    }
}
