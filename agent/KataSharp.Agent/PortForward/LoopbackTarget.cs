using System.Net;

namespace KataSharp.Agent.PortForward;

/// <summary>
/// Where a forwarded connection goes in the guest: a loopback address and a port, as the host side
/// dialled them in the pod's namespace. Nothing but loopback is accepted, so a port-forward can never
/// be turned into a way to reach other hosts from the guest.
/// </summary>
internal sealed record LoopbackTarget(IPAddress Address, int Port)
{
    /// <exception cref="Protocol.Errors.KataSharpException">InvalidArgument: not a loopback address, or not a TCP port.</exception>
    public static LoopbackTarget Parse(string address, uint port)
    {
        if (!IPAddress.TryParse(address, out var ip) || !IPAddress.IsLoopback(ip))
        {
            throw AgentErrors.InvalidArgument($"port-forward address {address} is not a loopback address");
        }

        if (port is 0 or > ushort.MaxValue)
        {
            throw AgentErrors.InvalidArgument($"port-forward port {port} is not a TCP port (1-65535)");
        }

        return new LoopbackTarget(ip, (int)port);
    }

    /// <summary>
    /// The endpoints to try in order. As containerd does in the pod's namespace under runc (tcp4 first, then
    /// tcp6 when that fails), an IPv4 loopback that refuses falls back to ::1, because the host side has
    /// already been accepted on IPv4 and cannot fall back itself.
    /// </summary>
    public IReadOnlyList<IPEndPoint> Candidates() => Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork
        ? [new IPEndPoint(Address, Port), new IPEndPoint(IPAddress.IPv6Loopback, Port)]
        : [new IPEndPoint(Address, Port)];

    public override string ToString() => new IPEndPoint(Address, Port).ToString();
}
