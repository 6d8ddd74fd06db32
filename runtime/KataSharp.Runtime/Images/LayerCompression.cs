using System.IO.Compression;
using ZstdSharp;

namespace KataSharp.Runtime.Images;

/// <summary>Opens a layer blob as its tar stream, by the layer's media type: gzip, zstd or plain tar.</summary>
internal static class LayerCompression
{
    /// <summary>The layer's tar; disposing it leaves <paramref name="blob"/> open.</summary>
    /// <exception cref="ImageException">A media type that is no layer tar (e.g. a foreign or encrypted layer).</exception>
    public static Stream Decompress(Stream blob, string mediaType, string digest)
    {
        if (mediaType.EndsWith("+zstd", StringComparison.Ordinal) || mediaType.EndsWith(".zstd", StringComparison.Ordinal))
        {
            return new DecompressionStream(blob, leaveOpen: true);
        }

        if (mediaType.EndsWith("gzip", StringComparison.Ordinal))
        {
            return new GZipStream(blob, CompressionMode.Decompress, leaveOpen: true);
        }

        // An empty media type: an old layout; the tar reader refuses anything that is not a tar.
        if (mediaType.Length == 0 || mediaType.EndsWith(".tar", StringComparison.Ordinal))
        {
            return new NonClosing(blob);
        }

        throw new ImageException($"layer {digest} has media type {mediaType}, which is not a (gzip or zstd) tar");
    }

    /// <summary>Keeps the one contract of the other branches: disposing the tar stream leaves the blob open.</summary>
    private sealed class NonClosing(Stream inner) : ReadOnlyStreamView(inner, leaveOpen: true);
}
