using System.Text;
using KataSharp.Protocol.Logging;
using Microsoft.Extensions.Logging;

namespace KataSharp.Shim.Logging;

/// <summary>
/// Follows the guest console (QEMU writes it to console.log in the sandbox directory, which goes with the
/// sandbox) and relays the agent's logfmt lines into the shim's log with <c>source=agent</c>, keeping their
/// level and fields; the guest's time stays as <c>guest_time</c>. Anything else on the console (the kernel's
/// lines) is relayed at debug as <c>source=console</c>. The console file itself stays for the tail a dead VM's
/// report quotes.
/// </summary>
internal sealed partial class AgentLogRelay : IAsyncDisposable
{
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(200);
    private const int MaxLine = 64 * 1024;

    private readonly string _path;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _running;

    private AgentLogRelay(string path, ILogger logger)
    {
        _path = path;
        _logger = logger;
        _running = Task.Run(() => RunAsync(_stop.Token));
    }

    public static AgentLogRelay Start(string consoleLogPath, ILogger logger) => new(consoleLogPath, logger);

    /// <summary>One console line as the shim logs it; null for an empty line.</summary>
    internal static (LogLevel Level, AgentLogEntry Entry)? Translate(string line)
    {
        var text = line.TrimEnd('\r');
        if (text.Length == 0)
        {
            return null;
        }

        if (text.StartsWith("time=", StringComparison.Ordinal) && Logfmt.Parse(text) is { } pairs
            && pairs.FirstOrDefault(p => p.Key == "level").Value is { } levelName && LogLevelSwitch.Parse(levelName) is { } level)
        {
            var fields = new List<KeyValuePair<string, object?>> { new("source", "agent") };
            var message = "";
            foreach (var (key, value) in pairs)
            {
                switch (key)
                {
                    case "msg":
                        message = value;
                        break;
                    case "level":
                        break;
                    case "time":
                        fields.Add(new("guest_time", value));
                        break;
                    default:
                        fields.Add(new(key, value));
                        break;
                }
            }

            return (level, new AgentLogEntry(message, fields));
        }

        return (LogLevel.Debug, new AgentLogEntry(text, [new("source", "console")]));
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var pending = new StringBuilder();
        var buffer = new byte[8192];
        var decoder = Encoding.UTF8.GetDecoder();
        var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
        FileStream? file = null;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                file ??= TryOpen();
                var read = file is null ? 0 : await file.ReadAsync(buffer, stop).ConfigureAwait(false);
                if (read == 0)
                {
                    await Task.Delay(IdlePoll, stop).ConfigureAwait(false);
                    continue;
                }

                var count = decoder.GetChars(buffer, 0, read, chars, 0);
                for (var i = 0; i < count; i++)
                {
                    if (chars[i] == '\n' || pending.Length >= MaxLine)
                    {
                        Relay(pending.ToString());
                        pending.Clear();
                    }

                    if (chars[i] != '\n')
                    {
                        pending.Append(chars[i]);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (IOException e)
        {
            LogRelayFailed(_logger, _path, e.Message);
        }
        finally
        {
            if (file is not null)
            {
                await file.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private FileStream? TryOpen()
    {
        try
        {
            return new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private void Relay(string line)
    {
        if (Translate(line) is var (level, entry) && _logger.IsEnabled(level))
        {
            _logger.Log(level, default, entry, null, static (e, _) => e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _running.ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "relaying the guest console {Path} failed: {Reason}")]
    private static partial void LogRelayFailed(ILogger logger, string path, string reason);
}

/// <summary>A relayed guest line: its message and its own fields, which the logfmt logger writes as they are.</summary>
internal sealed class AgentLogEntry(string message, IReadOnlyList<KeyValuePair<string, object?>> fields) : IReadOnlyList<KeyValuePair<string, object?>>
{
    public string Message { get; } = message;

    public int Count => fields.Count;

    public KeyValuePair<string, object?> this[int index] => fields[index];

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => fields.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() => Message;
}
