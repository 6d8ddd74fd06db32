using System.Globalization;
using System.Text.RegularExpressions;
using KataSharp.Protocol.Cri.V1;

namespace KataSharp.Tests.EndToEnd.Behaviour;

// Owned by the helper "io": exec and attach with and without a tty, CRI log tagging.
public static partial class IoChecks
{
    private static readonly TimeSpan StreamTimeout = TimeSpan.FromMinutes(2);

    /// <summary>A line longer than containerd's max_container_log_line_size (16 KiB by default) is logged in partial pieces.</summary>
    private const int LongLine = 40_000;

    public static IReadOnlyList<BehaviourCheck> All { get; } =
    [
        new("io/exec-output-and-exit-code", async ctx =>
        {
            var id = await ctx.DefaultContainerAsync();
            await using var session = await ExecAsync(ctx, new ExecRequest { ContainerId = id, Cmd = { "sh", "-c", "echo out; echo err >&2; exit 3" }, Stdout = true, Stderr = true });
            var code = await session.WaitForExitAsync(StreamTimeout);
            Assert.Equal("out\n", session.Stdout);
            Assert.Equal("err\n", session.Stderr);
            Assert.Equal(3, code);
        }),
        new("io/exec-stdin", async ctx =>
        {
            var id = await ctx.DefaultContainerAsync();
            await using var session = await ExecAsync(ctx, new ExecRequest
            {
                ContainerId = id, Cmd = { "sh", "-c", "read line; echo \"got:$line\"; echo \"err:$line\" >&2" }, Stdin = true, Stdout = true, Stderr = true,
            });
            await session.SendStdinAsync("hello\n");
            Assert.Equal(0, await session.WaitForExitAsync(StreamTimeout));
            Assert.Equal("got:hello\n", session.Stdout);
            Assert.Equal("err:hello\n", session.Stderr);
        }),
        new("io/exec-tty", async ctx =>
        {
            var id = await ctx.DefaultContainerAsync();
            await using var session = await ExecAsync(ctx, new ExecRequest
            {
                ContainerId = id, Cmd = { "sh", "-c", "[ -t 0 ] && [ -t 1 ] && echo is-a-tty; while read x; do [ \"$x\" = q ] && exit 7; stty size; done" },
                Tty = true, Stdin = true, Stdout = true,
            });
            await session.WaitForStdoutAsync(t => t.Contains("is-a-tty", StringComparison.Ordinal), "is-a-tty", StreamTimeout);
            await session.ResizeAsync(123, 45);
            // The resize and the next line travel separately; ask again until the terminal has the new size.
            await EventuallyAsync(async () =>
            {
                await session.SendStdinAsync("size\n");
                return (await TryWaitAsync(session, t => t.Contains("45 123", StringComparison.Ordinal))) is not null;
            }, "stty to report 45 rows and 123 columns", () => session.Stdout);
            await session.SendStdinAsync("q\n");
            Assert.Equal(7, await session.WaitForExitAsync(StreamTimeout));
            Assert.Equal("", session.Stderr);
        }),
        new("io/attach-stdin", async ctx =>
        {
            var config = ctx.NewContainer("sh", "-c", "while read l; do echo \"out:$l\"; echo \"err:$l\" >&2; done");
            config.Stdin = true;
            var id = await ctx.StartContainerAsync(config);
            await using var session = await AttachAsync(ctx, new AttachRequest { ContainerId = id, Stdin = true, Stdout = true, Stderr = true });
            await session.SendStdinAsync("one\n");
            await session.WaitForStdoutAsync(t => t == "out:one\n", "out:one", StreamTimeout);
            await session.SendStdinAsync("two\n");
            await session.WaitForStdoutAsync(t => t == "out:one\nout:two\n", "out:two", StreamTimeout);
            await EventuallyAsync(() => Task.FromResult(session.Stderr == "err:one\nerr:two\n"), "err:one and err:two on stderr", () => session.Stderr);
        }),
        new("io/attach-tty", async ctx =>
        {
            var config = ctx.NewContainer("sh");
            (config.Stdin, config.Tty) = (true, true);
            var id = await ctx.StartContainerAsync(config);
            await using var session = await AttachAsync(ctx, new AttachRequest { ContainerId = id, Stdin = true, Tty = true, Stdout = true });
            // The input is echoed by the terminal; only the shell's answer contains 42.
            await session.SendStdinAsync("[ -t 0 ] && echo tty-$((6*7))\n");
            await session.WaitForStdoutAsync(t => t.Contains("tty-42", StringComparison.Ordinal), "the shell's answer tty-42", StreamTimeout);
        }),
        new("io/log-tags", async ctx =>
        {
            // Two containers of one pod write both streams at once; each log holds exactly its own lines, tagged.
            var ids = new List<(string Id, string Name)>();
            foreach (var name in new[] { "a", "b" })
            {
                ids.Add((await ctx.StartContainerAsync(ctx.NewContainer("sh", "-c", LoggingScript(name))), name));
            }

            foreach (var (id, name) in ids)
            {
                var status = await ctx.WaitForExitAsync(id);
                Assert.Equal(0, status.ExitCode);
                var entries = await ReadLogAsync(status.LogPath, $"{name}-last");
                Assert.Equal(ExpectedStdout(name), Reassemble(entries, "stdout"));
                Assert.Equal([$"{name}-err-1", $"{name}-err-2"], Reassemble(entries, "stderr"));
                if (!entries.Any(e => e.Tag == "P" && e.Content.Length > 0 && e.Content.All(c => c == name[0])))
                {
                    throw new CheckFailedException($"a {LongLine}-byte line was logged without a partial (P) entry");
                }

                // Output that ends without a newline is a partial line too.
                Assert.Equal("P", entries.Last(e => e.Stream == "stdout").Tag);
            }
        }),
    ];

