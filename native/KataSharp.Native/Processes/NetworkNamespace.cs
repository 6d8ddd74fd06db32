namespace KataSharp.Native.Processes;

/// <summary>
/// The one way KataSharp enters another network namespace: setns(2) on a dedicated thread. setns changes
/// only the calling thread, and a child spawned from it inherits that thread's namespaces, so the thread
/// enters, runs one native action (a posix_spawn, or the socket calls of <see cref="NetworkNamespaceSockets"/>),
/// and returns to its own namespace before it ends. No managed work that could create threads or sockets
/// runs on it while it is away.
/// </summary>
internal static class NetworkNamespace
{
    public static T RunInside<T>(string namespacePath, Func<T> action)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var own = FdOps.Open("/proc/thread-self/ns/net", Linux.O_RDONLY);
                using var target = FdOps.Open(namespacePath, Linux.O_RDONLY);
                if (Libc.SetNs(target.Value, Linux.CLONE_NEWNET) != 0)
                {
                    throw ErrnoException.FromLastError($"setns {namespacePath}");
                }

                try
                {
                    result = action();
                }
                finally
                {
                    if (Libc.SetNs(own.Value, Linux.CLONE_NEWNET) != 0)
                    {
                        // A thread stuck in the pod's namespace must never run anything else.
                        Environment.FailFast($"cannot return to the original network namespace: {ErrnoException.FromLastError("setns").Message}");
                    }
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        {
            IsBackground = true,
            Name = "katasharp-netns",
        };
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }

        return result;
    }
}
