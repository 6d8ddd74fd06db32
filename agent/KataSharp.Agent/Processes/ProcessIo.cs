using KataSharp.Native;
using KataSharp.Protocol.Agent.V1;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Processes;

/// <summary>
/// The stdio of one container process, as the agent holds it: the child's ends (handed to crun,
/// then closed here), the stdin writer, and an output per stream: the kernel pipe itself, which ReadOutput
/// answers from (<see cref="KernelPipeOutput"/>), or for a terminal a pump into a bounded buffer.
/// Streams the host said it won't read are still drained, into a discarding pipe.
/// </summary>
internal sealed class ProcessIo : IDisposable
{
    private readonly List<OwnedFd> _childEnds = [];
    private readonly List<(OwnedFd Fd, OutputPipe Output, string Name)> _sources = [];
    private readonly List<OutputPump> _pumps = [];
    private readonly List<KernelPipeOutput> _direct = [];
    private readonly OwnedFd? _terminal;

    private ProcessIo(IProcessOutput stdout, IProcessOutput stderr, StdinWriter? stdin, OwnedFd? terminal)
    {
        Stdout = stdout;
        Stderr = stderr;
        Stdin = stdin;
        _terminal = terminal;
    }

    public IProcessOutput Stdout { get; }

    public IProcessOutput Stderr { get; }

    /// <summary>Null when the host asked for no stdin (the process reads /dev/null).</summary>
    public StdinWriter? Stdin { get; }

    public bool IsTerminal => _terminal is not null;

    /// <summary>The fds crun must pass to the process as 0, 1 and 2 (pipes only).</summary>
    public (int Stdin, int Stdout, int Stderr) ChildFds { get; private init; } = (-1, -1, -1);

    /// <summary>Pipes: stdin (or /dev/null), stdout and stderr.</summary>
    public static ProcessIo CreatePipes(StdioOptions stdio, string name)
    {
        var owned = new List<OwnedFd>();
        var outputs = new List<IProcessOutput>();
        try
        {
            OwnedFd childStdin;
            StdinWriter? stdin = null;
            if (stdio.Stdin)
            {
                var (read, write) = FdOps.CreatePipe();
                owned.Add(read);
                owned.Add(write);
                stdin = new StdinWriter(write, isTerminal: false);
                childStdin = read;
            }
            else
            {
                childStdin = FdOps.Open("/dev/null", Linux.O_RDONLY);
                owned.Add(childStdin);
            }

            var (stdoutRead, stdoutWrite) = FdOps.CreatePipe();
            owned.Add(stdoutRead);
            owned.Add(stdoutWrite);
            var (stderrRead, stderrWrite) = FdOps.CreatePipe();
            owned.Add(stderrRead);
            owned.Add(stderrWrite);
            FdOps.TrySetPipeSize(stdoutRead.Value, OutputPipe.KernelPipeBytes);
            FdOps.TrySetPipeSize(stderrRead.Value, OutputPipe.KernelPipeBytes);

            var stdout = Output(stdoutRead, stdio.Stdout, $"{name} stdout");
            outputs.Add(stdout.Output);
            var stderr = Output(stderrRead, stdio.Stderr, $"{name} stderr");
            outputs.Add(stderr.Output);
            var io = new ProcessIo(stdout.Output, stderr.Output, stdin, terminal: null)
            {
                ChildFds = (childStdin.Value, stdoutWrite.Value, stderrWrite.Value),
            };
            io._childEnds.AddRange([childStdin, stdoutWrite, stderrWrite]);
            foreach (var (output, drain) in new[] { stdout, stderr })
            {
                if (output is KernelPipeOutput direct)
                {
                    io._direct.Add(direct);
                }
                else
                {
                    io._sources.Add(drain!.Value);
                }
            }

            return io;
        }
        catch
        {
            outputs.ForEach(output => output.Abandon());
            owned.ForEach(fd => fd.Dispose());
            throw;
        }
    }

    /// <summary>
    /// A stream the host reads is read straight from its pipe; one it won't read is drained into a discarding
    /// pipe by a pump, so the process never blocks on it.
    /// </summary>
    private static (IProcessOutput Output, (OwnedFd Fd, OutputPipe Output, string Name)? Drain) Output(OwnedFd read, bool hostReads, string name)
    {
        if (!hostReads)
        {
            var discard = new OutputPipe(discard: true);
            return (discard, (read, discard, name));
        }

        return (new KernelPipeOutput(read, name), null);
    }

    /// <summary>A pty master received from crun: stdout carries the terminal, stderr stays empty.</summary>
    public static ProcessIo ForTerminal(OwnedFd master, StdioOptions stdio, string name)
    {
        OwnedFd? control = null;
        OwnedFd? writer = null;
        try
        {
            control = FdOps.Duplicate(master.Value);
            writer = stdio.Stdin ? FdOps.Duplicate(master.Value) : null;
            var stdout = new OutputPipe(discard: !stdio.Stdout);
            var stderr = new OutputPipe(discard: true);
            var io = new ProcessIo(
                stdout,
                stderr,
                writer is null ? null : new StdinWriter(writer, isTerminal: true),
                control);
            io._sources.Add((master, stdout, $"{name} tty"));
            stderr.Complete();
            return io;
        }
        catch
        {
            control?.Dispose();
            writer?.Dispose();
            master.Dispose();
            throw;
        }
    }

    public IProcessOutput Output(OutputStream stream) => stream == OutputStream.Stderr ? Stderr : Stdout;

    /// <summary>Once crun has passed the child's ends on, the agent must not hold them (or EOF never comes).</summary>
    public void CloseChildEnds()
    {
        _childEnds.ForEach(fd => fd.Dispose());
        _childEnds.Clear();
    }

    public void StartPumps(ILogger logger)
    {
        foreach (var (fd, output, name) in _sources)
        {
            _pumps.Add(OutputPump.Start(fd, output, name, logger));
        }

        _sources.Clear();
        _direct.ForEach(output => output.Start(logger));
    }

    /// <summary>Completes when every output source has reached EOF (a pipe read directly: once a reader saw it).</summary>
    public Task OutputFinished => Task.WhenAll(_pumps.Select(p => p.Finished).Concat(_direct.Select(d => d.Finished)));

    public void Resize(uint rows, uint columns)
    {
        if (_terminal is null)
        {
            throw new InvalidOperationException("the process has no terminal");
        }

        SystemCalls.SetWindowSize(_terminal.Value, (ushort)Math.Min(rows, ushort.MaxValue), (ushort)Math.Min(columns, ushort.MaxValue));
    }

    public void Dispose()
    {
        CloseChildEnds();
        Stdout.Abandon();
        Stderr.Abandon();
        foreach (var pump in _pumps)
        {
            pump.Stop();
        }

        foreach (var (fd, output, _) in _sources)
        {
            fd.Dispose();
            output.Complete();
        }

        Stdin?.Dispose();
        _terminal?.Dispose();
    }
}
