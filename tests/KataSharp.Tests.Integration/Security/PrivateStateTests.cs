using KataSharp.Runtime.Sandbox;
using KataSharp.Tests.Integration.Infrastructure;
using KataSharp.Tests.Integration.Network;

namespace KataSharp.Tests.Integration.Security;

/// <summary>
/// An unprivileged host user (uid 65534) can neither list nor reach anything a sandbox keeps on the host:
/// the state directory, the sandbox directory, the console log, the VMM and agent sockets. The modes are
/// exact (0700 directories, 0600 files and sockets), whatever the umask of the process that made them.
/// </summary>
[Collection(SharedSandboxCollection.Name)]
public sealed class PrivateStateTests(SharedSandboxFixture fixture)
{
    private const UnixFileMode Directory0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode File0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private static readonly string[] AsNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"];

    [Fact]
    public async Task State_and_sandbox_directories_files_and_sockets_are_root_only()
    {
        var paths = fixture.Sandbox.Paths;
        foreach (var directory in new[] { TestEnvironment.StateDirectory, SandboxPaths.SandboxesDirectory(TestEnvironment.StateDirectory), paths.Directory })
        {
            Assert.Equal((directory, Directory0700), (directory, File.GetUnixFileMode(directory)));
        }

        var sockets = await SocketsAsync(paths.Directory);
        Assert.Contains(paths.VmmSocket, sockets);
        foreach (var file in sockets.Concat([paths.ConsoleLog, paths.VmmLog, paths.VmmPidFile, paths.StateFile]))
        {
            Assert.Equal((Path.GetFileName(file), File0600), (Path.GetFileName(file), File.GetUnixFileMode(file)));
        }
    }

    [Fact]
    public async Task Uid_65534_is_denied_every_directory_file_and_socket()
    {
        var paths = fixture.Sandbox.Paths;
        var denied = new List<string[]>();
        foreach (var directory in new[] { TestEnvironment.StateDirectory, SandboxPaths.SandboxesDirectory(TestEnvironment.StateDirectory), paths.Directory })
        {
            denied.Add(["ls", "-a", directory]);
        }

        foreach (var entry in Directory.EnumerateFileSystemEntries(paths.Directory).Append(paths.Shared))
        {
            denied.Add(["stat", entry]);
        }

        denied.Add(["cat", paths.ConsoleLog]);
        denied.Add(["cat", paths.StateFile]);

        foreach (var command in denied)
        {
            var result = await HostCommand.RunAsync([.. AsNobody, .. command]);
            Assert.True(result.ExitCode != 0 && result.Stderr.Contains("Permission denied", StringComparison.Ordinal),
                $"as uid 65534, {string.Join(' ', command)} was not denied: {result}");
        }

        // The same commands work for root, so the denials above are about permission, not about missing paths.
        foreach (var command in denied)
        {
            var result = await HostCommand.RunAsync(command);
            Assert.True(result.ExitCode == 0, $"as root, {string.Join(' ', command)} failed: {result}");
        }
    }

    private static async Task<List<string>> SocketsAsync(string directory)
    {
        var sockets = new List<string>();
        foreach (var file in Directory.EnumerateFiles(directory))
        {
            if ((await HostCommand.RunAsync("stat", "-c", "%F", file)).Stdout.Trim() == "socket")
            {
                sockets.Add(file);
            }
        }

        return sockets;
    }
}
