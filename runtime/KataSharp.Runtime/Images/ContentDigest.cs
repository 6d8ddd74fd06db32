using System.Security.Cryptography;

namespace KataSharp.Runtime.Images;

/// <summary>
/// A sha256 content digest (<c>sha256:</c> and 64 lower-case hex digits), the only algorithm registries and
/// layouts use in practice. Parsed strictly: the hex part names files in the cache, so nothing else may pass.
/// </summary>
public sealed record ContentDigest
{
    private ContentDigest(string hex) => Hex = hex;

    public string Hex { get; }

    /// <exception cref="ImageException">Not a well-formed sha256 digest.</exception>
    public static ContentDigest Parse(string? text, string what = "digest")
    {
        if (text is not { Length: 71 } || !text.StartsWith("sha256:", StringComparison.Ordinal) || text.AsSpan(7).ContainsAnyExcept("0123456789abcdef"))
        {
            throw new ImageException($"unsupported or malformed {what} '{text}' (expected sha256:<64 lower-case hex digits>)");
        }

        return new ContentDigest(text[7..]);
    }

    public static bool TryParse(string? text, out ContentDigest? digest)
    {
        try
        {
            digest = Parse(text);
            return true;
        }
        catch (ImageException)
        {
            digest = null;
            return false;
        }
    }

    public static ContentDigest Of(ReadOnlySpan<byte> content) => new(Convert.ToHexStringLower(SHA256.HashData(content)));

    public static ContentDigest FromHash(byte[] sha256) => new(Convert.ToHexStringLower(sha256));

    /// <summary>The first 12 hex digits, as docker shows image ids.</summary>
    public string Short => Hex[..12];

    public override string ToString() => "sha256:" + Hex;
}
