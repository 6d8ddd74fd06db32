using System.Runtime.InteropServices;

namespace KataSharp.Native;

/// <summary>
/// The kernel's CSPRNG (getrandom(2)), for names and ids. .NET's RandomNumberGenerator on Linux goes through
/// OpenSSL, and its first use maps libssl and libcrypto and runs OpenSSL's initialisation in a process that needs
/// neither: over a megabyte of PSS in every shim for one temporary file name.
/// </summary>
public static unsafe class SecureRandom
{
    /// <summary>Fills <paramref name="buffer"/>; blocks only until the kernel's pool is initialised, as getrandom(2) does.</summary>
    public static void Fill(Span<byte> buffer)
    {
        fixed (byte* start = buffer)
        {
            var done = 0;
            while (done < buffer.Length)
            {
                var n = Libc.GetRandom(start + done, (nuint)(buffer.Length - done), 0);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == Linux.EINTR)
                    {
                        continue;
                    }

                    throw new ErrnoException("getrandom", errno);
                }

                done += (int)n;
            }
        }
    }

    public static byte[] GetBytes(int count)
    {
        var bytes = new byte[count];
        Fill(bytes);
        return bytes;
    }

    /// <summary>A uniform integer in [<paramref name="fromInclusive"/>, <paramref name="toExclusive"/>), without modulo bias.</summary>
    public static int GetInt32(int fromInclusive, int toExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(fromInclusive, toExclusive);
        var range = (uint)(toExclusive - fromInclusive);
        // The largest multiple of range that fits in 32 bits: draws at or past it are redrawn.
        var limit = uint.MaxValue - (uint.MaxValue % range);
        Span<byte> draw = stackalloc byte[sizeof(uint)];
        while (true)
        {
            Fill(draw);
            var value = BitConverter.ToUInt32(draw);
            if (value < limit)
            {
                return (int)(fromInclusive + (value % range));
            }
        }
    }
}
