using System.Net.Sockets;

namespace KataSharp.Native.Files;

/// <summary>
/// Binds a Unix socket that only its owner can connect to. The mode comes from the umask at bind time,
/// so the socket is never reachable, not even between bind and a chmod. The umask is process-wide: a
/// file another thread creates during the bind gets a stricter mode, never a looser one.
/// </summary>
public static class PrivateSocket
{
    /// <summary>rw for the owner only: what bind leaves under this umask.</summary>
    private const uint OwnerOnlyMask = 0x7F; // 0177

    public static void Bind(Socket socket, string path)
    {
        var previous = Libc.Umask(OwnerOnlyMask);
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
        }
        finally
        {
            Libc.Umask(previous);
        }
    }
}
