using KataSharp.Native;

namespace KataSharp.Cli.Interop;

/// <summary>Puts the local terminal in raw mode for <c>-t</c> and reads its size, via termios.</summary>
internal static unsafe class Termios
{
    // struct termios on Linux/glibc is 60 bytes; keep a generous opaque buffer.
    private const int TermiosSize = 128;

    public static bool IsTerminal(int fd) => Libc.IsATty(fd) == 1;

    /// <summary>Rows and columns of the terminal on <paramref name="fd"/>, or null when it is not a terminal.</summary>
    public static (uint Rows, uint Columns)? GetSize(int fd)
    {
        var size = default(WinSize);
        return Libc.Ioctl(fd, Linux.TIOCGWINSZ, &size) == 0 && size.Rows > 0 ? (size.Rows, size.Columns) : null;
    }

    /// <summary>Switches <paramref name="fd"/> to raw mode; disposing the result restores the previous mode.</summary>
    public static IDisposable? MakeRaw(int fd)
    {
        var saved = new byte[TermiosSize];
        fixed (byte* pointer = saved)
        {
            if (Libc.TcGetAttr(fd, pointer) != 0)
            {
                return null;
            }
        }

        var raw = (byte[])saved.Clone();
        fixed (byte* pointer = raw)
        {
            Libc.CfMakeRaw(pointer);
            if (Libc.TcSetAttr(fd, Linux.TCSANOW, pointer) != 0)
            {
                return null;
            }
        }

        return new Restore(fd, saved);
    }

    private sealed class Restore(int fd, byte[] saved) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                fixed (byte* pointer = saved)
                {
                    Libc.TcSetAttr(fd, Linux.TCSANOW, pointer);
                }
            }
        }
    }
}
