using System.Runtime.InteropServices;

namespace KataSharp.Cli.Interop;

/// <summary>Puts the local terminal in raw mode for <c>-t</c> and reads its size, via termios.</summary>
internal static unsafe partial class Termios
{
    private const int TCSANOW = 0;
    private const ulong TIOCGWINSZ = 0x5413;

    // struct termios on Linux/glibc is 60 bytes; keep a generous opaque buffer.
    private const int TermiosSize = 128;

    [LibraryImport("libc", EntryPoint = "isatty")]
    private static partial int IsATty(int fd);

    [LibraryImport("libc", EntryPoint = "tcgetattr", SetLastError = true)]
    private static partial int TcGetAttr(int fd, byte* termios);

    [LibraryImport("libc", EntryPoint = "tcsetattr", SetLastError = true)]
    private static partial int TcSetAttr(int fd, int actions, byte* termios);

    [LibraryImport("libc", EntryPoint = "cfmakeraw")]
    private static partial void CfMakeRaw(byte* termios);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(int fd, ulong request, ushort* winsize);

    public static bool IsTerminal(int fd) => IsATty(fd) == 1;

    /// <summary>Rows and columns of the terminal on <paramref name="fd"/>, or null when it is not a terminal.</summary>
    public static (uint Rows, uint Columns)? GetSize(int fd)
    {
        var winsize = stackalloc ushort[4];
        return Ioctl(fd, TIOCGWINSZ, winsize) == 0 && winsize[0] > 0 ? (winsize[0], winsize[1]) : null;
    }

    /// <summary>Switches <paramref name="fd"/> to raw mode; disposing the result restores the previous mode.</summary>
    public static IDisposable? MakeRaw(int fd)
    {
        var saved = new byte[TermiosSize];
        fixed (byte* pointer = saved)
        {
            if (TcGetAttr(fd, pointer) != 0)
            {
                return null;
            }
        }

        var raw = (byte[])saved.Clone();
        fixed (byte* pointer = raw)
        {
            CfMakeRaw(pointer);
            if (TcSetAttr(fd, TCSANOW, pointer) != 0)
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
                    TcSetAttr(fd, TCSANOW, pointer);
                }
            }
        }
    }
}
