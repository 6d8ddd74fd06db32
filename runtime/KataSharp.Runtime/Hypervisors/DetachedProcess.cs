using System.Runtime.InteropServices;
using KataSharp.Runtime.Interop;

namespace KataSharp.Runtime.Hypervisors;

/// <summary>
/// Starts a VMM in its own session with stdin on /dev/null and stdout/stderr appended to a log
/// file, so that it outlives the process that started it (<c>katasharp run --keep</c>) and never
/// dies of a closed pipe or the terminal's Ctrl-C. Uses posix_spawn: .NET cannot run code
/// between fork and exec, and System.Diagnostics.Process can neither setsid nor redirect to a file.
/// </summary>
internal static unsafe class DetachedProcess
{
    // glibc's posix_spawnattr_t is 336 bytes, posix_spawn_file_actions_t 80, sigset_t 128;
    // allocate with room to spare rather than depend on the exact layout.
    private const int OpaqueSize = 1024;

    /// <summary>Starts <paramref name="path"/> inside the network namespace at <paramref name="networkNamespacePath"/>.</summary>
    /// <remarks>
    /// setns(2) changes only the calling thread, and a spawned child inherits that thread's namespaces.
    /// So a dedicated thread enters the namespace, spawns, and returns to its own namespace before it ends;
    /// no other .NET code ever runs on it while it is away.
    /// </remarks>
    public static int Spawn(string path, IReadOnlyList<string> arguments, string logPath, string? networkNamespacePath)
    {
        if (networkNamespacePath is null)
        {
            return Spawn(path, arguments, logPath);
        }

        var pid = 0;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var own = File.OpenHandle("/proc/thread-self/ns/net", FileMode.Open, FileAccess.Read);
                using var target = File.OpenHandle(networkNamespacePath, FileMode.Open, FileAccess.Read);
                if (LibC.SetNs((int)target.DangerousGetHandle(), LibC.CLONE_NEWNET) != 0)
                {
                    throw new HypervisorException($"cannot enter network namespace {networkNamespacePath}: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
                }

                try
                {
                    pid = Spawn(path, arguments, logPath);
                }
                finally
                {
                    if (LibC.SetNs((int)own.DangerousGetHandle(), LibC.CLONE_NEWNET) != 0)
                    {
                        // A thread stuck in the pod's namespace must not go back to the pool: it is about to end anyway.
                        Environment.FailFast($"cannot return to the original network namespace: {LibC.ErrorText(Marshal.GetLastPInvokeError())}");
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
            Name = "katasharp-netns-spawn",
        };
        thread.Start();
        thread.Join();
        return failure switch
        {
            null => pid,
            HypervisorException => throw failure,
            _ => throw new HypervisorException($"cannot start {path} in {networkNamespacePath}: {failure.Message}", failure),
        };
    }

    /// <summary>Starts <paramref name="path"/> and returns its pid.</summary>
    /// <exception cref="HypervisorException">posix_spawn failed (for example, the executable does not exist).</exception>
    public static int Spawn(string path, IReadOnlyList<string> arguments, string logPath)
    {
        var actions = NativeMemory.AllocZeroed(OpaqueSize);
        var attr = NativeMemory.AllocZeroed(OpaqueSize);
        var sigset = NativeMemory.AllocZeroed(OpaqueSize);
        var strings = new List<nint>();
        try
        {
            Check(LibC.PosixSpawnFileActionsInit(actions), "posix_spawn_file_actions_init");
            Check(LibC.PosixSpawnAttrInit(attr), "posix_spawnattr_init");
            Check(LibC.PosixSpawnFileActionsAddOpen(actions, 0, "/dev/null", LibC.O_RDONLY, 0), "addopen stdin");
            Check(LibC.PosixSpawnFileActionsAddOpen(actions, 1, logPath, LibC.O_WRONLY | LibC.O_CREAT | LibC.O_APPEND, 0x1A0 /* 0640 */), "addopen stdout");
            Check(LibC.PosixSpawnFileActionsAddDup2(actions, 1, 2), "adddup2 stderr");

            // .NET ignores SIGPIPE and may block signals on this thread; the child starts clean.
            LibC.SigEmptySet(sigset);
            Check(LibC.PosixSpawnAttrSetSigMask(attr, sigset), "setsigmask");
            LibC.SigFillSet(sigset);
            Check(LibC.PosixSpawnAttrSetSigDefault(attr, sigset), "setsigdefault");
            Check(LibC.PosixSpawnAttrSetFlags(attr, (short)(LibC.POSIX_SPAWN_SETSID | LibC.POSIX_SPAWN_SETSIGMASK | LibC.POSIX_SPAWN_SETSIGDEF)), "setflags");

            var argv = stackalloc nint[arguments.Count + 2];
            argv[0] = Utf8(path, strings);
            for (var i = 0; i < arguments.Count; i++)
            {
                argv[i + 1] = Utf8(arguments[i], strings);
            }

            argv[arguments.Count + 1] = 0;

            var environment = Environment.GetEnvironmentVariables();
            var envp = new nint[environment.Count + 1];
            var n = 0;
            foreach (System.Collections.DictionaryEntry entry in environment)
            {
                envp[n++] = Utf8($"{entry.Key}={entry.Value}", strings);
            }

            fixed (nint* envpPointer = envp)
            {
                var rc = LibC.PosixSpawn(out var pid, path, actions, attr, argv, envpPointer);
                if (rc != 0)
                {
                    throw new HypervisorException($"cannot start {path}: {LibC.ErrorText(rc)}");
                }

                return pid;
            }
        }
        finally
        {
            LibC.PosixSpawnFileActionsDestroy(actions);
            LibC.PosixSpawnAttrDestroy(attr);
            NativeMemory.Free(actions);
            NativeMemory.Free(attr);
            NativeMemory.Free(sigset);
            foreach (var s in strings)
            {
                Marshal.FreeCoTaskMem(s);
            }
        }
    }

    private static nint Utf8(string value, List<nint> allocated)
    {
        var pointer = Marshal.StringToCoTaskMemUTF8(value);
        allocated.Add(pointer);
        return pointer;
    }

    private static void Check(int rc, string what)
    {
        if (rc != 0)
        {
            throw new HypervisorException($"posix_spawn set-up failed ({what}): {LibC.ErrorText(rc)}");
        }
    }
}
