using System.Net.Sockets;
using KataSharp.Protocol.Ttrpc;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Channels;

/// <summary>Serves the agent on a Unix socket: developer mode on a host, and tests.</summary>
internal sealed partial class UnixSocketChannel
{
    private readonly TtrpcServer _server;
    private readonly string _path;
    private readonly ILogger _logger;

    public UnixSocketChannel(TtrpcServer server, string path, ILogger<UnixSocketChannel> logger)
    {
        _server = server;
        _path = path;
        _logger = logger;
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        File.Delete(_path);
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(_path));
        listener.Listen(16);
        LogListening(_logger, _path);
        try
        {
            await _server.ListenAsync(listener, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(_path);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "listening on unix:{Path}")]
    private static partial void LogListening(ILogger logger, string path);
}
