using System.Formats.Tar;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Images;
using KataSharp.Tests.Unit.Native;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime;

/// <summary>
/// Images built to attack the host that unpacks them. Each must be refused with a clear error or made
/// harmless, and nothing next to the rootfs (<see cref="Outside"/>, standing for the host) may change.
/// </summary>
public sealed class HostileImageTests : IDisposable
{
    private const string Config = """{"architecture":"amd64","os":"linux","config":{"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":[]}}""";
    private const string TarMediaType = "application/vnd.oci.image.layer.v1.tar";
    private const string GzipMediaType = "application/vnd.oci.image.layer.v1.tar+gzip";
    private static readonly DateTimeOffset OldTime = new(2001, 2, 3, 4, 5, 6, TimeSpan.Zero);

    private readonly string _dir = Directory.CreateTempSubdirectory("ks-hostile-").FullName;
    private readonly List<string> _before;
    private int _layouts;

    public HostileImageTests()
    {
        Directory.CreateDirectory(Path.Combine(Outside, "sub"));
        File.WriteAllText(Path.Combine(Outside, "secret"), "the host's data");
        foreach (var path in new[] { Path.Combine(Outside, "secret"), Path.Combine(Outside, "sub"), Outside })
        {
            Directory.SetLastWriteTimeUtc(path, OldTime.UtcDateTime);
        }

        _before = Snapshot();
    }

    /// <summary>The rootfs's parent: what a ".." escape reaches first.</summary>
    private string Host => Path.Combine(_dir, "host");

    private string Rootfs => Path.Combine(Host, "rootfs");

