using KataSharp.Native;

namespace KataSharp.Agent.Processes;

/// <summary>The agent's end of a process's stdin: whole writes, one at a time, then close.</summary>
internal sealed class StdinWriter : IDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly OwnedFd _fd;
    private readonly bool _closeIsNoOp;
    private bool _closed;

    /// <param name="fd">The write end of the stdin pipe, or a duplicate of a pty master.</param>
    /// <param name="isTerminal">
    /// A pty has no separate stdin to close: closing our duplicate of the master would not give the
    /// process EOF, so CloseStdin only stops further writes.
    /// </param>
    public StdinWriter(OwnedFd fd, bool isTerminal)
    {
        _fd = fd;
        _closeIsNoOp = isTerminal;
        FdOps.SetNonBlocking(fd.Value);
    }

    /// <summary>Writes every byte, waiting while the pipe is full.</summary>
    /// <exception cref="InvalidOperationException">Stdin was closed, by us or by the process.</exception>
    public async Task<int> WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_closed)
            {
                throw new InvalidOperationException("stdin is closed");
            }

            await Task.Run(() => FdOps.WriteAll(_fd.Value, data.Span, "stdin", cancellationToken), cancellationToken).ConfigureAwait(false);
            return data.Length;
        }
        catch (ErrnoException e) when (e.Errno == Linux.EPIPE)
        {
            throw new InvalidOperationException("the process has closed its stdin");
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task CloseAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            _closed = true;
            if (!_closeIsNoOp)
            {
                _fd.Dispose();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public void Dispose()
    {
        _closed = true;
        _fd.Dispose();
    }
}
