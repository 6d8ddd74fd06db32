using System.Text;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>
/// The values CRI and a hostile guest or host can put in a field: path traversal, NUL bytes, huge and
/// empty strings, negative and extreme numbers, the ids the fuzzed worlds actually use.
/// </summary>
internal static class HostileValues
{
    public static readonly string[] Strings =
    [
        "", "c1", "c2", "sb", "e1", "pod", "rootfs", "sh", "/bin/sh", "9p", "virtiofs", "ro", "bind", "rbind",
        "..", "../../../../etc/passwd", "/../../etc", "/etc/passwd", "rootfs/../..", "./", "/", "//", "/dev/shm",
        "a\0b", "\0", "/proc/self/root", "-rf", ".hidden", " ", "\n", "\t", "a,b", "x=y", "PATH=/bin", "%s%n%x",
        "\u202e\u00e9\ud83d\ude00", "\ud800", "CAPS", "UPPER-Case.Key", "grpc-timeout", "key-bin", "containerd-namespace-ttrpc",
        "types.containerd.io/opencontainers/runtime-spec/1/Process", "io.kubernetes.cri.container-type", "sandbox", "container",
        new string('x', 129), new string('a', 4096), new string('/', 300), string.Concat(Enumerable.Repeat("../", 200)),
    ];

    public static readonly long[] Integers =
    [
        0, 1, -1, 2, 9, 15, 19, 64, 255, 256, 1024, 4096, 65535, 65536, int.MaxValue, int.MinValue, uint.MaxValue, long.MaxValue, long.MinValue,
        4L << 20, (4L << 20) + 1, 1_000_000_000, 100_000_000_000_000_000, -100_000_000_000,
    ];

    public static string String(Choices choices)
    {
        // Huge values (CRI's "huge env") are rare, so that a sample stays fast.
        return (choices.Next() % 32) switch
        {
            < 4 => Random(choices, (int)(choices.Next() % 64)),
            4 => new string((char)('a' + (choices.Next() % 26)), (int)(choices.Next() % (1u << 18))),
            < 10 => Strings[choices.Next() % Strings.Length] + Strings[choices.Next() % Strings.Length],
            _ => Strings[choices.Next() % Strings.Length],
        };
    }

    public static long Integer(Choices choices) => (choices.Next() % 4) switch
    {
        0 => (long)(((ulong)choices.Next() << 32) | choices.Next()),
        _ => Integers[choices.Next() % Integers.Length],
    };

    public static byte[] Bytes(Choices choices, IReadOnlyList<byte[]> corpus) => (choices.Next() % 4) switch
    {
        0 => Encoding.UTF8.GetBytes(String(choices)),
        1 when corpus.Count > 0 => corpus[(int)(choices.Next() % corpus.Count)],
        2 => Enumerable.Range(0, (int)(choices.Next() % 256)).Select(_ => (byte)choices.Next()).ToArray(),
        _ => corpus.Count > 0 ? corpus[(int)(choices.Next() % corpus.Count)] : [],
    };

    private static string Random(Choices choices, int length)
    {
        var builder = new StringBuilder(length);
        for (var i = 0; i < length; i++)
        {
            builder.Append((char)(choices.Next() % 3 == 0 ? choices.Next() % 0x3000 : 0x20 + (choices.Next() % 0x5F)));
        }

        return builder.ToString();
    }
}

/// <summary>
/// A sequence of random choices that an input is decoded from. Running out yields zeros, so CsCheck's
/// shrinking (shorter, smaller arrays) walks towards simpler inputs.
/// </summary>
internal sealed class Choices(uint[] values)
{
    private int _next;

    public uint Next() => _next < values.Length ? values[_next++] : 0;

    public bool Chance(uint outOf) => Next() % outOf == 0;
}
