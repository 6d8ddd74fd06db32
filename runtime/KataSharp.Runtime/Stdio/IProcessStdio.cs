using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Runtime.Stdio;

/// <summary>The guest end of a <see cref="StdioBridge"/>: one container process's output streams and stdin.</summary>
public interface IProcessStdio
{
    string ContainerId { get; }

    string ExecId { get; }

    /// <summary>Copies one output stream to <paramref name="destination"/> until the guest reports EOF.</summary>
    Task PumpOutputAsync(OutputStream stream, Stream destination, CancellationToken cancellationToken);

    /// <summary>Copies <paramref name="source"/> to the process's stdin, then closes it at EOF.</summary>
    Task ForwardStdinAsync(Stream source, CancellationToken cancellationToken);

    /// <summary>Closes the process's stdin, so that it reads EOF.</summary>
    Task CloseStdinAsync(CancellationToken cancellationToken);
}
