using CsCheck;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>
/// libFuzzer-style byte mutations of corpus entries, as a CsCheck generator (so a failing mutation shrinks
/// towards fewer, smaller edits): flips, interesting values, inserts, deletes, duplicated chunks, splices.
/// </summary>
internal static class ByteMutator
{
    private static readonly byte[] Interesting = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x0A, 0x2F, 0x2E, 0x22, 0x5C];

    public static Gen<byte[]> Mutations(IReadOnlyList<byte[]> corpus, int maxEdits = 8) =>
        Gen.Select(Gen.Int[0, corpus.Count - 1], Gen.Int[0, corpus.Count - 1], Edit.Array[0, maxEdits],
            (a, b, edits) => Apply(corpus[a], corpus[b], edits));

    private static Gen<(int Kind, uint Position, uint Length, byte Value)> Edit =>
        Gen.Select(Gen.Int[0, 7], Gen.UInt, Gen.UInt[0, 64], Gen.Byte, (k, p, l, v) => (k, p, l, v));

    private static byte[] Apply(byte[] input, byte[] other, (int Kind, uint Position, uint Length, byte Value)[] edits)
    {
        var bytes = new List<byte>(input);
        foreach (var (kind, position, length, value) in edits)
        {
            var at = bytes.Count == 0 ? 0 : (int)(position % (uint)bytes.Count);
            var span = (int)Math.Min(length, (uint)(bytes.Count - at));
            switch (kind)
            {
                case 0 when bytes.Count > 0:
                    bytes[at] ^= (byte)(1 << (value % 8));
                    break;
                case 1 when bytes.Count > 0:
                    bytes[at] = Interesting[value % Interesting.Length];
                    break;
                case 2:
                    bytes.InsertRange(at, Enumerable.Repeat(value, (int)length));
                    break;
                case 3:
                    bytes.RemoveRange(at, span);
                    break;
                case 4:
                    bytes.InsertRange(at, bytes.GetRange(at, span));
                    break;
                case 5 when other.Length > 0:
                    var from = (int)(position % (uint)other.Length);
                    bytes.InsertRange(at, other.AsSpan(from, (int)Math.Min(length, (uint)(other.Length - from))).ToArray());
                    break;
                case 6 when bytes.Count > 0:
                    bytes[at] = value;
                    break;
                case 7 when bytes.Count > at + 4:
                    // A big-endian length or a varint neighbourhood set to an extreme.
                    var extreme = (value % 3) switch { 0 => 0xFFu, 1 => 0x7Fu, _ => 0x00u };
                    for (var i = 0; i < 4; i++)
                    {
                        bytes[at + i] = (byte)extreme;
                    }

                    break;
            }
        }

        return bytes.ToArray();
    }
}
