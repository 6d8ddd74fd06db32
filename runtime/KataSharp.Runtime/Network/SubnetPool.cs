using System.Net;

namespace KataSharp.Runtime.Network;

/// <summary>
/// The private /30 subnets that <c>katasharp run</c> sandboxes get: 10.213.0.0/16 cut into 16384 of them.
/// In subnet N, .1 is the host end of the veth (the guest's gateway) and .2 is the guest.
/// </summary>
public static class SubnetPool
{
    public static readonly IPNetwork Pool = IPNetwork.Parse("10.213.0.0/16");
    public const int SubnetPrefixLength = 30;

    public static int Count => 1 << (SubnetPrefixLength - Pool.PrefixLength);

    public static IPNetwork SubnetAt(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Count);
        return new IPNetwork(Offset(Pool.BaseAddress, (uint)index << (32 - SubnetPrefixLength)), SubnetPrefixLength);
    }

    public static IPAddress GatewayOf(IPNetwork subnet) => Offset(subnet.BaseAddress, 1);

    public static IPAddress GuestAddressOf(IPNetwork subnet) => Offset(subnet.BaseAddress, 2);

    /// <summary>The lowest index that no sandbox holds and whose subnet overlaps none of the host's routes.</summary>
    /// <returns>Null when the pool is exhausted.</returns>
    public static int? Choose(IReadOnlySet<int> used, IReadOnlyList<IPNetwork> hostRoutes)
    {
        for (var index = 0; index < Count; index++)
        {
            if (used.Contains(index))
            {
                continue;
            }

            var candidate = SubnetAt(index);
            if (!hostRoutes.Any(route => Overlaps(route, candidate)))
            {
                return index;
            }
        }

        return null;
    }

    public static bool Overlaps(IPNetwork a, IPNetwork b) =>
        a.BaseAddress.AddressFamily == b.BaseAddress.AddressFamily && (a.Contains(b.BaseAddress) || b.Contains(a.BaseAddress));

    private static IPAddress Offset(IPAddress address, uint offset)
    {
        var bytes = address.GetAddressBytes();
        var value = ((uint)bytes[0] << 24 | (uint)bytes[1] << 16 | (uint)bytes[2] << 8 | bytes[3]) + offset;
        return new IPAddress([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);
    }
}
