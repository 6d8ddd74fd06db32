using KataSharp.Native;

namespace KataSharp.Runtime.Images.Cache;

/// <summary>
/// A job's rootfs: an overlay of the image's shared, never-written layers with an upper and work directory of
/// the job's own, so a job writes only its copy and a warm run unpacks nothing. It lives in the sandbox
/// directory, whose teardown (and <c>katasharp gc</c>) unmounts and removes everything under it.
/// </summary>
public static class OverlayRootfs
{
    /// <summary>mount(2) takes one page of options.</summary>
    private const int MaxOptionBytes = 4095;

    /// <param name="layers">The layer directories, bottom first.</param>
    /// <param name="scratch">Where the upper and work directories go (created; on the same filesystem as each other).</param>
    /// <exception cref="ImageException">Too many layers for one mount, or the mount failed.</exception>
    public static void Mount(IReadOnlyList<string> layers, string target, string scratch)
    {
        if (layers.Count == 0)
        {
            throw new ImageException("the image has no layers");
        }

        var upper = Path.Combine(scratch, "upper");
        var work = Path.Combine(scratch, "work");
        Directory.CreateDirectory(upper);
        Directory.CreateDirectory(work);
        Directory.CreateDirectory(target);

        // overlayfs lists the lowers top first. index=off: the lowers are shared by jobs whose uppers come and go.
        var options = $"lowerdir={string.Join(':', layers.Reverse())},upperdir={upper},workdir={work},index=off";
        if (options.Length > MaxOptionBytes)
        {
            throw new ImageException($"the image has {layers.Count} layers, more than one overlay mount can name under {Path.GetDirectoryName(layers[0])}; use a shorter runtime.stateDir");
        }

        try
        {
            SystemCalls.Mount("overlay", target, "overlay", Linux.MS_NOSUID | Linux.MS_NODEV, options);
        }
        catch (ErrnoException e)
        {
            throw new ImageException($"cannot mount the image's overlay at {target}: {e.Message}", e);
        }
    }
}
