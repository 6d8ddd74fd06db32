using System.Net.Sockets;
using System.Runtime.InteropServices;
using KataSharp.Protocol.Transport;
using KataSharp.Native;

namespace KataSharp.Runtime.Agent;

/// <summary>
/// Connects to a guest's vsock port. .NET's Socket cannot connect an AF_VSOCK socket (it throws
/// PlatformNotSupportedException), so socket and connect go through P/Invoke and only the
/// connected descriptor is wrapped in a Socket for IO. All of it stays in this one class.
/// The socket is bound to a privileged local port first: the agent serves no one else
/// (<see cref="VsockPeerPolicy"/>), which is what keeps unprivileged host users out.
/// </summary>
internal static class VsockConnector
{
    /// <summary>Connects within <paramref name="timeout"/> and returns a stream that owns the socket.</summary>
    /// <exception cref="IOException">The guest refused or did not answer.</exception>
    public static async Task<Stream> ConnectAsync(uint cid, uint port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        // connect(2) on vsock blocks (up to the kernel's connect timeout); keep it off the caller's thread.
        var connect = Task.Run(() => ConnectBlocking(cid, port), CancellationToken.None);
        try
        {
            var fd = await connect.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return new NetworkStream(new Socket(new SafeSocketHandle(fd, ownsHandle: true)), ownsSocket: true);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // The blocking connect still owns its descriptor; close it when it finishes.
            _ = connect.ContinueWith(t => { if (t.IsCompletedSuccessfully) { Libc.Close((int)t.Result); } }, TaskScheduler.Default);
            if (e is OperationCanceledException)
            {
                throw;
            }

            throw new IOException($"vsock connect to cid {cid} port {port} timed out after {timeout.TotalSeconds:0.#} s", e);
        }
    }

    private static unsafe nint ConnectBlocking(uint cid, uint port)
    {
        var fd = Libc.Socket(VsockAddress.Family, Linux.SOCK_STREAM | Linux.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException($"cannot create a vsock socket: {ErrnoException.Describe(Marshal.GetLastPInvokeError())}");
        }

        try
        {
            BindPrivilegedPort(fd);
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }

        var address = VsockAddress.Encode(port, cid);
        fixed (byte* pointer = address)
        {
            while (true)
            {
                if (Libc.Connect(fd, pointer, address.Length) == 0)
                {
                    return fd;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno == Linux.EINTR)
                {
                    continue;
                }

                Libc.Close(fd);
                throw new IOException($"vsock connect to cid {cid} port {port} failed: {ErrnoException.Describe(errno)}");
            }
        }
    }

    private static void BindPrivilegedPort(int fd)
    {
        foreach (var candidate in VsockPeerPolicy.HostPortCandidates(Random.Shared.Next()))
        {
            var errno = VsockSocket.TryBind(fd, VsockAddress.Encode(candidate));
            switch (errno)
            {
                case 0:
                    return;
                case Linux.EADDRINUSE:
                    continue;
                case Linux.EACCES or Linux.EPERM:
                    throw new IOException("the agent only answers the host's privileged vsock ports; binding one needs CAP_NET_BIND_SERVICE (run as root)");
                default:
                    throw new IOException($"cannot bind vsock port {candidate}: {ErrnoException.Describe(errno)}");
            }
        }

        throw new IOException($"every privileged vsock port from {VsockPeerPolicy.MinHostPort} to {VsockPeerPolicy.MaxPrivilegedPort} is in use");
    }
}
