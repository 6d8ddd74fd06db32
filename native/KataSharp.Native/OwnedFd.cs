using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KataSharp.Native;

/// <summary>
/// A file descriptor with one owner that closes it exactly once (and, if the owner forgets, when it is
/// collected). Children get fds by number and dedicated threads read them by number through
/// <see cref="Value"/>, so the owner keeps this object until nobody uses the number any more.
/// </summary>
public sealed class OwnedFd : SafeHandle
{
    public OwnedFd(int fd)
        : base(-1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle < 0;

    /// <summary>The descriptor, or -1 after disposal.</summary>
    public int Value => IsClosed ? -1 : (int)handle;

    /// <summary>Gives up ownership without closing, for a caller that wraps the fd elsewhere.</summary>
    public int Release()
    {
        var fd = Value;
        SetHandleAsInvalid();
        return fd;
    }

    /// <summary>Hands the fd over to a <see cref="FileStream"/>, which owns and closes it from then on.</summary>
    /// <param name="bufferSize">As for <see cref="FileStream"/>: 0 reads and writes straight through; 4096 is its default.</param>
    public FileStream ToFileStream(FileAccess access, int bufferSize = 4096) =>
        new(new SafeFileHandle(Release(), ownsHandle: true), access, bufferSize);

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;

    public override string ToString() => $"fd {Value}";
}
