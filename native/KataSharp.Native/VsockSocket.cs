using System.Runtime.InteropServices;

namespace KataSharp.Native;

/// <summary>
/// Raw AF_VSOCK calls. .NET's Socket cannot bind or accept vsock, so the listening socket lives
/// here and only accepted connections are wrapped in a managed Socket.
/// </summary>
public static unsafe class VsockSocket
{
    /// <summary>A listening vsock socket, or null with the errno when the kernel has no vsock.</summary>
    public static OwnedFd? TryListen(ReadOnlySpan<byte> socketAddress, int backlog, out int errno)
    {
        errno = 0;
        var fd = Libc.Socket(Linux.AF_VSOCK, Linux.SOCK_STREAM | Linux.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            errno = Marshal.GetLastPInvokeError();
            return null;
        }

        var owned = new OwnedFd(fd);
        fixed (byte* address = socketAddress)
        {
            if (Libc.Bind(fd, address, socketAddress.Length) != 0 || Libc.Listen(fd, backlog) != 0)
            {
                errno = Marshal.GetLastPInvokeError();
                owned.Dispose();
                return null;
            }
        }

        return owned;
    }

    /// <summary>
    /// Accepts one connection, or returns -1 when none is pending on the non-blocking listener.
    /// <paramref name="peerAddress"/> receives the peer's sockaddr_vm (16 bytes), which the caller must
    /// check: a vsock listener is reachable by every process on the host.
    /// </summary>
    public static int Accept(int listenerFd, Span<byte> peerAddress)
    {
        while (true)
        {
            int length = peerAddress.Length;
            int fd;
            fixed (byte* address = peerAddress)
            {
                fd = Libc.Accept4(listenerFd, address, &length, Linux.SOCK_CLOEXEC);
            }

            if (fd >= 0)
            {
                return fd;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Linux.EINTR)
            {
                continue;
            }

            if (errno == Linux.EAGAIN)
            {
                return -1;
            }

            throw new ErrnoException("accept4(vsock)", errno);
        }
    }

    /// <summary>
    /// Binds an unbound vsock socket to a local address. Returns 0, or the errno (EADDRINUSE when
    /// the port is taken, EACCES when a port below 1024 is asked for without CAP_NET_BIND_SERVICE).
    /// </summary>
    public static int TryBind(int fd, ReadOnlySpan<byte> socketAddress)
    {
        fixed (byte* address = socketAddress)
        {
            return Libc.Bind(fd, address, socketAddress.Length) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
    }
}
