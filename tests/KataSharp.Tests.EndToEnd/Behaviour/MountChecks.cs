using KataSharp.Protocol.Cri.V1;

namespace KataSharp.Tests.EndToEnd.Behaviour;

// Owned by the helper "mounts": hostPath volumes, /etc files from CRI, propagation.
public static class MountChecks
{
    private static readonly TimeSpan PropagationTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CallTimeout = TimeSpan.FromMinutes(1);

    public static IReadOnlyList<BehaviourCheck> All { get; } =
    [
        new("mounts/host-path-rw", async ctx =>
        {
            var volume = HostDirectory(ctx, "rw", ("from-host", "host wrote this"));
            var id = await ctx.StartContainerAsync(c => c.Mounts.Add(new Mount { HostPath = volume, ContainerPath = "/mnt/volume" }));
            Assert.Equal("host wrote this", await ctx.ShAsync(id, "cat /mnt/volume/from-host"));
            await ctx.ShAsync(id, "echo container wrote this > /mnt/volume/from-container && mkdir /mnt/volume/dir && echo nested > /mnt/volume/dir/file");
            Assert.Equal("container wrote this\n", await File.ReadAllTextAsync(Path.Combine(volume, "from-container")));
            Assert.Equal("nested\n", await File.ReadAllTextAsync(Path.Combine(volume, "dir", "file")));
            // A change on the host after the start shows inside at once: the volume is the host directory, not a copy.
            await File.WriteAllTextAsync(Path.Combine(volume, "later"), "changed on the host");
            Assert.Equal("changed on the host", await ctx.ShAsync(id, "cat /mnt/volume/later"));
            await ctx.ShAsync(id, "rm /mnt/volume/from-host");
            Assert.False(File.Exists(Path.Combine(volume, "from-host")), "a file the container removed is still on the host");
        }),
        new("mounts/host-path-ro", async ctx =>
        {
            var volume = HostDirectory(ctx, "ro", ("from-host", "host wrote this"));
            var id = await ctx.StartContainerAsync(c => c.Mounts.Add(new Mount { HostPath = volume, ContainerPath = "/mnt/volume", Readonly = true }));
            Assert.Equal("host wrote this", await ctx.ShAsync(id, "cat /mnt/volume/from-host"));
            foreach (var write in new[] { "touch /mnt/volume/new", "echo x > /mnt/volume/from-host", "rm /mnt/volume/from-host", "mkdir /mnt/volume/dir" })
            {
                var result = await ctx.ExecAsync(id, "sh", "-c", write);
                Assert.True(result.ExitCode != 0, $"`{write}` succeeded on a read-only volume");
                Assert.Contains("Read-only file system", result.Stderr.ToStringUtf8());
            }

            Assert.Equal(["from-host"], Directory.EnumerateFileSystemEntries(volume).Select(Path.GetFileName));
            Assert.Equal("host wrote this", await File.ReadAllTextAsync(Path.Combine(volume, "from-host")));
            Assert.Contains("ro", MountOptions(await ctx.ShAsync(id, "cat /proc/self/mounts"), "/mnt/volume"));
        }),
        new("mounts/host-path-symlink", async ctx =>
        {
            // kubelet hands a hostPath over as the user wrote it, and that may be a symlink: the target is what is mounted.
            var target = HostDirectory(ctx, "target", ("from-host", "behind the link"));
            var link = Path.Combine(ctx.Scratch, "link");
            File.CreateSymbolicLink(link, target);
            var id = await ctx.StartContainerAsync(c => c.Mounts.Add(new Mount { HostPath = link, ContainerPath = "/mnt/volume" }));
            Assert.Equal("behind the link", await ctx.ShAsync(id, "cat /mnt/volume/from-host"));
            await ctx.ShAsync(id, "echo through the link > /mnt/volume/from-container");
            Assert.Equal("through the link\n", await File.ReadAllTextAsync(Path.Combine(target, "from-container")));
            await ctx.ShAsync(id, "test -d /mnt/volume && ! test -L /mnt/volume");
        }),
        new("mounts/host-path-file", async ctx =>
        {
            var file = Path.Combine(ctx.Scratch, "config.txt");
            await File.WriteAllTextAsync(file, "one file\n");
            var id = await ctx.StartContainerAsync(c => c.Mounts.Add(new Mount { HostPath = file, ContainerPath = "/etc/app/config.txt" }));
            Assert.Equal("one file\n", await ctx.ShAsync(id, "cat /etc/app/config.txt"));
            await ctx.ShAsync(id, "echo appended >> /etc/app/config.txt");
            Assert.Equal("one file\nappended\n", await File.ReadAllTextAsync(file));
        }),
        new("mounts/etc-hosts", async ctx =>
        {
            // containerd gives every pod without host networking a copy of the node's /etc/hosts.
            var id = await ctx.DefaultContainerAsync();
            Assert.Equal(await File.ReadAllTextAsync("/etc/hosts"), await ctx.ShAsync(id, "cat /etc/hosts"));
            Assert.Contains("/etc/hosts", MountPoints(await ctx.ShAsync(id, "cat /proc/self/mounts")));
        }),
        new("mounts/etc-hostname", async ctx =>
        {
            var pod = await ctx.SharedPodAsync();
            var id = await ctx.DefaultContainerAsync();
            Assert.Equal(pod.Config.Hostname + "\n", await ctx.ShAsync(id, "cat /etc/hostname"));
            Assert.Equal(pod.Config.Hostname, (await ctx.ShAsync(id, "hostname")).Trim());
        }),
        new("mounts/etc-resolv-conf", async ctx =>
        {
            var pod = await ctx.SharedPodAsync();
            var id = await ctx.DefaultContainerAsync();
            var dns = pod.Config.DnsConfig;
            var lines = (await ctx.ShAsync(id, "cat /etc/resolv.conf")).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(
                [$"search {string.Join(' ', dns.Searches)}", .. dns.Servers.Select(s => $"nameserver {s}"), $"options {string.Join(' ', dns.Options)}"],
                lines);
        }),
        new("mounts/dev-shm", async ctx =>
        {
            var id = await ctx.DefaultContainerAsync();
            var mounts = await ctx.ShAsync(id, "cat /proc/self/mounts");
            Assert.Equal("tmpfs", MountType(mounts, "/dev/shm"));
            Assert.Contains("rw", MountOptions(mounts, "/dev/shm"));
            // A pod's containers share one IPC namespace and with it one /dev/shm (POSIX shared memory).
            var marker = $"/dev/shm/from-{Guid.NewGuid():N}";
            await ctx.ShAsync(id, $"head -c 1m /dev/zero > {marker}");
            var other = await ctx.StartContainerAsync(_ => { });
            try
            {
                Assert.Equal((1 << 20).ToString(System.Globalization.CultureInfo.InvariantCulture), (await ctx.ShAsync(other, $"wc -c < {marker}")).Trim());
            }
            finally
            {
                await ctx.ShAsync(id, $"rm -f {marker}");
            }
        }),
        new("mounts/propagation-host-to-container", async ctx =>
        {
            // rslave: a mount the node makes under the volume after the start appears inside (CSI drivers, autofs).
            await using var shared = await SharedMount.CreateAsync(ctx);
            var id = await ctx.StartContainerAsync(c => c.Mounts.Add(new Mount
            {
                HostPath = shared.Path, ContainerPath = "/mnt/volume", Propagation = MountPropagation.PropagationHostToContainer,
            }));
            Assert.Equal("", await ctx.ShAsync(id, "ls -A /mnt/volume"));
            await shared.MountTmpfsAsync("sub");
            await File.WriteAllTextAsync(Path.Combine(shared.Path, "sub", "file"), "mounted after the start");
            string? seen = null;
            var arrived = await HostResources.EventuallyAsync(() =>
            {
                var result = ctx.ExecAsync(id, "cat", "/mnt/volume/sub/file").GetAwaiter().GetResult();
                seen = result.ExitCode == 0 ? result.Stdout.ToStringUtf8() : result.Stderr.ToStringUtf8();
                return result.ExitCode == 0;
            }, PropagationTimeout);
            Assert.True(arrived, $"a mount made on the host after the start did not reach the container: {seen}");
            Assert.Equal("mounted after the start", seen);

            await shared.UnmountAsync("sub");
            Assert.True(await HostResources.EventuallyAsync(() => ctx.ExecAsync(id, "test", "-e", "/mnt/volume/sub/file").GetAwaiter().GetResult().ExitCode != 0,
                PropagationTimeout), "an unmount on the host did not reach the container");

            // The container's end is no unmount on the node: a mount the host made under the volume stays.
            await shared.MountTmpfsAsync("again");
            await File.WriteAllTextAsync(Path.Combine(shared.Path, "again", "file"), "still mounted");
            Assert.True(await HostResources.EventuallyAsync(() => ctx.ExecAsync(id, "test", "-e", "/mnt/volume/again/file").GetAwaiter().GetResult().ExitCode == 0,
                PropagationTimeout), "the second host mount did not reach the container");
            await RemoveContainerAsync(ctx, id);
            Assert.Equal("still mounted", await File.ReadAllTextAsync(Path.Combine(shared.Path, "again", "file")));
        }),
        new("mounts/propagation-private", async ctx =>
        {
            // No propagation asked for (CRI's default, rprivate): a mount the node makes under the source later stays out.
            await using var shared = await SharedMount.CreateAsync(ctx);
            var id = await ctx.StartContainerAsync(c => c.Mounts.Add(new Mount { HostPath = shared.Path, ContainerPath = "/mnt/volume" }));
            await shared.MountTmpfsAsync("sub");
            await File.WriteAllTextAsync(Path.Combine(shared.Path, "sub", "file"), "mounted after the start");
            await File.WriteAllTextAsync(Path.Combine(shared.Path, "beside"), "in the volume itself");
            Assert.Equal("in the volume itself", await ctx.ShAsync(id, "cat /mnt/volume/beside"));
            Assert.Equal("", await ctx.ShAsync(id, "ls -A /mnt/volume/sub"));
            await RemoveContainerAsync(ctx, id);
            Assert.Equal("mounted after the start", await File.ReadAllTextAsync(Path.Combine(shared.Path, "sub", "file")));
        }),
        new("mounts/propagation-bidirectional", async ctx =>
        {
            // rshared: a mount the container makes under the volume appears on the node (kubelet asks for privileged).
            await using var shared = await SharedMount.CreateAsync(ctx);
            var pod = await ctx.RunPodAsync(p => p.Linux.SecurityContext.Privileged = true);
            var config = ctx.NewContainer();
            config.Mounts.Add(new Mount { HostPath = shared.Path, ContainerPath = "/mnt/volume", Propagation = MountPropagation.PropagationBidirectional });
            config.Linux.SecurityContext.Privileged = true;
            var id = await ctx.StartContainerAsync(config, pod);
            shared.Expect("sub");
            await ctx.ShAsync(id, "mkdir -p /mnt/volume/sub && mount -t tmpfs from-container /mnt/volume/sub && echo mounted inside > /mnt/volume/sub/file");
            Assert.True(await HostResources.EventuallyAsync(() => File.Exists(Path.Combine(shared.Path, "sub", "file")), PropagationTimeout),
                "a mount made in the container did not reach the host");
            Assert.Equal("mounted inside\n", await File.ReadAllTextAsync(Path.Combine(shared.Path, "sub", "file")));
        }),
    ];

