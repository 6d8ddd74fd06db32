namespace KataSharp.Runtime.Images;

/// <summary>An image platform, <c>os/architecture[/variant]</c>, as <c>--platform</c> and image indexes name it.</summary>
public sealed record ImagePlatform(string Os, string Architecture, string? Variant = null)
{
    /// <summary>What the guest kernel runs.</summary>
    public static readonly ImagePlatform Default = new("linux", "amd64");

    /// <exception cref="FormatException">Not <c>os/arch</c> or <c>os/arch/variant</c>.</exception>
    public static ImagePlatform Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length is < 2 or > 3 || parts.Any(p => p.Length == 0 || !p.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.')))
        {
            throw new FormatException($"platform '{text}' is not os/arch or os/arch/variant (e.g. linux/amd64, linux/arm64/v8)");
        }

        return new ImagePlatform(parts[0].ToLowerInvariant(), parts[1].ToLowerInvariant(), parts.Length == 3 ? parts[2].ToLowerInvariant() : null);
    }

    /// <summary>
    /// The manifest of an index for this platform: an exact os/arch match whose variant fits (any variant when none
    /// was asked for, the plain one preferred), else an entry without a platform. Attestation entries
    /// (unknown/unknown) never match.
    /// </summary>
    /// <exception cref="ImageException">The index has nothing for this platform.</exception>
    internal OciDescriptor Select(IReadOnlyList<OciDescriptor> manifests)
    {
        var candidates = manifests.Where(d => d.Os == Os && d.Architecture == Architecture && (Variant is null || d.Variant == Variant)).ToList();
        return candidates.FirstOrDefault(d => d.Variant is null || Variant is not null) ?? candidates.FirstOrDefault()
            ?? manifests.FirstOrDefault(d => d.Os is null && d.Architecture is null)
            ?? throw new ImageException($"the image has no {this} manifest (it has {string.Join(", ", manifests.Select(d => d.Platform))})");
    }

    public override string ToString() => Variant is null ? $"{Os}/{Architecture}" : $"{Os}/{Architecture}/{Variant}";
}
