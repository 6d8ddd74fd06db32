using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Images;
using KataSharp.Runtime.Images.Cache;
using KataSharp.Runtime.Images.Registry;
using KataSharp.Cli.Console;
using Microsoft.Extensions.Logging;

namespace KataSharp.Cli.Commands;

/// <summary><c>run</c>'s image options: <c>--image REF</c>, <c>--platform</c>, <c>--insecure-registry</c>; and how a job's rootfs is made of them.</summary>
internal sealed record ImageOptions(ImageReference Reference, ImagePlatform Platform, IReadOnlyList<string> InsecureRegistries)
{
    public static readonly IReadOnlyList<CliOption> Options =
    [
        CliOption.Value("image", "REF", "image: a registry reference (alpine:3, registry:5000/x@sha256:...), oci:DIR,\noci-archive:FILE, or a layout directory or archive path (default: busybox)"),
        CliOption.Value("platform", "P", "the image's os/arch[/variant] in a multi-platform index (default: linux/amd64)"),
        CliOption.Value("insecure-registry", "HOST", "reach HOST over plain http (loopback always is; repeatable)"),
    ];

    /// <exception cref="UsageException">A malformed reference or platform, or a local image that does not exist.</exception>
    public static ImageOptions Parse(ArgReader reader)
    {
        var text = reader.Get("image") ?? GuestAssets.DefaultImage();
        ImageReference reference;
        ImagePlatform platform;
        try
        {
            reference = ImageReference.Parse(text);
            platform = reader.Get("platform") is { } p ? ImagePlatform.Parse(p) : ImagePlatform.Default;
        }
        catch (FormatException e)
        {
            throw new UsageException($"run: {e.Message}");
        }

        if (reference.Transport != ImageTransport.Registry && !Path.Exists(reference.Path))
        {
            throw new UsageException($"run: image {reference.Path} does not exist" + (reader.Has("image") ? "" : " (build it with ./build.sh, or pass --image or --rootfs)"));
        }

        return new ImageOptions(reference, platform, reader.GetAll("insecure-registry"));
    }

    /// <summary>Pulls the image into the cache (progress on a terminal only) and mounts the job's overlay rootfs.</summary>
    public Task<ImageConfig> MountAsync(CliContext context, string rootfs, string scratch, CancellationToken cancellationToken)
    {
        var logger = context.LoggerFactory.CreateLogger("KataSharp.Images");
        var puller = new ImagePuller(
            ImageCachePaths.For(context.Config.Images),
            () => RegistryClient.Create(DockerCredentials.Load(), new RegistryClientOptions { InsecureRegistries = InsecureRegistries }, logger),
            logger,
            context.Config.Images.MaxUnpackedBytes);
        return puller.MountAsync(Reference, Platform, rootfs, scratch, TerminalPullProgress.ForStderr(), cancellationToken);
    }
}
