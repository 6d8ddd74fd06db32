using System.Net.Sockets;
using KataSharp.Native;

namespace KataSharp.Agent.Processes;

/// <summary>
/// The Unix socket crun's --console-socket connects to. crun sends the pty master over it
/// (SCM_RIGHTS) before it exits, and the kernel queues the connection and the message, so the
/// agent accepts after crun has returned.
/// </summary>
internal sealed class ConsoleSocket : IDisposable
{
    private static long s_counter;

    private readonly Socket _listener;

    private ConsoleSocket(Socket listener, string path)
    {
        _listener = listener;
        Path = path;
    }

    public string Path { get; }

    public static ConsoleSocket Create(string directory)
    {
        Directory.CreateDirectory(directory);
        // sun_path holds 108 bytes: keep the name short rather than derived from long ids.
        var path = System.IO.Path.Combine(directory, $"console-{Interlocked.Increment(ref s_counter)}.sock");
        File.Delete(path);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            return new ConsoleSocket(listener, path);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    /// <summary>Takes the pty master crun sent.</summary>
    public async Task<OwnedFd> ReceiveMasterAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        Socket connection;
        try
        {
            connection = await _listener.AcceptAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException("crun did not connect to the console socket");
        }

        using (connection)
        {
            var fd = (int)connection.Handle;
            if (FdOps.PollOne(fd, Linux.POLLIN, (int)timeout.TotalMilliseconds) == 0)
            {
                throw new TimeoutException("crun sent no terminal over the console socket");
            }

            return FdPassing.Receive(fd);
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
        }
    }
}
