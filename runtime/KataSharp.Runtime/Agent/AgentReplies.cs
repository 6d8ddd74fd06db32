using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using KataSharp.Protocol.Agent.V1;
using KataSharp.Protocol.Errors;

namespace KataSharp.Runtime.Agent;

/// <summary>
/// Checks what the agent answers before the host uses it. The agent runs inside the guest, which the
/// host does not trust: a reply that breaks the protocol's promises fails its call (Internal: the
/// agent's fault, not the caller's), and a value the host can still make sense of is clamped.
/// </summary>
internal static class AgentReplies
{
    /// <summary>The largest exit status a process can have (128 + the highest signal is less).</summary>
    public const int MaxExitStatus = 255;

    /// <summary>An exit time outside [the Unix epoch, now] is clamped into it; an exit status outside [0, 255] becomes 255.</summary>
    public static WaitProcessResponse Validate(WaitProcessResponse reply, DateTimeOffset now)
    {
        var validated = reply.Clone();
        validated.ExitedAt = Timestamp.FromDateTimeOffset(Clamp(reply.ExitedAt, now));
        if (reply.ExitStatus is < 0 or > MaxExitStatus)
        {
            validated.ExitStatus = MaxExitStatus;
        }

        return validated;
    }

    /// <exception cref="KataSharpException">Internal: more data than asked for.</exception>
    public static ReadOutputResponse Validate(ReadOutputResponse reply, uint maxBytes) =>
        maxBytes > 0 && (uint)reply.Data.Length > maxBytes
            ? throw Invalid($"ReadOutput returned {reply.Data.Length} bytes for a read of at most {maxBytes}")
            : reply;

    /// <exception cref="KataSharpException">Internal: more data than asked for, or data together with EOF.</exception>
    public static ReadPortForwardResponse Validate(ReadPortForwardResponse reply, uint maxBytes) =>
        (uint)reply.Data.Length > maxBytes || (reply.Eof && reply.Data.Length > 0)
            ? throw Invalid($"ReadPortForward returned {reply.Data.Length} bytes (eof {reply.Eof}) for a read of at most {maxBytes}")
            : reply;

    /// <exception cref="KataSharpException">Internal: more written than was sent.</exception>
    public static uint ValidateWritten(uint written, ByteString sent) =>
        written > (uint)sent.Length ? throw Invalid($"WriteStdin reported {written} bytes written of {sent.Length} sent") : written;

    private static DateTimeOffset Clamp(Timestamp? exitedAt, DateTimeOffset now)
    {
        if (exitedAt is null)
        {
            return now;
        }

        // Timestamp's own range is years 1 to 9999; ToDateTimeOffset throws outside it (2^62 seconds, say).
        var seconds = Math.Clamp(exitedAt.Seconds, 0, now.ToUnixTimeSeconds());
        var clamped = DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(Math.Clamp(exitedAt.Nanos, 0, 999_999_999) / 100);
        return clamped > now ? now : clamped;
    }

    private static KataSharpException Invalid(string what) => Errdefs.Internal($"invalid agent reply: {what}");
}
