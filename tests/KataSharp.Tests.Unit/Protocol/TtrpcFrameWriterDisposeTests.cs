using KataSharp.Protocol.Ttrpc;

namespace KataSharp.Tests.Unit.Protocol;

/// <summary>Disposing a frame writer whose peer is gone (found when a hostile guest's VM was torn down under its shim).</summary>
public sealed class TtrpcFrameWriterDisposeTests
{
    [Fact]
    public async Task DisposingAWriterWhoseTransportBrokeDoesNotThrow()
    {
        var writer = TtrpcFrameWriter.Over(new BrokenPipeStream());

        await Assert.ThrowsAnyAsync<IOException>(async () =>
            await writer.WriteAsync(1, TtrpcMessageType.Request, 0, new byte[100], CancellationToken.None));
        await writer.DisposeAsync();
    }

    /// <summary>A transport whose peer has closed: every write fails with EPIPE.</summary>
    private sealed class BrokenPipeStream : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Write(byte[] buffer, int offset, int count) => throw new IOException("Broken pipe");
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => throw new IOException("Broken pipe");
        public override void Flush() => throw new IOException("Broken pipe");
        public override Task FlushAsync(CancellationToken cancellationToken) => throw new IOException("Broken pipe");
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
