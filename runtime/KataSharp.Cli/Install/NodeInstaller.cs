using System.Security.Cryptography;
using KataSharp.Runtime.Configuration;
using KataSharp.Runtime.Containerd;

namespace KataSharp.Cli.Install;

/// <summary>What <c>katasharp install</c> and <c>uninstall</c> act on.</summary>
/// <param name="From">The payload: bin/, guest/, images/ and configs/ as ./build.sh lays out build/.</param>
/// <param name="ContainerdConfig">containerd's config.toml; null on uninstall means the one install recorded.</param>
/// <param name="ContainerdBinary">Asked for its version when there is no config to read it from.</param>
/// <param name="LinkDirectory">Where to link katasharp and the shim (a directory on containerd's PATH), or null.</param>
/// <param name="Node">The Kubernetes node to label, or null.</param>
internal sealed record InstallOptions(
    string From,
    InstallLayout Layout,
    string? ContainerdConfig,
    string ContainerdBinary,
    string? LinkDirectory,
    ContainerdRestart Restart,
    string? Node);

/// <summary>
/// Installs KataSharp on one node and removes it again, both idempotent: the files under the install
/// root, the runtime entry in containerd's config (a drop-in the config imports for a version 3 config;
/// a marked block in config.toml for version 2, because containerd 1.x lets an imported plugin table
/// replace the config's own CRI table), a containerd restart when the config changed, and the node
/// label the RuntimeClass schedules on.
/// </summary>
internal sealed class NodeInstaller(InstallOptions options, KubernetesNodes? cluster, TextWriter output)
{
    public const string DefaultContainerdConfig = "/etc/containerd/config.toml";

    private static readonly UnixFileMode Executable = (UnixFileMode)0b111_101_101;
    private static readonly UnixFileMode Readable = (UnixFileMode)0b110_100_100;

    private InstallLayout Layout => options.Layout;

    public async Task InstallAsync(CancellationToken cancellationToken)
    {
        var previous = InstallState.Read(Layout.State);
        foreach (var binary in InstallLayout.Binaries)
        {
            Copy(Path.Combine(options.From, "bin", binary), Path.Combine(Layout.Bin, binary), Executable);
        }

        foreach (var file in InstallLayout.GuestFiles)
        {
            Copy(Path.Combine(options.From, "guest", file), Path.Combine(Layout.Guest, file), Readable);
        }

        foreach (var file in InstallLayout.OptionalGuestFiles.Where(f => File.Exists(Path.Combine(options.From, "guest", f))))
        {
            Copy(Path.Combine(options.From, "guest", file), Path.Combine(Layout.Guest, file), Readable);
        }

        // Only the image `katasharp run` defaults to: build/images also holds test images and the deploy image.
        Copy(Path.Combine(options.From, "images", GuestAssets.DefaultImageFile), Path.Combine(Layout.Images, GuestAssets.DefaultImageFile), Readable);

        var configHash = previous?.ConfigSha256;
        if (File.Exists(Layout.Config))
        {
            output.WriteLine($"kept {Layout.Config}");
        }
        else
        {
            Copy(Path.Combine(options.From, "configs", "katasharp.yaml"), Layout.Config, Readable);
            configHash = Sha256(Layout.Config);
        }

        if (options.LinkDirectory is { } links)
        {
            Directory.CreateDirectory(links);
            foreach (var binary in InstallLayout.Binaries)
            {
                Link(Path.Combine(links, binary), Path.Combine(Layout.Bin, binary));
            }
        }

        var containerdConfig = Path.GetFullPath(options.ContainerdConfig ?? previous?.ContainerdConfig ?? DefaultContainerdConfig);
        var (changed, created, dropIn) = await RegisterAsync(containerdConfig, cancellationToken).ConfigureAwait(false);
        new InstallState(containerdConfig, previous?.CreatedConfig ?? created, dropIn, configHash, options.LinkDirectory ?? previous?.LinkDirectory, options.Node ?? previous?.Node)
            .Write(Layout.State);
        if (changed)
        {
            await options.Restart.RunAsync(output, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            output.WriteLine($"containerd: {containerdConfig} already has the katasharp runtime");
        }

        await LabelAsync(options.Node ?? previous?.Node, "true", cancellationToken).ConfigureAwait(false);
    }

    public async Task UninstallAsync(CancellationToken cancellationToken)
    {
        var state = InstallState.Read(Layout.State);
        // Unlabel first, so that no new pod lands here while the runtime goes away.
        await LabelAsync(options.Node ?? state?.Node, null, cancellationToken).ConfigureAwait(false);

        var containerdConfig = Path.GetFullPath(options.ContainerdConfig ?? state?.ContainerdConfig ?? DefaultContainerdConfig);
        if (Unregister(containerdConfig, state))
        {
            await options.Restart.RunAsync(output, cancellationToken).ConfigureAwait(false);
        }

        foreach (var links in new[] { options.LinkDirectory, state?.LinkDirectory }.OfType<string>().Distinct(StringComparer.Ordinal))
        {
            foreach (var binary in InstallLayout.Binaries)
            {
                var link = new FileInfo(Path.Combine(links, binary));
                // Only a link into this install: a binary someone else put there stays.
                if (link.LinkTarget is { } target && target.StartsWith(Layout.Bin + "/", StringComparison.Ordinal))
                {
                    link.Delete();
                    output.WriteLine($"removed {link.FullName}");
                }
            }
        }

        foreach (var directory in new[] { Layout.Bin, Layout.Guest, Layout.Images })
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
                output.WriteLine($"removed {directory}");
            }
        }

