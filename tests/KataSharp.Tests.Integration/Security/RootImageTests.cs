using System.Globalization;
using KataSharp.Tests.EndToEnd;
using KataSharp.Tests.Integration.Infrastructure;

namespace KataSharp.Tests.Integration.Security;

/// <summary>A fact for our kernel's root image; with Debian's kernel as the build's default there is none, and it says so.</summary>
public sealed class RootImageFactAttribute : FactAttribute
{
    public RootImageFactAttribute()
    {
        if (!File.Exists(TestEnvironment.RootImage))
        {
            Skip = $"the build's default guest kernel has no root image ({TestEnvironment.RootImage}); only ours does";
        }
    }
}

/// <summary>
/// Every VM boots from the one root image, and no guest can change it: QEMU holds it read-only (a hostile guest that
/// controls QEMU's device emulation still holds no writable descriptor), and the guest's kernel mounts it read-only.
/// </summary>
[Collection(SharedSandboxCollection.Name)]
public sealed class RootImageTests(SharedSandboxFixture fixture)
{
    [RootImageFact]
    public void Qemu_holds_the_root_image_read_only()
    {
        var image = Path.GetFullPath(TestEnvironment.RootImage);
        var pid = fixture.Sandbox.Hypervisor.Pid;
        var modes = new List<string>();
        foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            string target;
            try
            {
                target = new FileInfo(fd).LinkTarget ?? "";
            }
            catch (IOException)
            {
                continue; // closed meanwhile
            }

            if (target == image)
            {
                var flags = File.ReadLines($"/proc/{pid}/fdinfo/{Path.GetFileName(fd)}").First(l => l.StartsWith("flags:", StringComparison.Ordinal));
                var accessMode = Convert.ToInt32(flags["flags:".Length..].Trim(), 8) & 3;
                modes.Add(accessMode.ToString(CultureInfo.InvariantCulture));
            }
        }

        Assert.NotEmpty(modes);
        Assert.All(modes, mode => Assert.Equal("0", mode)); // O_RDONLY
    }

    [RootImageFact]
    public async Task The_guest_kernel_mounts_the_image_as_its_root_and_no_initramfs()
    {
        var (exit, stdout, stderr) = await fixture.RunAsync("cmdline", "cat", "/proc/cmdline");
        Assert.True(exit.ExitCode == 0, stderr);
        Assert.Contains(" root=/dev/vda ro rootfstype=erofs init=/init ", stdout, StringComparison.Ordinal);
        Assert.Equal("katasharp", BuiltGuestKernel.KindOf(TestEnvironment.GuestDirectory));
    }
}
