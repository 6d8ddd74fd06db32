using System.Security.Cryptography;

namespace KataSharp.Runtime.Images.Cache;

/// <summary>A read-only view of a stream that hashes (sha256) and counts what passes through it.</summary>
internal sealed class HashingStream(Stream inner, bool leaveOpen) : ReadOnlyStreamView(inner, leaveOpen)
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public long BytesRead { get; private set; }

    /// <summary>Reads what is left (a tar's padding after its end marker counts towards the digest) and returns the digest.</summary>
    public ContentDigest Finish()
    {
        var buffer = new byte[81920];
        while (Read(buffer) > 0)
        {
        }

        return ContentDigest.FromHash(_hash.GetHashAndReset());
    }

    protected override void OnRead(ReadOnlySpan<byte> data)
    {
        _hash.AppendData(data);
        BytesRead += data.Length;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}