    private static async Task RemoveContainerAsync(CheckContext ctx, string id)
    {
        await ctx.Cri.Runtime.StopContainerAsync(new StopContainerRequest { ContainerId = id, Timeout = 0 }, deadline: DateTime.UtcNow + CallTimeout);
        await ctx.Cri.Runtime.RemoveContainerAsync(new RemoveContainerRequest { ContainerId = id }, deadline: DateTime.UtcNow + CallTimeout);
    }

    /// <summary>A fresh host directory in the check's scratch, holding <paramref name="files"/>.</summary>
    private static string HostDirectory(CheckContext ctx, string name, params (string Name, string Content)[] files)
    {
        var directory = Directory.CreateDirectory(Path.Combine(ctx.Scratch, name)).FullName;
        foreach (var (file, content) in files)
        {
            File.WriteAllText(Path.Combine(directory, file), content);
        }

        return directory;
    }

    private static string[]? Fields(string procMounts, string mountPoint) =>
        procMounts.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).LastOrDefault(f => f.Length > 3 && f[1] == mountPoint);

    private static IReadOnlyList<string> MountPoints(string procMounts) =>
        procMounts.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')).Where(f => f.Length > 1).Select(f => f[1]).ToList();

    private static string MountType(string procMounts, string mountPoint) =>
        Fields(procMounts, mountPoint)?[2] ?? throw new CheckFailedException($"{mountPoint} is not a mount point inside");

    private static IReadOnlyList<string> MountOptions(string procMounts, string mountPoint) =>
        (Fields(procMounts, mountPoint) ?? throw new CheckFailedException($"{mountPoint} is not a mount point inside"))[3].Split(',');

    /// <summary>
    /// A host directory that is a shared mount, as kubelet's are on a node: containerd accepts host-to-container or
    /// bidirectional propagation only from such a source. Disposing it unmounts whatever was mounted under it.
    /// </summary>
    private sealed class SharedMount : IAsyncDisposable
    {
        private readonly List<string> _submounts = [];

        private SharedMount(string path) => Path = path;

        public string Path { get; }

        public static async Task<SharedMount> CreateAsync(CheckContext ctx)
        {
            var path = Directory.CreateDirectory(System.IO.Path.Combine(ctx.Scratch, "shared")).FullName;
            await HostCommand.OutputAsync("mount", "--bind", path, path);
            var mount = new SharedMount(path);
            try
            {
                await HostCommand.OutputAsync("mount", "--make-shared", path);
            }
            catch
            {
                await mount.DisposeAsync();
                throw;
            }

            return mount;
        }

        public async Task MountTmpfsAsync(string name)
        {
            var target = Directory.CreateDirectory(System.IO.Path.Combine(Path, name)).FullName;
            Expect(name);
            await HostCommand.OutputAsync("mount", "-t", "tmpfs", "-o", "size=1m", "ks-check", target);
        }

        /// <summary>Something (the host or the container) will mount at <paramref name="name"/>: dispose unmounts it.</summary>
        public void Expect(string name) => _submounts.Add(System.IO.Path.Combine(Path, name));

        public async Task UnmountAsync(string name)
        {
            var target = System.IO.Path.Combine(Path, name);
            await HostCommand.OutputAsync("umount", target);
            _submounts.Remove(target);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var target in _submounts.Append(Path))
            {
                // Lazy: a container may still hold the mount; gone from the host's tree at once all the same.
                while (HostResources.MountsUnder(target).Contains(target))
                {
                    await HostCommand.OutputAsync("umount", "-l", target);
                }
            }
        }
    }
}
