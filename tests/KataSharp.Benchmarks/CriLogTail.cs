using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace KataSharp.Benchmarks;

/// <summary>
/// Follows a CRI container log file as containerd writes it ("TIMESTAMP STREAM P|F CONTENT\n" records; F ends a
/// line, P is part of one) and rebuilds what the container wrote: stdout hashed with its size and arrival times,
/// stderr kept as text.
/// </summary>
internal sealed class CriLogTail
{
    private readonly IncrementalHash _stdout = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly StringBuilder _stderr = new();
    private readonly List<byte> _pending = [];
    private long _position;

    public long StdoutBytes { get; private set; }

    public long FirstByteAt { get; private set; }

    public long LastByteAt { get; private set; }

    public string Stderr => _stderr.ToString();

    public string StdoutSha256 => Convert.ToHexStringLower(_stdout.GetCurrentHash());

    /// <summary>Reads whatever was appended since the last call.</summary>
    public void Poll(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        file.Position = _position;
        var buffer = new byte[1 << 20];
        int n;
        while ((n = file.Read(buffer)) > 0)
        {
            _position += n;
            foreach (var b in buffer.AsSpan(0, n))
            {
                if (b == '\n')
                {
                    Record([.. _pending]);
                    _pending.Clear();
                }
                else
                {
                    _pending.Add(b);
                }
            }
        }
    }

    private void Record(byte[] record)
    {
        // TIMESTAMP SP STREAM SP TAG SP CONTENT
        var first = Array.IndexOf(record, (byte)' ');
        var second = first < 0 ? -1 : Array.IndexOf(record, (byte)' ', first + 1);
        var third = second < 0 ? -1 : Array.IndexOf(record, (byte)' ', second + 1);
        if (third < 0)
        {
            throw new InvalidOperationException($"not a CRI log record: {Encoding.UTF8.GetString(record)}");
        }

        var stream = Encoding.ASCII.GetString(record, first + 1, second - first - 1);
        var full = record[second + 1] == (byte)'F';
        var content = record.AsSpan(third + 1);
        if (stream == "stdout")
        {
            var now = Stopwatch.GetTimestamp();
            if (StdoutBytes == 0)
            {
                FirstByteAt = now;
            }

            _stdout.AppendData(content);
            StdoutBytes += content.Length;
            if (full)
            {
                _stdout.AppendData("\n"u8);
                StdoutBytes++;
            }

            LastByteAt = now;
        }
        else
        {
            _stderr.Append(Encoding.UTF8.GetString(content));
            if (full)
            {
                _stderr.Append('\n');
            }
        }
    }
}