    private static string LoggingScript(string name) =>
        $"echo {name}-out-1; echo {name}-err-1 >&2; printf {name}-split; sleep 0.2; echo -rest; "
        + $"head -c {LongLine} /dev/zero | tr '\\0' {name}; echo; echo {name}-err-2 >&2; printf {name}-last";

    private static List<string> ExpectedStdout(string name) =>
        [$"{name}-out-1", $"{name}-split-rest", new string(name[0], LongLine), $"{name}-last"];

    private static async Task<RemoteCommandClient> ExecAsync(CheckContext ctx, ExecRequest request) =>
        await RemoteCommandClient.ConnectAsync((await ctx.Cri.Runtime.ExecAsync(request, deadline: DateTime.UtcNow + StreamTimeout)).Url, StreamTimeout);

    private static async Task<RemoteCommandClient> AttachAsync(CheckContext ctx, AttachRequest request) =>
        await RemoteCommandClient.ConnectAsync((await ctx.Cri.Runtime.AttachAsync(request, deadline: DateTime.UtcNow + StreamTimeout)).Url, StreamTimeout);

    private static async Task<string?> TryWaitAsync(RemoteCommandClient session, Func<string, bool> condition)
    {
        try
        {
            return await session.WaitForStdoutAsync(condition, "an answer", TimeSpan.FromSeconds(2));
        }
        catch (CheckFailedException)
        {
            return null;
        }
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what, Func<string> seen)
    {
        var deadline = DateTime.UtcNow + StreamTimeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new CheckFailedException($"no {what} within {StreamTimeout.TotalSeconds} s; saw '{seen()}'");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>One CRI log entry: <c>&lt;RFC3339Nano&gt; stdout|stderr F|P &lt;content&gt;</c>.</summary>
    private sealed record LogEntry(DateTimeOffset Time, string Stream, string Tag, string Content);

    /// <summary>Reads the log once its last expected line is there (containerd may still be writing after the exit).</summary>
    private static async Task<List<LogEntry>> ReadLogAsync(string path, string lastLine)
    {
        var deadline = DateTime.UtcNow + StreamTimeout;
        while (true)
        {
            var lines = File.Exists(path) ? await File.ReadAllLinesAsync(path) : [];
            var entries = lines.Select(Parse).ToList();
            if (entries.Any(e => e.Content == lastLine))
            {
                return entries;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new CheckFailedException($"{path} never got '{lastLine}'; it has {lines.Length} lines");
            }

            await Task.Delay(100);
        }
    }

    private static LogEntry Parse(string line)
    {
        var match = LogLine().Match(line);
        if (!match.Success || !DateTimeOffset.TryParse(match.Groups[1].Value, CultureInfo.InvariantCulture, DateTimeStyles.None, out var time))
        {
            throw new CheckFailedException($"not a CRI log line: '{(line.Length > 120 ? line[..120] + "..." : line)}'");
        }

        return new LogEntry(time, match.Groups[2].Value, match.Groups[3].Value, match.Groups[4].Value);
    }

    /// <summary>
    /// The stream's lines as written: partial entries joined up to the full one that ends each line; what is left
    /// after the last full entry is the text the stream ended with, without a newline.
    /// </summary>
    private static List<string> Reassemble(List<LogEntry> entries, string stream)
    {
        var lines = new List<string>();
        var pending = "";
        foreach (var entry in entries.Where(e => e.Stream == stream))
        {
            pending += entry.Content;
            if (entry.Tag == "F")
            {
                lines.Add(pending);
                pending = "";
            }
        }

        if (pending.Length > 0)
        {
            lines.Add(pending);
        }

        return lines;
    }

    [GeneratedRegex(@"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) (F|P) (.*)$")]
    private static partial Regex LogLine();
}
