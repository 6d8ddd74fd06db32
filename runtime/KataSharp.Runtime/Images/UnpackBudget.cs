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

    private sealed class MeteredStream(Stream inner, UnpackBudget budget, string what, bool leaveOpen) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer);
            budget.Spend(n, what);
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing && !leaveOpen)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
