using System.Net.Sockets;

namespace KataSharp.Native.Processes;

/// <summary>
/// Sockets that belong to another network namespace. A socket keeps the namespace it was created in for
/// its whole life, so only the socket(2), bind(2) and listen(2) calls run inside (through
/// <see cref="NetworkNamespace.RunInside{T}"/>, the one way KataSharp enters one); accepting and every
/// byte after that happen on ordinary .NET threads in the shim's own namespace.
/// </summary>
public static unsafe class NetworkNamespaceSockets
{
    /// <summary>A TCP listener on 127.0.0.1 at a port the kernel picks, inside the namespace at <paramref name="namespacePath"/>.</summary>
    /// <exception cref="ErrnoException">The namespace cannot be entered, or the socket cannot be made there.</exception>
    public static Socket ListenOnLoopback(string namespacePath, int backlog)
    {
        var fd = NetworkNamespace.RunInside(namespacePath, () => ListenHere(backlog));
        try
        {
            return new Socket(new SafeSocketHandle(fd, ownsHandle: true));
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }
    }

    private static int ListenHere(int backlog)
    {
        var fd = Libc.Socket(Linux.AF_INET, Linux.SOCK_STREAM | Linux.SOCK_CLOEXEC, 0);
        ErrnoException.ThrowIfFailed(fd, "socket(AF_INET)");

        // struct sockaddr_in { sa_family_t AF_INET; in_port_t 0 (any); struct in_addr 127.0.0.1; zero padding }
        byte* address = stackalloc byte[16];
        new Span<byte>(address, 16).Clear();
        *(ushort*)address = Linux.AF_INET;
        address[4] = 127;
        address[7] = 1;
        if (Libc.Bind(fd, address, 16) != 0 || Libc.Listen(fd, backlog) != 0)
        {
            var failure = ErrnoException.FromLastError("bind/listen 127.0.0.1");
            Libc.Close(fd);
            throw failure;
        }

        return fd;
    }
}
