using KataSharp.Protocol.Ttrpc;

namespace KataSharp.Protocol.Agent.V1;

/// <summary>
/// The agent answers ReadOutput with the process's bytes still in its output pipe: the server moves them
/// from there into the frame (over virtio-serial, a splice that never copies them through the agent).
/// On the wire it is the same message; a reader sees <see cref="Data"/> set.
/// </summary>
public sealed partial class ReadOutputResponse : ITtrpcTrailingBytes
{
    private ITtrpcBytesSource? _trailingData;

    int ITtrpcTrailingBytes.TrailingFieldNumber => DataFieldNumber;

    /// <summary>
    /// Where <see cref="Data"/>'s bytes are, when they are not in it; only for the serving side, and not part
    /// of the message's equality or its clone.
    /// </summary>
    public ITtrpcBytesSource? TrailingData
    {
        get => _trailingData;
        set
        {
            if (value is not null && !Data.IsEmpty)
            {
                throw new InvalidOperationException("a ReadOutputResponse carries its data either in Data or trailing, not both");
            }

            _trailingData = value;
        }
    }

    ITtrpcBytesSource? ITtrpcTrailingBytes.TrailingBytes => _trailingData;
}
