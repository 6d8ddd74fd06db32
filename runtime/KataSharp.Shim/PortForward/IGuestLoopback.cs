using System.Net;

namespace KataSharp.Shim.PortForward;

/// <summary>TCP connections to the guest's loopback, made by the agent: the seam the bridge is tested through.</summary>
internal interface IGuestLoopback
{
    /// <exception cref="Protocol.Errors.KataSharpException">The guest could not connect (Unavailable when nothing listens).</exception>
    Task<ulong> OpenAsync(IPEndPoint target, CancellationToken cancellationToken);

    /// <summary>Blocks until the guest has data; empty when the guest side reached EOF.</summary>
    Task<ReadOnlyMemory<byte>> ReadAsync(ulong connectionId, int maxBytes, CancellationToken cancellationToken);

    /// <summary>Returns once the guest socket took every byte.</summary>
    Task WriteAsync(ulong connectionId, ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>The host side reached EOF: the guest's server sees the client's FIN.</summary>
    Task ShutdownWriteAsync(ulong connectionId, CancellationToken cancellationToken);

    Task CloseAsync(ulong connectionId, CancellationToken cancellationToken);
}
