using System.Diagnostics;

namespace KataSharp.Tests.EndToEnd;

/// <summary>One event line of <c>ctr events</c>, with when this process read it.</summary>
public sealed record ContainerdEvent(string Topic, string Line, TimeSpan ReadAt)
{
    /// <summary>A task event about <paramref name="containerId"/> (its init or one of its execs).</summary>
    public bool IsAbout(string containerId) => Line.Contains($"\"container_id\":\"{containerId}\"", StringComparison.Ordinal);

    /// <summary>The exit of the container's init, not of one of its execs (whose id is the exec id).</summary>
    public bool IsInitExit(string containerId) => Topic == "/tasks/exit" && IsAbout(containerId) && Line.Contains($"\"id\":\"{containerId}\"", StringComparison.Ordinal);
}

/// <summary>
/// <c>ctr events</c> on one namespace, read as it runs: what containerd's subscribers (CRI among them)
/// see. ctr gives no sign that its subscription is live, so callers wait for an event they caused.
/// </summary>
public sealed class ContainerdEventStream : IDisposable
{
    private readonly Process _ctr;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<ContainerdEvent> _events = [];
    private int _disposed;

    public ContainerdEventStream(ContainerdDaemon daemon, string ns)
    {
        _ctr = Process.Start(daemon.CtrStartInfo(["-n", ns, "events"])) ?? throw new InvalidOperationException("ctr events did not start");
        _ctr.OutputDataReceived += (_, e) =>
        {
            // "<date> <time> <zone> <zone> <namespace> <topic> <json>"
            var fields = e.Data?.Split(' ', 7);
            if (fields is { Length: 7 })
            {
                lock (_events)
                {
                    _events.Add(new ContainerdEvent(fields[5], e.Data!, _clock.Elapsed));
                }
            }
        };
        _ctr.BeginOutputReadLine();
        _ctr.BeginErrorReadLine();
    }

    /// <summary>Time since the stream started, on the clock <see cref="ContainerdEvent.ReadAt"/> uses.</summary>
    public TimeSpan Now => _clock.Elapsed;

    public IReadOnlyList<ContainerdEvent> Events
    {
        get
        {
            lock (_events)
            {
                return _events.ToList();
            }
        }
    }

    /// <summary>The first event that matches, waiting up to <paramref name="timeout"/>; null if none came.</summary>
    public async Task<ContainerdEvent?> WaitForAsync(Func<ContainerdEvent, bool> match, TimeSpan timeout)
    {
        ContainerdEvent? found = null;
        await HostResources.EventuallyAsync(() => (found = Events.FirstOrDefault(match)) is not null, timeout);
        return found;
    }

    public string Dump() => string.Join('\n', Events.Select(e => e.Line));

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (!_ctr.HasExited)
        {
            _ctr.Kill();
            _ctr.WaitForExit(10_000);
        }

        _ctr.Dispose();
    }
}
