using System.Globalization;
using System.Text;
using System.Text.Json;
using KataSharp.Runtime.Containerd;

namespace KataSharp.Shim.Lifecycle;

/// <summary>
/// What <c>start</c> prints. containerd 1.6 dials its output as a socket path, so it gets the plain
/// address. containerd 2.x also parses <c>{"version":3,"address":…,"protocol":"ttrpc"}</c> and
/// then calls <c>containerd.task.v3.Task</c>; containerd 1.7 refuses version 3. Both 1.7 and 2.0–2.2
/// set <c>MAX_SHIM_VERSION=2</c>, so only the release of the containerd that started us (its
/// <c>-publish-binary</c>) tells them apart. Anything uncertain gets the plain address, which every
/// release accepts as version 2.
/// </summary>
internal static class StartReply
{
    public const string MaxShimVersionVariable = "MAX_SHIM_VERSION";

    /// <summary>The task API version to announce: 3 or 2.</summary>
    public static async Task<int> NegotiateAsync(string? maxShimVersion, string publishBinary, CancellationToken cancellationToken)
    {
        // 1.6 sets no MAX_SHIM_VERSION and cannot read JSON.
        if (!int.TryParse(maxShimVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var max) || max < 2)
        {
            return 2;
        }

        if (max >= 3)
        {
            return 3;
        }

        if (publishBinary.Length == 0 || !Path.IsPathRooted(publishBinary))
        {
            return 2;
        }

        var version = await ContainerdVersion.ProbeAsync(publishBinary, cancellationToken).ConfigureAwait(false);
        return version is { IsV2OrLater: true } ? 3 : 2;
    }

    public static string Format(string address, int taskApiVersion)
    {
        if (taskApiVersion < 3)
        {
            return address;
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteNumber("version", taskApiVersion);
            json.WriteString("address", address);
            json.WriteString("protocol", "ttrpc");
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
