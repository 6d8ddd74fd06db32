namespace KataSharp.Agent.Processes;

/// <summary>One answer to ReadOutput: some bytes, or the end of the stream (never both).</summary>
internal readonly record struct OutputChunk(byte[] Data, bool EndOfStream)
{
    public static readonly OutputChunk End = new([], true);
}

/// <summary>
/// The bounded buffer between a process's output pipe and the host's ReadOutput calls.
/// The pump thread reads from the pipe only as much as fits, so a host that stops reading
/// stops the process through the pipe's own backpressure and nothing is ever dropped.
/// A buffer in discard mode swallows everything: that is a stream the host will not read.
/// </summary>
internal sealed class OutputBuffer
{
    private readonly object _gate = new();
    private readonly byte[] _ring;
    private int _head;
    private int _count;
    private bool _completed;
    private bool _discarding;
    private TaskCompletionSource _dataOrEnd = NewSignal();

    public OutputBuffer(int capacity, bool discard = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        _ring = new byte[capacity];
        _discarding = discard;
    }

    public int Capacity => _ring.Length;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    public bool IsDiscarding
    {
        get
        {
            lock (_gate)
            {
                return _discarding;
            }
        }
    }

    /// <summary>
    /// Producer side: blocks until there is room and returns how many bytes may be appended,
    /// or 0 when <paramref name="timeoutMilliseconds"/> passed first.
    /// </summary>
    public int WaitForSpace(int timeoutMilliseconds)
    {
        lock (_gate)
        {
            if (_discarding)
            {
                return _ring.Length;
            }

            if (_count == _ring.Length)
            {
                Monitor.Wait(_gate, timeoutMilliseconds);
            }

            return _discarding ? _ring.Length : _ring.Length - _count;
        }
    }

    /// <summary>Producer side: appends at most the free space (callers ask <see cref="WaitForSpace"/> first).</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        TaskCompletionSource signal;
        lock (_gate)
        {
            if (_discarding || data.IsEmpty)
            {
                return;
            }

            if (data.Length > _ring.Length - _count)
            {
                throw new InvalidOperationException("append beyond the buffer's free space");
            }

            var tail = (_head + _count) % _ring.Length;
            var first = Math.Min(data.Length, _ring.Length - tail);
            data[..first].CopyTo(_ring.AsSpan(tail));
            data[first..].CopyTo(_ring);
            _count += data.Length;
            signal = SwapSignal();
        }

        signal.TrySetResult();
    }

    /// <summary>Producer side: the pipe reached EOF.</summary>
    public void Complete()
    {
        TaskCompletionSource signal;
        lock (_gate)
        {
            _completed = true;
            signal = SwapSignal();
        }

        signal.TrySetResult();
    }

    /// <summary>
    /// Nobody will read any more (the process is being removed): drop what is buffered and
    /// let the producer drain the pipe freely. Readers see the end of the stream.
    /// </summary>
    public void Abandon()
    {
        TaskCompletionSource signal;
        lock (_gate)
        {
            _discarding = true;
            _count = 0;
            Monitor.PulseAll(_gate);
            signal = SwapSignal();
        }

        signal.TrySetResult();
    }

    /// <summary>
    /// Consumer side: waits until there are bytes or the stream has ended. Returns up to
    /// <paramref name="maxBytes"/> bytes in order; reports the end only once every byte was taken.
    /// </summary>
    public async Task<OutputChunk> ReadAsync(int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        while (true)
        {
            Task wait;
            lock (_gate)
            {
                if (_discarding)
                {
                    return OutputChunk.End;
                }

                if (_count > 0)
                {
                    var n = Math.Min(maxBytes, _count);
                    var data = new byte[n];
                    var first = Math.Min(n, _ring.Length - _head);
                    _ring.AsSpan(_head, first).CopyTo(data);
                    _ring.AsSpan(0, n - first).CopyTo(data.AsSpan(first));
                    _head = (_head + n) % _ring.Length;
                    _count -= n;
                    if (_count == 0)
                    {
                        _head = 0;
                    }

                    Monitor.PulseAll(_gate);
                    return new OutputChunk(data, false);
                }

                if (_completed)
                {
                    return OutputChunk.End;
                }

                wait = _dataOrEnd.Task;
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private TaskCompletionSource SwapSignal()
    {
        var signal = _dataOrEnd;
        _dataOrEnd = NewSignal();
        return signal;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