    private string Outside => Path.Combine(Host, "outside");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("../x")]
    [InlineData("a/../../x")]
    [InlineData("./../outside/secret")]
    public async Task A_path_with_dot_dot_is_refused(string name)
    {
        var e = await Refused(Layer(w => LayoutBuilder.File(w, name, "x")));
        Assert.Contains("climbs out", e.Message, StringComparison.Ordinal);
        AssertHostUntouched();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_file_written_through_a_symlink_lands_inside_the_rootfs(bool absolute)
    {
        var target = absolute ? Outside : "../outside";
        await Unpack(Layer(w =>
        {
            LayoutBuilder.Link(w, "escape", target);
            LayoutBuilder.File(w, "escape/secret", "overwritten");
            LayoutBuilder.File(w, "escape/sub/planted", "planted");
        }));

        AssertHostUntouched();
        var landed = Path.Combine(Rootfs, absolute ? Outside.TrimStart('/') : "outside");
        Assert.Equal("overwritten", File.ReadAllText(Path.Combine(landed, "secret")));
        Assert.Equal("planted", File.ReadAllText(Path.Combine(landed, "sub", "planted")));
    }

    [Theory]
    [InlineData("../outside/secret")]
    [InlineData("escape/secret")]
    [InlineData("up/secret")]
    [InlineData("absolute")]
    public async Task A_hard_link_to_a_file_outside_the_rootfs_is_refused(string linkName)
    {
        if (linkName == "absolute")
        {
            linkName = Path.Combine(Outside, "secret");
        }

        var e = await Refused(Layer(w =>
        {
            LayoutBuilder.Link(w, "escape", Outside);
            LayoutBuilder.Link(w, "up", "../../..");
            LayoutBuilder.Link(w, "stolen", linkName, TarEntryType.HardLink);
        }));

        Assert.Matches("climbs out|cannot hard-link", e.Message);
        AssertHostUntouched();
    }

    [Fact]
    public async Task A_hard_link_to_a_symlink_that_points_out_links_the_symlink_itself()
    {
        var secret = Path.Combine(Outside, "secret");
        await Unpack(Layer(w =>
        {
            LayoutBuilder.Link(w, "pointer", secret);
            LayoutBuilder.Link(w, "stolen", "pointer", TarEntryType.HardLink);
        }));

        Assert.Equal(secret, new FileInfo(Path.Combine(Rootfs, "stolen")).LinkTarget);
        AssertHostUntouched();
    }

    [Theory]
    [InlineData(".wh..")]
    [InlineData(".wh...")]
    [InlineData("etc/.wh..")]
    [InlineData("etc/.wh...")]
    [InlineData(".wh.")]
    public async Task A_whiteout_of_dot_or_dot_dot_is_refused(string whiteout)
    {
        var lower = Layer(w =>
        {
            LayoutBuilder.Dir(w, "etc/");
            LayoutBuilder.File(w, "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
        });
        var e = await Refused(lower, Layer(w => LayoutBuilder.File(w, whiteout, "")));

        Assert.Contains("names no file", e.Message, StringComparison.Ordinal);
        Assert.True(Directory.Exists(Host));
        AssertHostUntouched();
    }

    [Fact]
    public async Task Other_aufs_metadata_is_ignored_and_an_ordinary_whiteout_still_works()
    {
        await Unpack(
            Layer(w => LayoutBuilder.File(w, "gone", "lower")),
            Layer(w =>
            {
                LayoutBuilder.File(w, ".wh..wh.plnk", "");
                LayoutBuilder.File(w, ".wh.gone", "");
            }));

        Assert.Empty(Directory.EnumerateFileSystemEntries(Rootfs));
        AssertHostUntouched();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_directory_time_is_not_set_through_a_symlink_swapped_in_later(bool absolute)
    {
        await Unpack(Layer(w =>
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "d/") { Mode = (UnixFileMode)0b111_101_101, ModificationTime = DateTimeOffset.UnixEpoch });
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "d/sub/") { Mode = (UnixFileMode)0b111_101_101, ModificationTime = DateTimeOffset.UnixEpoch });
            LayoutBuilder.Link(w, "d", absolute ? Outside : "../outside");
        }));

        Assert.NotNull(new FileInfo(Path.Combine(Rootfs, "d")).LinkTarget);
        AssertHostUntouched();
    }

    [Fact]
    public async Task Directory_times_are_still_set_where_no_link_intervenes()
    {
        await Unpack(Layer(w =>
        {
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "d/") { Mode = (UnixFileMode)0b111_101_101, ModificationTime = OldTime });
            LayoutBuilder.File(w, "d/child", "changes the directory's time");
        }));

        Assert.Equal(OldTime.UtcDateTime, Directory.GetLastWriteTimeUtc(Path.Combine(Rootfs, "d")));
    }

    [Fact]
    public async Task Set_id_bits_are_dropped_and_device_nodes_left_out()
    {
        await Unpack(Layer(w =>
        {
            LayoutBuilder.Dir(w, "bin/");
            LayoutBuilder.File(w, "bin/su", "#!/bin/sh\n", 0b100_111_101_101);
            LayoutBuilder.File(w, "bin/wall", "#!/bin/sh\n", 0b010_111_101_101);
            w.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "shared/") { Mode = (UnixFileMode)0b010_111_111_101 });
            LayoutBuilder.Dir(w, "dev/");
            w.WriteEntry(new PaxTarEntry(TarEntryType.CharacterDevice, "dev/mem") { DeviceMajor = 1, DeviceMinor = 1, Mode = (UnixFileMode)0b110_110_110 });
            w.WriteEntry(new PaxTarEntry(TarEntryType.BlockDevice, "dev/sda") { DeviceMajor = 8, DeviceMinor = 0, Mode = (UnixFileMode)0b110_110_110 });
        }));

        var executable = (UnixFileMode)0b111_101_101;
        Assert.Equal(executable, File.GetUnixFileMode(Path.Combine(Rootfs, "bin/su")));
        Assert.Equal(executable, File.GetUnixFileMode(Path.Combine(Rootfs, "bin/wall")));
        Assert.True(File.GetUnixFileMode(Path.Combine(Rootfs, "shared")).HasFlag(UnixFileMode.SetGroup)); // harmless on a directory
        Assert.False(Path.Exists(Path.Combine(Rootfs, "dev/mem")));
        Assert.False(Path.Exists(Path.Combine(Rootfs, "dev/sda")));
        AssertHostUntouched();
    }

    [Fact]
    public async Task A_gzip_bomb_stops_at_the_size_limit()
    {
        const long limit = 64 << 20;
        var bomb = GzipBomb(10L << 30);
        var layout = new LayoutBuilder(NextLayout()).Blob(bomb, GzipMediaType).Finish(Config);

        var e = await Assert.ThrowsAsync<ImageException>(() => new OciImageUnpacker(NullLogger.Instance, limit).UnpackAsync(layout, Rootfs, CancellationToken.None));

        Assert.Contains($"more than {limit} bytes", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Rootfs));
        AssertHostUntouched();
    }

    [Fact]
    public async Task A_gzip_bomb_as_an_oci_archive_stops_at_the_size_limit_and_leaves_no_scratch()
    {
        const long limit = 64 << 20;
        var archive = Path.Combine(_dir, "bomb.oci.tar.gz");
        await File.WriteAllBytesAsync(archive, GzipBomb(10L << 30));

        var e = await Assert.ThrowsAsync<ImageException>(() => new OciImageUnpacker(NullLogger.Instance, limit).UnpackAsync(archive, Rootfs, CancellationToken.None));

        Assert.Contains($"more than {limit} bytes", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateDirectories(Host, ".oci-*"));
        AssertHostUntouched();
    }

    [Fact]
    public void The_size_limit_is_configurable_and_pods_cannot_raise_it()
    {
        Assert.Equal(2L << 30, ConfigLoader.Parse("images:\n  maxUnpackedGiB: 2\n", "x.yaml").Images.MaxUnpackedBytes);
        Assert.Throws<ConfigException>(() => ConfigLoader.Parse("enableAnnotations: [images.maxUnpackedGiB]\n", "x.yaml"));
    }

    [Fact]
    public async Task A_layer_whose_digest_is_wrong_is_refused_before_any_layer_is_applied()
    {
        // Applied, the first layer would fail on its own; the second layer's digest must be refused first.
        var unappliable = Layer(w => LayoutBuilder.File(w, ".wh..", ""));
        var honest = Layer(w => LayoutBuilder.File(w, "file", "content"));
        var claimed = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("something else")));
        var layout = new LayoutBuilder(NextLayout()).Blob(unappliable, TarMediaType).Blob(honest, TarMediaType, claimed).Finish(Config);

        var e = await Assert.ThrowsAsync<ImageException>(() => new OciImageUnpacker(NullLogger.Instance).UnpackAsync(layout, Rootfs, CancellationToken.None));

        Assert.Contains("does not match its descriptor", e.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Rootfs));
        AssertHostUntouched();
    }

    [Fact]
    public async Task A_symlink_loop_300_deep_is_a_clear_error()
    {
        const int depth = 300;
        var e = await Refused(Layer(w =>
        {
            for (var i = 0; i < depth; i++)
            {
                LayoutBuilder.Link(w, $"l{i}", $"l{(i + 1) % depth}");
            }

            LayoutBuilder.File(w, "l0/x", "x");
        }));

        Assert.Contains("too many levels of symbolic links", e.Message, StringComparison.Ordinal);
        AssertHostUntouched();
    }

    [Theory]
    [InlineData("etc", "/etc")]
    [InlineData("etc", "../../../../../../etc")]
    [InlineData("etc/passwd", "/etc/passwd")]
    [InlineData("etc/passwd", "../../../../../../etc/passwd")]
    public void Image_user_never_reads_the_hosts_passwd_through_a_symlink(string link, string target)
    {
        Assert.Contains("root:", File.ReadAllText("/etc/passwd"), StringComparison.Ordinal); // what a leak would find
        Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(Rootfs, link))!);
        File.CreateSymbolicLink(Path.Combine(Rootfs, link), target);

        // Inside the rootfs the link names itself (a loop) or a file the image lacks: an error either way.
        var e = Assert.Throws<ImageException>(() => ImageUser.Resolve(Rootfs, "root"));
        Assert.Matches("not in the image's /etc/passwd|too many levels of symbolic links", e.Message);
    }

    [Fact]
    public void Image_user_never_reads_a_passwd_that_a_symlink_swapped_in_points_at()
    {
        var etc = Directory.CreateDirectory(Path.Combine(Rootfs, "etc")).FullName;
        File.WriteAllText(Path.Combine(etc, "passwd"), "root:x:0:0::/root:/bin/sh\n");
        var canary = Directory.CreateDirectory(Path.Combine(_dir, "canary")).FullName;
        File.WriteAllText(Path.Combine(canary, "passwd"), "mallory:x:666:666::/:/bin/sh\n");

        // A running guest could swap the image's /etc for a link to the host's; here the link points at the canary.
        using var swapper = new SymlinkSwapper(etc, canary);
        for (var i = 0; i < 1500 || swapper.Swaps < 1500; i++)
        {
            try
            {
                Assert.NotEqual(666u, ImageUser.Resolve(Rootfs, "mallory").Uid);
            }
            catch (ImageException)
            {
                // Refused (not in the image's passwd, or a link met while opening): what must happen.
            }
        }
    }

    [Fact]
    public void Image_user_follows_a_symlink_that_stays_inside_the_rootfs()
    {
        Directory.CreateDirectory(Path.Combine(Rootfs, "image-etc"));
        File.WriteAllText(Path.Combine(Rootfs, "image-etc", "passwd"), "alice:x:1000:1001::/home/alice:/bin/sh\n");
        File.CreateSymbolicLink(Path.Combine(Rootfs, "etc"), "/image-etc");

        Assert.Equal((1000u, 1001u), (ImageUser.Resolve(Rootfs, "alice").Uid, ImageUser.Resolve(Rootfs, "alice").Gid));
    }

    [Fact]
    public void Image_user_with_an_etc_symlink_loop_is_a_clear_error()
    {
        Directory.CreateDirectory(Rootfs);
        File.CreateSymbolicLink(Path.Combine(Rootfs, "etc"), "etc");

        var e = Assert.Throws<ImageException>(() => ImageUser.Resolve(Rootfs, "alice"));
        Assert.Contains("too many levels of symbolic links", e.Message, StringComparison.Ordinal);
    }

    private static byte[] Layer(Action<TarWriter> write) => LayoutBuilder.Tar(write);

    private string NextLayout() => Path.Combine(_dir, $"layout{++_layouts}");

    private string Layout(byte[][] layers)
    {
        var builder = new LayoutBuilder(NextLayout());
        foreach (var layer in layers)
        {
            builder.Blob(layer, TarMediaType);
        }

        return builder.Finish(Config);
    }

    private Task<ImageConfig> Unpack(params byte[][] layers) =>
        new OciImageUnpacker(NullLogger.Instance).UnpackAsync(Layout(layers), Rootfs, CancellationToken.None);

    private async Task<ImageException> Refused(params byte[][] layers)
    {
        var e = await Assert.ThrowsAsync<ImageException>(() => Unpack(layers));
        Assert.False(Directory.Exists(Rootfs)); // a refused image leaves no half-made rootfs
        return e;
    }

    /// <summary>
    /// A gzip stream that inflates to a tar whose one file claims <paramref name="size"/> bytes of zeros, a few
    /// megabytes long: gzip members may be concatenated, so one compressed 64 MiB run of zeros is repeated.
    /// </summary>
    private static byte[] GzipBomb(long size)
    {
        const int run = 64 << 20;

        // A pax size record (ustar's 11 octal digits stop at 8 GiB), then the file's header; the zeros are its content.
        var record = PaxRecord("size", size.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var header = new byte[3 * 512];
        UstarHeader(header.AsSpan(0, 512), "PaxHeaders/bomb", 'x', record.Length);
        record.CopyTo(header, 512);
        UstarHeader(header.AsSpan(1024, 512), "bomb", '0', 0);

        using var output = new MemoryStream();
        Gzip(output, header);
        using var zeros = new MemoryStream();
        Gzip(zeros, new byte[run]);
        for (long written = 0; written < size; written += run)
        {
            zeros.WriteTo(output);
        }

        return output.ToArray();
    }

    private static byte[] PaxRecord(string key, string value)
    {
        var body = $" {key}={value}\n";
        var length = body.Length + 1;
        while ((length.ToString(System.Globalization.CultureInfo.InvariantCulture) + body).Length != length)
        {
            length++;
        }

        return Encoding.ASCII.GetBytes(length.ToString(System.Globalization.CultureInfo.InvariantCulture) + body);
    }

    private static void UstarHeader(Span<byte> header, string name, char type, long size)
    {
        static void Octal(Span<byte> field, long value) =>
            Encoding.ASCII.GetBytes(Convert.ToString(value, 8).PadLeft(field.Length - 1, '0')).CopyTo(field);

        Encoding.ASCII.GetBytes(name).CopyTo(header);
        Octal(header.Slice(100, 8), 0b110_100_100);
        Octal(header.Slice(108, 8), 0);
        Octal(header.Slice(116, 8), 0);
        Octal(header.Slice(124, 12), size);
        Octal(header.Slice(136, 12), 0);
        header[156] = (byte)type;
        "ustar\0"u8.CopyTo(header[257..]);
        "00"u8.CopyTo(header[263..]);
        header.Slice(148, 8).Fill((byte)' ');
        var sum = 0;
        foreach (var b in header)
        {
            sum += b;
        }

        Octal(header.Slice(148, 7), sum);
    }

    private static void Gzip(Stream output, ReadOnlySpan<byte> data)
    {
        using var z = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true);
        z.Write(data);
    }

    /// <summary>Every entry under the host directory but the rootfs and scratch: name, kind, size, time and content.</summary>
    private List<string> Snapshot()
    {
        var entries = new List<string>();
        if (!Directory.Exists(Host))
        {
            return entries;
        }

        entries.Add($"outside {Directory.GetLastWriteTimeUtc(Outside).Ticks}");
        foreach (var path in Directory.EnumerateFileSystemEntries(Outside, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }).Order(StringComparer.Ordinal))
        {
            var info = new FileInfo(path);
            var content = info.LinkTarget is null && info.Exists ? Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path))) : "";
            entries.Add($"{Path.GetRelativePath(Host, path)} link={info.LinkTarget} time={info.LastWriteTimeUtc.Ticks} {content}");
        }

        return entries;
    }

    private void AssertHostUntouched()
    {
        Assert.Equal(_before, Snapshot());
        Assert.Equal(["outside"], Directory.EnumerateFileSystemEntries(Host).Select(Path.GetFileName).Where(n => n != "rootfs"));
    }
}
