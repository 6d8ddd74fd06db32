namespace KataSharp.Runtime.Images;

/// <summary>
/// A forward-only, read-only view of another stream. The image code wraps blobs and layers in several such views
/// (hashing, metering, keeping the blob open, ending an HTTP response); they differ only in what they do with the
/// bytes read and on dispose, so the rest of <see cref="Stream"/> lives here once.
/// </summary>
internal abstract class ReadOnlyStreamView(Stream inner, bool leaveOpen) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>Sees every byte read, in order, sync or async, before the caller does.</summary>
    protected virtual void OnRead(ReadOnlySpan<byte> data)
    {
    }

    public sealed override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public sealed override int Read(Span<byte> buffer)
    {
        var n = inner.Read(buffer);
        OnRead(buffer[..n]);
        return n;
    }

    public sealed override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var n = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        OnRead(buffer.Span[..n]);
        return n;
    }

    public sealed override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public sealed override void Flush()
    {
    }

    public sealed override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public sealed override void SetLength(long value) => throw new NotSupportedException();
    public sealed override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing && !leaveOpen)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
