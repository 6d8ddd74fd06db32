using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace KataSharp.Shim.Lifecycle;

/// <summary>Where a pod's shim listens, by the runc-v2 and Kata convention, and whether it is alive.</summary>
internal static class ShimSocket
{
    public const string Directory = "/run/containerd/s";

    /// <summary>unix:///run/containerd/s/hex(sha256(address/namespace/group)).</summary>
    public static string AddressFor(string containerdAddress, string ns, string groupId)
    {
        var key = Path.Join(containerdAddress, ns, groupId);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
        return "unix://" + Path.Join(Directory, hash);
    }

    public static string PathOf(string address) =>
        address.StartsWith("unix://", StringComparison.Ordinal) ? address["unix://".Length..] : address;

    /// <summary>True when something accepts connections on the socket.</summary>
    public static bool IsServing(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }

        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
