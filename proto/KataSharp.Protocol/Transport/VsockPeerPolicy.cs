namespace KataSharp.Protocol.Transport;

/// <summary>
/// Who may talk to the agent over vsock. A vsock listener in the guest is reachable by every process
/// on the host (the guest CID is visible in QEMU's command line), so the agent accepts only a host peer
/// whose local port is privileged: the host kernel lets a process bind a vsock port below 1024 only
/// with CAP_NET_BIND_SERVICE, which unprivileged users lack. The runtime binds such a port before it
/// connects. This needs no secret to hand to the guest, and the serial and hybrid-vsock channels are
/// root-only Unix sockets already.
/// </summary>
public static class VsockPeerPolicy
{
    /// <summary>VMADDR_CID_HOST: connections from the host side of the VM.</summary>
    public const uint HostCid = 2;

    /// <summary>The highest port the kernel reserves for CAP_NET_BIND_SERVICE (LAST_RESERVED_PORT).</summary>
    public const uint MaxPrivilegedPort = 1023;

    /// <summary>The lowest local port the runtime tries; the ones below are left to other privileged users.</summary>
    public const uint MinHostPort = 512;

    public static bool IsTrusted(uint peerCid, uint peerPort) => peerCid == HostCid && peerPort <= MaxPrivilegedPort;

    /// <summary>Checks an accepted peer's sockaddr_vm; anything that is not one is refused.</summary>
    public static bool IsTrusted(ReadOnlySpan<byte> peerAddress, out uint peerCid, out uint peerPort)
    {
        if (peerAddress.Length < VsockAddress.Size || System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(peerAddress) != VsockAddress.Family)
        {
            (peerCid, peerPort) = (0, 0);
            return false;
        }

        (peerPort, peerCid) = VsockAddress.Decode(peerAddress);
        return IsTrusted(peerCid, peerPort);
    }

    /// <summary>
    /// The privileged local ports the runtime tries, in order, starting at a point derived from
    /// <paramref name="seed"/> so that concurrent connects to different VMs rarely collide.
    /// </summary>
    public static IEnumerable<uint> HostPortCandidates(int seed)
    {
        var count = MaxPrivilegedPort - MinHostPort + 1;
        var start = (uint)(seed & int.MaxValue) % count;
        for (uint i = 0; i < count; i++)
        {
            yield return MinHostPort + (start + i) % count;
        }
    }
}
