using System.Buffers;
using System.IO.Pipelines;

namespace KataSharp.Agent.Processes;

/// <summary>
/// One answer to ReadOutput: some bytes, or the end of the stream (never both). The bytes are in
/// <see cref="Data"/>, or still in the process's pipe (<see cref="Piped"/>), for the ttrpc server to move.
/// </summary>
internal readonly record struct OutputChunk(byte[] Data, bool EndOfStream, PipedBytes? Piped = null)
{
    public static readonly OutputChunk End = new([], true);

    public int Length => Piped?.Length ?? Data.Length;
}

/// <summary>
/// The bounded pipe between a process's output fd and the host's ReadOutput calls. The pump thread reads
/// the fd straight into the pipe's memory and blocks in <see cref="Commit"/> once <see cref="PauseBytes"/> are
/// unread, so a host that stops reading stops the process through its own output pipe, as a full FIFO
/// does under runc, and nothing is dropped. ReadOutput copies once, from the pipe into the reply.
/// A discarding pipe swallows everything: that is a stream the host will not read, or no longer reads.
/// </summary>
internal sealed class OutputPipe : IProcessOutput
{
    public const int PauseBytes = 1024 * 1024;

    /// <summary>
    /// What the kernel pipe in front of this one is asked to hold: a container may write that far ahead of
    /// the pump, so one read takes what a whole burst wrote (a pipe's default 64 KiB made it a read per block).
    /// </summary>
    public const int KernelPipeBytes = 1024 * 1024;

    /// <summary>
    /// Reads start small, into what the pipe's current segment has left (a process that prints a line now and
    /// then holds one small segment), and grow while each fills all it was given: a stream in full flow is read
    /// a whole kernel pipe at a time. Against 64 KiB reads (and replies copied into arrays of their own), that
    /// took about 30% off the guest's CPU time per byte of stdout under TCG.
    /// </summary>
    private const int SegmentBytes = 64 * 1024;
    private const int MinimumReadBytes = 4 * 1024;
    private const int DiscardBytes = 64 * 1024;

    private readonly Pipe _pipe;
    private readonly SemaphoreSlim _readGate = new(1, 1);
    private byte[]? _scratch;
    private int _readHint = MinimumReadBytes;
    private int _handedOut;
    private volatile bool _discarding;
    private bool _readerDone;
    private int _writerDone;

    public OutputPipe(bool discard = false, int pauseBytes = PauseBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pauseBytes);
        _pipe = new Pipe(new PipeOptions(pauseWriterThreshold: pauseBytes, resumeWriterThreshold: pauseBytes / 2,
            minimumSegmentSize: Math.Min(SegmentBytes, pauseBytes), useSynchronizationContext: false));
        _discarding = discard;
        if (discard)
        {
            CompleteReader();
        }
    }

    public bool IsDiscarding => _discarding;

    /// <summary>Producer side: where the next read from the fd goes, the rest of the pipe's current segment.</summary>
    public Memory<byte> GetMemory()
    {
        if (_discarding)
        {
            return _scratch ??= new byte[DiscardBytes];
        }

        var memory = _pipe.Writer.GetMemory(_readHint);
        _handedOut = memory.Length;
        return memory;
    }

    /// <summary>
    /// Producer side: publishes <paramref name="bytes"/> written into <see cref="GetMemory"/>'s memory and
    /// blocks while the reader is <see cref="PauseBytes"/> behind. Once nobody reads any more, bytes are dropped.
    /// </summary>
    public void Commit(int bytes)
    {
        if (_discarding)
        {
            return;
        }

        _readHint = bytes == _handedOut ? Math.Min(_readHint * 4, KernelPipeBytes) : MinimumReadBytes;
        _pipe.Writer.Advance(bytes);
        // A dedicated pump thread, never a pool thread, waits here: blocking is the back-pressure.
        var flush = _pipe.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
        if (flush.IsCompleted)
        {
            _discarding = true;
        }
    }

    /// <summary>Producer side: the fd reached EOF (or failed); readers see the end after the last byte.</summary>
    public void Complete()
    {
        if (Interlocked.Exchange(ref _writerDone, 1) == 0)
        {
            _pipe.Writer.Complete();
        }
    }

    /// <summary>
    /// Nobody will read any more (the process is being removed): drop what is buffered, release a producer
    /// blocked in <see cref="Commit"/> so it drains the fd freely, and let readers see the end of the stream.
    /// </summary>
    public void Abandon()
    {
        _discarding = true;
        _pipe.Reader.CancelPendingRead();
        if (_readGate.Wait(0))
        {
            try
            {
                CompleteReader();
            }
            finally
            {
                _readGate.Release();
            }
        }

        // Otherwise a read is in flight; the cancellation above wakes it and it completes the reader.
    }

    /// <summary>
    /// Consumer side: waits until there are bytes or the stream has ended, then returns up to
    /// <paramref name="maxBytes"/> bytes in order; reports the end only once every byte was taken.
    /// One read at a time: a second concurrent read waits for the first.
    /// </summary>
    public async Task<OutputChunk> ReadAsync(int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        await _readGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (true)
            {
                if (_discarding || _readerDone)
                {
                    CompleteReader();
                    return OutputChunk.End;
                }

                var result = await _pipe.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                var buffered = result.Buffer;
                if (_discarding)
                {
                    _pipe.Reader.AdvanceTo(buffered.Start);
                    continue;
                }

                if (!buffered.IsEmpty)
                {
                    var taken = buffered.Slice(0, Math.Min(maxBytes, buffered.Length));
                    var data = taken.ToArray();
                    _pipe.Reader.AdvanceTo(taken.End);
                    return new OutputChunk(data, false);
                }

                _pipe.Reader.AdvanceTo(buffered.End);
                if (result.IsCompleted)
                {
                    CompleteReader();
                    return OutputChunk.End;
                }
            }
        }
        finally
        {
            _readGate.Release();
        }
    }

    /// <summary>Under the read gate, or before anyone reads.</summary>
    private void CompleteReader()
    {
        if (!_readerDone)
        {
            _readerDone = true;
            _pipe.Reader.Complete();
        }
    }
}
