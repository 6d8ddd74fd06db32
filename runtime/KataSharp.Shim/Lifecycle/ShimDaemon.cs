using System.Net.Sockets;
using KataSharp.Protocol.Logging;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Shim.Events;
using KataSharp.Native;
using KataSharp.Native.Files;
using KataSharp.Native.Processes;
using Microsoft.Extensions.Logging;
using TaskApi = KataSharp.Protocol.Containerd.Task.V2.Task;

namespace KataSharp.Shim.Lifecycle;

/// <summary>
/// The long-running shim of one pod: detached from containerd, logging into the bundle's log FIFO,
/// a child subreaper, serving the Task API on its socket until containerd shuts it down.
/// </summary>
internal static partial class ShimDaemon
{
    /// <summary>How long the shim must be quiet before its GC gives idle memory back (see <see cref="IdleHeapTrimmer"/>).</summary>
    private static readonly TimeSpan TrimPeriod = TimeSpan.FromSeconds(5);

    /// <summary>Cuts the ties to the <c>start</c> process before anything can be written to them.</summary>
    public static void Detach(string bundle)
    {
        // Whatever containerd's start path left open (its caller's locks and pipes) is not ours to keep for the pod's life.
        InheritedDescriptors.CloseAll();
        Libc.SetSid();
        var devNull = Libc.Open("/dev/null", Linux.O_RDWR, 0);
        if (devNull >= 0)
        {
            Libc.Dup2(devNull, 0);
            Libc.Dup2(devNull, 1);
        }

        // containerd holds the log FIFO open read-write, so a write-only open never blocks.
        var log = File.Exists(Path.Combine(bundle, "log")) ? Libc.Open(Path.Combine(bundle, "log"), Linux.O_WRONLY | Linux.O_NONBLOCK, 0) : -1;
        Libc.Dup2(log >= 0 ? log : devNull, 2);
        foreach (var fd in new[] { devNull, log })
        {
            if (fd > 2)
            {
                Libc.Close(fd);
            }
        }

        // Processes the shim starts (QEMU) are reparented to it, not to init, if their parent dies.
        Libc.Prctl(Linux.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }

    public static async Task<int> RunAsync(ShimArguments args, ILoggerFactory loggerFactory, LogLevelSwitch level)
    {
        var logger = loggerFactory.CreateLogger("KataSharp.Shim");
        var socketPath = args.Socket;
        if (socketPath.Length == 0)
        {
            LogNoSocket(logger);
            return 1;
        }

        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            PrivateSocket.Bind(listener, socketPath);
            listener.Listen(32);
        }
        catch (SocketException e)
        {
            LogListenFailed(logger, socketPath, e.Message);
            return 1;
        }

        await using var events = new EventPublisher(Environment.GetEnvironmentVariable("TTRPC_ADDRESS"), args.Namespace, logger);
        var service = new TaskService.TaskService(args, events, loggerFactory, level);
        var registry = new TtrpcServiceRegistry();
        TaskApi.BindService(registry, service);
        // containerd 2.x calls the same API under its v3 name.
        registry.AddAlias("containerd.task.v3.Task", "containerd.task.v2.Task");

        using var stop = new CancellationTokenSource();
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            stop.Cancel();
        });

        var serving = new TtrpcServer(registry, logger).ListenAsync(listener, stop.Token);
        LogServing(logger, socketPath, args.Id);
        var trimming = IdleHeapTrimmer.ForThisProcess().RunAsync(TrimPeriod, stop.Token);
        await Task.WhenAny(service.ShutdownRequested, serving, Task.Delay(Timeout.Infinite, stop.Token)).ConfigureAwait(false);

        // Give the Shutdown reply a moment on the wire before the connections close.
        await Task.Delay(50).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        listener.Close();
        await service.DisposeAllAsync().ConfigureAwait(false);
        await events.FlushAndCloseAsync(TimeSpan.FromSeconds(3)).ConfigureAwait(false);
        TryDelete(socketPath);
        TryDelete(socketPath + ".lock");
        await Task.WhenAny(serving, Task.Delay(TimeSpan.FromSeconds(3))).ConfigureAwait(false);
        await trimming.ConfigureAwait(false);
        LogExiting(logger, args.Id);
        return 0;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "the shim daemon needs -socket")]
    private static partial void LogNoSocket(ILogger logger);

    [LoggerMessage(Level = LogLevel.Error, Message = "cannot listen on {Socket}: {Reason}")]
    private static partial void LogListenFailed(ILogger logger, string socket, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "serving the task API on {Socket} for {Id}")]
    private static partial void LogServing(ILogger logger, string socket, string id);

    [LoggerMessage(Level = LogLevel.Information, Message = "shim for {Id} exiting")]
    private static partial void LogExiting(ILogger logger, string id);
}