        if (File.Exists(Layout.Config))
        {
            if (state?.ConfigSha256 is { } hash && hash == Sha256(Layout.Config))
            {
                File.Delete(Layout.Config);
                output.WriteLine($"removed {Layout.Config}");
            }
            else
            {
                output.WriteLine($"kept {Layout.Config}: install did not write it, or it was changed since");
            }
        }

        if (File.Exists(Layout.State))
        {
            File.Delete(Layout.State);
        }

        DeleteIfEmpty(Path.GetDirectoryName(Layout.Config)!);
        DeleteIfEmpty(Layout.Root);
    }

    /// <summary>Puts the runtime entry where containerd reads it. Returns whether anything containerd reads changed.</summary>
    private async Task<(bool Changed, bool Created, string? DropIn)> RegisterAsync(string containerdConfig, CancellationToken cancellationToken)
    {
        var current = File.Exists(containerdConfig) ? await File.ReadAllTextAsync(containerdConfig, cancellationToken).ConfigureAwait(false) : null;
        var fragment = current is not null
            ? ContainerdConfigFragment.Choose(null, current)
            : ContainerdConfigFragment.Choose(await ProbeContainerdAsync(cancellationToken).ConfigureAwait(false), null);
        var entry = RuntimeEntry.Render(await File.ReadAllTextAsync(Path.Combine(options.From, "configs", fragment.File), cancellationToken).ConfigureAwait(false),
            Layout.Shim, Layout.Config);
        var original = current is null ? null : Edit(() => ContainerdConfigEdits.Revert(current), containerdConfig);
        var changed = false;
        string? dropIn = null;
        string updated;
        if (fragment.DropIn)
        {
            dropIn = InstallLayout.DropIn(containerdConfig);
            changed |= WriteIfDifferent(dropIn, entry);
            updated = Edit(() => ContainerdConfigEdits.AddImport(original ?? "version = 3\n", dropIn), containerdConfig);
        }
        else
        {
            if (original is not null && RuntimeEntry.DeclaredAt(original) is > 0 and var line)
            {
                throw new InstallException($"{containerdConfig}:{line} already declares a katasharp runtime; remove it (install adds its own) and run install again");
            }

            updated = ContainerdConfigEdits.AddBlock(original ?? "version = 2\n", entry);
        }

        output.WriteLine($"containerd config version {(current is null ? "(new file)" : ContainerdConfigFragment.DeclaredVersion(current))}: {(fragment.DropIn ? $"drop-in {dropIn} imported by" : "runtime entry in")} {containerdConfig}");
        if (updated != current)
        {
            if (original is not null && !File.Exists(InstallLayout.Backup(containerdConfig)))
            {
                await File.WriteAllTextAsync(InstallLayout.Backup(containerdConfig), original, cancellationToken).ConfigureAwait(false);
                output.WriteLine($"backed up {containerdConfig} to {InstallLayout.Backup(containerdConfig)}");
            }

            WriteIfDifferent(containerdConfig, updated);
            changed = true;
        }

        return (changed, current is null, dropIn);
    }

    /// <summary>Takes install's edits out of containerd's config. Returns whether anything containerd reads changed.</summary>
    private bool Unregister(string containerdConfig, InstallState? state)
    {
        var changed = false;
        var backup = InstallLayout.Backup(containerdConfig);
        if (File.Exists(containerdConfig))
        {
            var current = File.ReadAllText(containerdConfig);
            var reverted = Edit(() => ContainerdConfigEdits.Revert(current), containerdConfig);
            if (reverted != current)
            {
                changed = true;
                if (state is { CreatedConfig: true } && reverted.Trim() is "" or "version = 2" or "version = 3")
                {
                    File.Delete(containerdConfig);
                    output.WriteLine($"removed {containerdConfig} (install created it)");
                }
                else if (File.Exists(backup) && File.ReadAllText(backup).TrimEnd() == reverted.TrimEnd())
                {
                    WriteIfDifferent(containerdConfig, File.ReadAllText(backup));
                    output.WriteLine($"restored {containerdConfig} from {backup}");
                }
                else
                {
                    WriteIfDifferent(containerdConfig, reverted);
                    output.WriteLine($"removed katasharp's lines from {containerdConfig}" + (File.Exists(backup) ? $" (it changed since install; {backup} kept)" : ""));
                }
            }
        }

        if (File.Exists(backup) && (!File.Exists(containerdConfig) || File.ReadAllText(backup) == File.ReadAllText(containerdConfig)))
        {
            File.Delete(backup);
        }

        var dropIn = state?.DropIn ?? InstallLayout.DropIn(containerdConfig);
        if (File.Exists(dropIn))
        {
            File.Delete(dropIn);
            output.WriteLine($"removed {dropIn}");
            changed = true;
        }

        return changed;
    }

    private async Task<ContainerdVersion?> ProbeContainerdAsync(CancellationToken cancellationToken)
    {
        var version = await ContainerdVersion.ProbeAsync(options.ContainerdBinary, cancellationToken).ConfigureAwait(false);
        if (version is null && cluster is not null && options.Node is { } node
            && await cluster.ContainerRuntimeVersionAsync(node, cancellationToken).ConfigureAwait(false) is { } runtime
            && runtime.StartsWith("containerd://", StringComparison.Ordinal))
        {
            // A pod has no containerd binary; the kubelet reports the node's as containerd://1.6.20.
            version = ContainerdVersion.Parse("containerd " + runtime["containerd://".Length..]);
        }

        output.WriteLine($"containerd {version?.ToString() ?? "(version unknown)"}, no config file yet");
        return version;
    }

    private async Task LabelAsync(string? node, string? value, CancellationToken cancellationToken)
    {
        if (node is null)
        {
            return;
        }

        if (cluster is null)
        {
            output.WriteLine($"not in a Kubernetes cluster (no service account): node {node} not {(value is null ? "unlabelled" : "labelled")}");
            return;
        }

        await cluster.SetLabelAsync(node, KubernetesNodes.RuntimeLabel, value, cancellationToken).ConfigureAwait(false);
        output.WriteLine(value is null ? $"removed label {KubernetesNodes.RuntimeLabel} from node {node}" : $"labelled node {node} {KubernetesNodes.RuntimeLabel}={value}");
    }

    private static string Edit(Func<string> edit, string containerdConfig)
    {
        try
        {
            return edit();
        }
        catch (FormatException e)
        {
            throw new InstallException($"{containerdConfig}: {e.Message}");
        }
    }

    private void Copy(string source, string destination, UnixFileMode mode)
    {
        if (!File.Exists(source))
        {
            throw new InstallException($"{source} is missing; run ./build.sh build && ./build.sh image first, or give --from");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        // Copy then rename, so that a running shim or VM never sees a half-written file.
        var temporary = destination + ".new";
        File.Copy(source, temporary, overwrite: true);
        File.SetUnixFileMode(temporary, mode);
        File.Move(temporary, destination, overwrite: true);
        output.WriteLine($"installed {destination}");
    }

    private void Link(string link, string target)
    {
        var existing = new FileInfo(link);
        if (existing.LinkTarget == target)
        {
            return;
        }

        if (existing.Exists && existing.LinkTarget is null)
        {
            throw new InstallException($"{link} exists and is not a link; remove it or give another --link-dir");
        }

        existing.Delete();
        File.CreateSymbolicLink(link, target);
        output.WriteLine($"linked {link} -> {target}");
    }

    /// <summary>Writes through a rename, keeping the file's mode; false when it already held this text.</summary>
    private static bool WriteIfDifferent(string path, string text)
    {
        if (File.Exists(path) && File.ReadAllText(path) == text)
        {
            return false;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".katasharp-new";
        File.WriteAllText(temporary, text);
        File.SetUnixFileMode(temporary, File.Exists(path) ? File.GetUnixFileMode(path) : Readable);
        File.Move(temporary, path, overwrite: true);
        return true;
    }

    private static void DeleteIfEmpty(string directory)
    {
        if (Directory.Exists(directory) && !Directory.EnumerateFileSystemEntries(directory).Any())
        {
            Directory.Delete(directory);
        }
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
