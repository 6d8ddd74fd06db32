using System.Text.RegularExpressions;

namespace KataSharp.Runtime.Images.Registry;

/// <summary>Where an image comes from.</summary>
public enum ImageTransport
{
    /// <summary>A registry, through the OCI distribution API.</summary>
    Registry,

    /// <summary>An OCI image layout directory (<c>oci:DIR</c>, or a plain path to a directory).</summary>
    OciLayout,

    /// <summary>A tar of an OCI layout (<c>oci-archive:FILE</c>, or a plain path to a file).</summary>
    OciArchive,
}

/// <summary>
/// An image reference as <c>katasharp run --image</c> takes it, normalised as docker does: no registry means
/// docker.io, a one-part docker.io name is under <c>library/</c>, no tag or digest means <c>:latest</c>.
/// <c>oci:</c> and <c>oci-archive:</c> name local layouts, as skopeo's transports do; so does a path that exists.
/// </summary>
public sealed partial record ImageReference
{
    public const string DockerHub = "docker.io";

    private ImageReference()
    {
    }

    public ImageTransport Transport { get; private init; }

    /// <summary>The registry host (and port), e.g. docker.io or 127.0.0.1:5000; empty for local layouts.</summary>
    public string Registry { get; private init; } = "";

    /// <summary>The repository path, e.g. library/alpine.</summary>
    public string Repository { get; private init; } = "";

    public string? Tag { get; private init; }

    public ContentDigest? Digest { get; private init; }

    /// <summary>The layout directory or archive, for the local transports.</summary>
    public string Path { get; private init; } = "";

    /// <summary>The tag or digest to ask the registry's manifest endpoint for (the digest when both are given, as docker does).</summary>
    public string ManifestReference => Digest?.ToString() ?? Tag ?? "latest";

    /// <summary>The host the API is reached at: Docker Hub's API does not live at docker.io.</summary>
    public string ApiHost => Registry == DockerHub ? "registry-1.docker.io" : Registry;

    /// <exception cref="FormatException">Not a valid reference.</exception>
    public static ImageReference Parse(string text)
    {
        if (text.StartsWith("oci:", StringComparison.Ordinal))
        {
            return Local(ImageTransport.OciLayout, text["oci:".Length..], text);
        }

        if (text.StartsWith("oci-archive:", StringComparison.Ordinal))
        {
            return Local(ImageTransport.OciArchive, text["oci-archive:".Length..], text);
        }

        if (text.StartsWith("docker://", StringComparison.Ordinal))
        {
            text = text["docker://".Length..];
        }
        else if (text.StartsWith('/') || text.StartsWith("./", StringComparison.Ordinal) || text.StartsWith("../", StringComparison.Ordinal) || System.IO.Path.Exists(text))
        {
            // What --image always took: a path, a directory being a layout and a file an archive.
            return Local(Directory.Exists(text) ? ImageTransport.OciLayout : ImageTransport.OciArchive, text, text);
        }

        return ParseRegistry(text);
    }

    private static ImageReference Local(ImageTransport transport, string path, string text)
    {
        if (path.Length == 0)
        {
            throw new FormatException($"image reference '{text}' names no path");
        }

        return new ImageReference { Transport = transport, Path = System.IO.Path.GetFullPath(path) };
    }

    private static ImageReference ParseRegistry(string text)
    {
        var rest = text;
        ContentDigest? digest = null;
        var at = rest.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            try
            {
                digest = ContentDigest.Parse(rest[(at + 1)..], "image digest");
            }
            catch (ImageException e)
            {
                throw new FormatException($"image reference '{text}': {e.Message}", e);
            }

            rest = rest[..at];
        }

        // A colon after the last slash starts the tag; one before it is a registry's port.
        string? tag = null;
        var colon = rest.LastIndexOf(':');
        if (colon > rest.LastIndexOf('/'))
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (!TagPattern().IsMatch(tag))
            {
                throw new FormatException($"image reference '{text}': tag '{tag}' is not valid");
            }
        }

        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        var first = slash < 0 ? "" : rest[..slash];
        string registry;
        string repository;
        if (slash >= 0 && (first.Contains('.', StringComparison.Ordinal) || first.Contains(':', StringComparison.Ordinal) || first == "localhost"))
        {
            registry = first;
            repository = rest[(slash + 1)..];
        }
        else
        {
            registry = DockerHub;
            repository = rest;
        }

        if (registry is "index.docker.io" or "registry-1.docker.io")
        {
            registry = DockerHub;
        }

        if (registry == DockerHub && !repository.Contains('/', StringComparison.Ordinal))
        {
            repository = "library/" + repository;
        }

        if (!RepositoryPattern().IsMatch(repository))
        {
            throw new FormatException($"image reference '{text}': repository '{repository}' is not valid (lower-case letters, digits, and . _ - separated by /)");
        }

        if (!HostPattern().IsMatch(registry))
        {
            throw new FormatException($"image reference '{text}': registry '{registry}' is not a host[:port]");
        }

        return new ImageReference { Transport = ImageTransport.Registry, Registry = registry, Repository = repository, Tag = tag ?? (digest is null ? "latest" : null), Digest = digest };
    }

    /// <summary>The full name, e.g. docker.io/library/alpine:3 or 127.0.0.1:5000/x@sha256:...; the path for local layouts.</summary>
    public override string ToString() => Transport switch
    {
        ImageTransport.OciLayout => "oci:" + Path,
        ImageTransport.OciArchive => "oci-archive:" + Path,
        _ => $"{Registry}/{Repository}{(Tag is null ? "" : ":" + Tag)}{(Digest is null ? "" : "@" + Digest)}",
    };

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")]
    private static partial Regex TagPattern();

    [GeneratedRegex("^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")]
    private static partial Regex RepositoryPattern();

    [GeneratedRegex(@"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$")]
    private static partial Regex HostPattern();
}
