using System.Buffers;
using KataSharp.Agent.Channels;
using KataSharp.Native;
using KataSharp.Protocol.Ttrpc;

namespace KataSharp.Agent.Processes;

/// <summary>
/// The first <see cref="Length"/> bytes in a <see cref="KernelPipeOutput"/>'s pipe, which hold them: only the
/// holder of this reads the pipe until it is disposed. Over virtio-serial they are spliced into the port; onto any
/// other transport they are read into the frame. Bytes never written stay in the pipe for the next read.
/// </summary>
internal sealed class PipedBytes : ITtrpcBytesSource
{
    private readonly KernelPipeOutput _output;
    private int _released;

    public PipedBytes(KernelPipeOutput output, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        _output = output;
        Length = length;
    }

    public int Length { get; }

    public bool CanMoveTo(Stream transport) => transport is ISpliceTarget;

    public void MoveTo(Stream transport)
    {
        ObjectDisposedException.ThrowIf(_released != 0, this);
        ((ISpliceTarget)transport).SpliceFrom(_output.Fd, Length);
    }

    public void CopyTo(IBufferWriter<byte> output)
    {
        ObjectDisposedException.ThrowIf(_released != 0, this);
        var left = Length;
        while (left > 0)
        {
            var span = output.GetSpan(Math.Min(left, 64 * 1024));
            var n = FdOps.ReadSome(_output.Fd, span[..Math.Min(left, span.Length)], "output pipe");
            if (n <= 0)
            {
                throw new IOException($"the output pipe gave {Length - left} of the {Length} bytes it held");
            }

            output.Advance(n);
            left -= n;
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            _output.Release();
        }
    }
}
