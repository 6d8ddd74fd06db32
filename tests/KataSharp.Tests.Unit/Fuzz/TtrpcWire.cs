using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Protocol.Ttrpc.Wire;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>One ttrpc frame as the fuzzer writes it; <see cref="DeclaredLength"/> may lie about the payload.</summary>
internal sealed record FuzzFrame(uint StreamId, byte Type, byte Flags, byte[] Payload, uint? DeclaredLength = null)
{
    public static FuzzFrame Call(uint streamId, string service, string method, IMessage payload, long timeoutNano = 0) =>
        new(streamId, (byte)TtrpcMessageType.Request, 0,
            new Request { Service = service, Method = method, Payload = payload.ToByteString(), TimeoutNano = timeoutNano }.ToByteArray());

    public static byte[] Encode(IEnumerable<FuzzFrame> frames)
    {
        var output = new MemoryStream();
        Span<byte> header = stackalloc byte[TtrpcFrameHeader.Size];
        foreach (var frame in frames)
        {
            new TtrpcFrameHeader(frame.DeclaredLength ?? (uint)frame.Payload.Length, frame.StreamId, (TtrpcMessageType)frame.Type, frame.Flags).Write(header);
            output.Write(header);
            output.Write(frame.Payload);
        }

        return output.ToArray();
    }
}

/// <summary>What the server should do with a byte stream, worked out by cutting it into frames the way the server does.</summary>
internal sealed record WirePlan(IReadOnlyList<uint> MustAnswer, bool EndsOnFrameBoundary, IReadOnlyDictionary<uint, string> Methods)
{
    public static async Task<WirePlan> ForAsync(byte[] input, Func<Request, bool> answersPromptly)
    {
        var reader = new TtrpcFrameReader(PipeReader.Create(new ReadOnlySequence<byte>(input)));
        var mustAnswer = new List<uint>();
        var methods = new Dictionary<uint, string>();
        try
        {
            while (await reader.ReadAsync(TtrpcMessageType.Request, Request.Parser, CancellationToken.None) is { } frame)
            {
                if (frame.Header.Type != TtrpcMessageType.Request)
                {
                    continue;
                }

                methods[frame.Header.StreamId] = frame.Message is { } call ? call.Method : "(refused)";
                // Oversized, even-numbered and malformed requests are refused at once; calls run unless they long-poll.
                if (frame.Oversized || frame.Header.StreamId % 2 == 0 || frame.Message is not { } request || answersPromptly(request))
                {
                    mustAnswer.Add(frame.Header.StreamId);
                }
            }

            return new WirePlan(mustAnswer, true, methods);
        }
        catch (EndOfStreamException)
        {
            return new WirePlan(mustAnswer, false, methods);
        }
    }
}
