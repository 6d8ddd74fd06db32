using System.Runtime.InteropServices;

namespace KataSharp.Agent.Native;

/// <summary>A failed libc call, keeping errno so callers can branch on it.</summary>
internal sealed class NativeException : IOException
{
    public NativeException(string operation, int errno)
        : base($"{operation}: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
    {
        Errno = errno;
    }

    public int Errno { get; }

    /// <summary>Throws for the errno of the last P/Invoke.</summary>
    public static NativeException FromLastError(string operation) => new(operation, Marshal.GetLastPInvokeError());

    public static void ThrowIfFailed(int result, string operation)
    {
        if (result < 0)
        {
            throw FromLastError(operation);
        }
    }
}
