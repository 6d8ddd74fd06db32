using System.Diagnostics;
using KataSharp.Runtime.Images;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Tests.Integration.Infrastructure;

/// <summary>
/// The build's busybox image, unpacked once per test run with the runtime's own unpacker. Each
/// container gets its own copy (containers write to their rootfs, e.g. /tmp), made with cp -a,
/// which keeps the image's symlinks, owners and modes.
/// </summary>
public static class BusyboxRootfs
{
    private static readonly Lazy<Task<string>> Unpacked = new(UnpackAsync);

    /// <summary>The pristine unpacked image; never given to a container (it would write to it).</summary>
    public static Task<string> PristineAsync() => Unpacked.Value;

    /// <summary>A private copy of the rootfs, under the run's scratch directory.</summary>
    public static async Task<string> CopyAsync(string name)
    {
        var source = await Unpacked.Value.ConfigureAwait(false);
        var target = Path.Combine(TestEnvironment.NewWorkDirectory("rootfs-" + name), "rootfs");
        var copy = Process.Start(new ProcessStartInfo("cp", ["-a", source, target]) { RedirectStandardError = true })!;
        var error = await copy.StandardError.ReadToEndAsync().ConfigureAwait(false);
        await copy.WaitForExitAsync().ConfigureAwait(false);
        if (copy.ExitCode != 0)
        {
            throw new InvalidOperationException($"cp -a {source} {target} failed: {error}");
        }

        return target;
    }

    private static async Task<string> UnpackAsync()
    {
        TestEnvironment.RequirePrerequisites();
        var target = Path.Combine(TestEnvironment.WorkDirectory, "busybox-image-rootfs");
        using var timeout = new CancellationTokenSource(TestEnvironment.OperationTimeout);
        await new OciImageUnpacker(NullLogger.Instance).UnpackAsync(TestEnvironment.BusyboxImage, target, timeout.Token).ConfigureAwait(false);
        if (!File.Exists(Path.Combine(target, "bin", "busybox")) && !File.Exists(Path.Combine(target, "bin", "sh")))
        {
            throw new InvalidOperationException($"the busybox image unpacked into {target} has no /bin/sh");
        }

        return target;
    }
}
