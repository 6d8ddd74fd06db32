using KataSharp.Runtime.Stdio;

namespace KataSharp.Cli.Console;

/// <summary>
/// Writes to two streams: the terminal, and the output log a kept sandbox keeps for <c>katasharp logs</c>. stdout and
/// stderr share one log and are each written from their own pump, so every write to it holds the log's lock; a
/// FileStream is not safe to write from two threads at once.
/// </summary>
internal sealed class TeeStream(Stream first, Stream second) : WriteOnlyStream
{
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        first.Write(buffer);
        WriteSecond(buffer);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await first.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        WriteSecond(buffer.Span);
    }

    public override void Flush()
    {
        first.Flush();
        FlushSecond();
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await first.FlushAsync(cancellationToken).ConfigureAwait(false);
        FlushSecond();
    }

    private void WriteSecond(ReadOnlySpan<byte> buffer)
    {
        lock (second)
        {
            second.Write(buffer);
        }
    }

    private void FlushSecond()
    {
        lock (second)
        {
            second.Flush();
        }
    }
}
