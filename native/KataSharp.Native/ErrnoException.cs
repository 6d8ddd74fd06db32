using System.Runtime.InteropServices;

namespace KataSharp.Native;

/// <summary>A failed libc call, keeping errno so callers can branch on it.</summary>
public sealed class ErrnoException : IOException
{
    public ErrnoException(string operation, int errno)
        : base($"{operation}: {Describe(errno)} (errno {errno})")
    {
        Errno = errno;
    }

    public int Errno { get; }

    /// <summary>The C library's text for <paramref name="errno"/> ("No such file or directory").</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    /// <summary>An exception for the errno of the last P/Invoke.</summary>
    public static ErrnoException FromLastError(string operation) => new(operation, Marshal.GetLastPInvokeError());

    public static void ThrowIfFailed(int result, string operation)
    {
        if (result < 0)
        {
            throw FromLastError(operation);
        }
    }
}
