namespace KataSharp.Runtime.Images;

/// <summary>
/// The decompressed bytes one image may produce, shared by all its layers: a few megabytes of gzip can
/// expand to terabytes (a gzip bomb), and the rootfs lives on the host's disk.
/// </summary>
internal sealed class UnpackBudget
{
    private readonly long _limit;
    private long _used;

    public UnpackBudget(long limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        _limit = limit;
    }

    public void Spend(int bytes, string what)
    {
        _used += bytes;
        if (_used > _limit)
        {
            throw new ImageException($"{what}: the image unpacks to more than {_limit} bytes, the configured limit (images.maxUnpackedGiB)");
        }
    }

    /// <summary>A read-only view of <paramref name="inner"/> that charges every byte read to this budget.</summary>
    public Stream Meter(Stream inner, string what, bool leaveOpen) => new MeteredStream(inner, this, what, leaveOpen);

    private sealed class MeteredStream(Stream inner, UnpackBudget budget, string what, bool leaveOpen)
        : ReadOnlyStreamView(inner, leaveOpen)
    {
        protected override void OnRead(ReadOnlySpan<byte> data) => budget.Spend(data.Length, what);
    }
}
