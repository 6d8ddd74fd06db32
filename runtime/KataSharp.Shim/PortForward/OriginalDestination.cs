using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace KataSharp.Shim.PortForward;

/// <summary>
/// Where a redirected connection was going before the pod namespace's nat rule sent it to our listener:
/// getsockopt(SOL_IP, SO_ORIGINAL_DST) reads it from conntrack as a struct sockaddr_in.
/// </summary>
internal static class OriginalDestination
{
    private const int SolIp = 0;
    private const int SoOriginalDst = 80;
    private const int SockaddrInLength = 16;
    private const ushort AfInet = 2;

    /// <exception cref="SocketException">The connection has no conntrack entry (it was not redirected).</exception>
    /// <exception cref="FormatException">The kernel answered with something that is not an IPv4 address.</exception>
    public static IPEndPoint Of(Socket accepted)
    {
        Span<byte> address = stackalloc byte[SockaddrInLength];
        var length = accepted.GetRawSocketOption(SolIp, SoOriginalDst, address);
        return Parse(address[..length]);
    }

    /// <summary>struct sockaddr_in: the family in host order, then the port and the address in network order.</summary>
    internal static IPEndPoint Parse(ReadOnlySpan<byte> sockaddr)
    {
        if (sockaddr.Length < 8 || BinaryPrimitives.ReadUInt16LittleEndian(sockaddr) != AfInet)
        {
            throw new FormatException($"SO_ORIGINAL_DST returned {sockaddr.Length} bytes that are not a sockaddr_in");
        }

        return new IPEndPoint(new IPAddress(sockaddr.Slice(4, 4)), BinaryPrimitives.ReadUInt16BigEndian(sockaddr[2..]));
    }
}
