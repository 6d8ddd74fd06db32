using System.Net.Sockets;
using KataSharp.Native;
using KataSharp.Native.Files;
using Xunit;

namespace KataSharp.Tests.Unit.Native;

/// <summary>The umask is process-wide: while this test loosens it, no other test may create files.</summary>
[CollectionDefinition(nameof(ProcessUmaskCollection), DisableParallelization = true)]
public sealed class ProcessUmaskCollection;

[Collection(nameof(ProcessUmaskCollection))]
public sealed class PrivateSocketTests
{
    [Fact]
    public void The_socket_is_owner_only_from_bind_on_whatever_the_umask_and_the_umask_is_restored()
    {
        var directory = Directory.CreateTempSubdirectory("ks-private-socket-");
        var path = Path.Combine(directory.FullName, "s.sock");
        var previous = Libc.Umask(0);   // the loosest umask a caller could have
        try
        {
            using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            PrivateSocket.Bind(socket, path);

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            Assert.Equal(0u, Libc.Umask(0));
        }
        finally
        {
            Libc.Umask(previous);
            directory.Delete(recursive: true);
        }
    }
}
