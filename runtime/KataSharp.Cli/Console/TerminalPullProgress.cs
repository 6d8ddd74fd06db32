using System.Globalization;
using KataSharp.Runtime.Images;
using KataSharp.Runtime.Images.Cache;

namespace KataSharp.Cli.Console;

/// <summary>A pull's progress on stderr, one line per blob redrawn in place; nothing when stderr is no terminal.</summary>
internal sealed class TerminalPullProgress : IPullProgress
{
    private static readonly long RedrawTicks = TimeSpan.FromMilliseconds(200).Ticks;
    private readonly object _gate = new();
    private long _lastDraw;

    private TerminalPullProgress()
    {
    }

    public static IPullProgress? ForStderr() => System.Console.IsErrorRedirected ? null : new TerminalPullProgress();

    public void Downloading(ContentDigest digest, long done, long total)
    {
        var now = DateTime.UtcNow.Ticks;
        lock (_gate)
        {
            if (done < total && now - _lastDraw < RedrawTicks)
            {
                return;
            }

            _lastDraw = now;
            System.Console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\rkatasharp: pulling {digest.Short}  {Mib(done)} / {Mib(total)} MiB\x1b[K{(done >= total ? "\n" : "")}"));
        }
    }

    public void Unpacking(ContentDigest diffId)
    {
        lock (_gate)
        {
            System.Console.Error.WriteLine($"katasharp: unpacking layer {diffId.Short}");
        }
    }

    private static string Mib(long bytes) => (bytes / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture);
}
