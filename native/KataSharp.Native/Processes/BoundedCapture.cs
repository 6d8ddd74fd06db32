using System.Text;

namespace KataSharp.Native.Processes;

/// <summary>
/// A helper command's captured stream, capped: the first <see cref="Limit"/> bytes are kept and the rest only
/// counted, so a command that floods its output can neither grow our memory nor block on a full pipe.
/// </summary>
public sealed class BoundedCapture
{
    private readonly MemoryStream _kept = new();

    public BoundedCapture(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        Limit = limit;
    }

    public int Limit { get; }

    /// <summary>Bytes that arrived past <see cref="Limit"/> and were dropped.</summary>
    public long Dropped { get; private set; }

    public bool Truncated => Dropped > 0;

    public void Append(ReadOnlySpan<byte> data)
    {
        var room = Limit - (int)_kept.Length;
        var kept = Math.Min(room, data.Length);
        _kept.Write(data[..kept]);
        Dropped += data.Length - kept;
    }

    /// <summary>
    /// Reads <paramref name="source"/> to its end: what fits is kept, the rest is read and dropped, so the
    /// writer never stalls on a full pipe however much it prints.
    /// </summary>
    public async Task DrainAsync(Stream source, CancellationToken cancellationToken)
    {
        var buffer = new byte[16384];
        int n;
        while ((n = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            Append(buffer.AsSpan(0, n));
        }
    }

    /// <summary>The kept text, with a note of what was dropped so that an error quoting it says it is cut short.</summary>
    public string Text()
    {
        var text = Encoding.UTF8.GetString(_kept.GetBuffer(), 0, (int)_kept.Length);
        return Dropped == 0 ? text : $"{text}\n[output cut: {Dropped} more bytes dropped past {Limit}]";
    }
}
