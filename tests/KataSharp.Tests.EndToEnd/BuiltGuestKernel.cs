using System.Text.Json;

namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// Which kernel a built guest/ directory holds (./build.sh image links KATASHARP_GUEST_KERNEL's image there), as its
/// guest.kernel name. The tests boot that image, so their katasharp.yaml names its kind: the runtime builds the VM
/// for it (ACPI only for Debian's) and finds guest/&lt;kind&gt;/ by it, whichever kernel the build made the default.
/// </summary>
public static class BuiltGuestKernel
{
    public static string KindOf(string guestDirectory)
    {
        var path = Path.Combine(guestDirectory, "manifest.json");
        using var manifest = JsonDocument.Parse(File.ReadAllText(path));
        return manifest.RootElement.TryGetProperty("kernel", out var kernel) && kernel.TryGetProperty("kind", out var kind) && kind.GetString() is { Length: > 0 } name
            ? name
            : throw new InvalidOperationException($"{path} does not say which kernel it holds (kernel.kind): rebuild it with ./build.sh image");
    }
}
