using System.Runtime.InteropServices;
using System.Text;

namespace KataSharp.Agent.Native;

/// <summary>What to start: an absolute program path with its argv, and the fds that become 0, 1 and 2.</summary>
internal sealed record SpawnRequest(IReadOnlyList<string> Argv, int Stdin, int Stdout, int Stderr)
{
    /// <summary>Run the child in a session of its own, so terminal signals for the agent never reach it.</summary>
    public bool NewSession { get; init; }

    /// <summary>The child's environment; null means a minimal PATH only.</summary>
    public IReadOnlyList<string>? Environment { get; init; }
}

/// <summary>
/// Starts programs with posix_spawn (vfork+exec in glibc, safe from a multi-threaded runtime,
/// unlike fork). The child gets default dispositions for every signal and an empty signal mask,
/// because the .NET runtime ignores SIGPIPE and that would otherwise leak into containers.
/// </summary>
internal static unsafe class ProcessSpawner
{
    // glibc's posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336, sigset_t 128: room to spare.
    private const int FileActionsSize = 256;
    private const int AttributesSize = 1024;
    private const int SigSetSize = 128;

    public static readonly IReadOnlyList<string> DefaultEnvironment =
        ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

    /// <summary>Spawns the process and returns its pid. The caller reaps it.</summary>
    public static int Spawn(SpawnRequest request)
    {
        if (request.Argv.Count == 0 || !request.Argv[0].StartsWith('/'))
        {
            throw new ArgumentException("argv[0] must be an absolute program path");
        }

        var fileActions = NativeMemory.AllocZeroed(FileActionsSize);
        var attributes = NativeMemory.AllocZeroed(AttributesSize);
        var sigset = NativeMemory.AllocZeroed(SigSetSize);
        var argv = NativeStringArray.Create(request.Argv);
        var envp = NativeStringArray.Create(request.Environment ?? DefaultEnvironment);
        try
        {
            Check(Libc.PosixSpawnFileActionsInit(fileActions), "posix_spawn_file_actions_init");
            Check(Libc.PosixSpawnAttrInit(attributes), "posix_spawnattr_init");
            try
            {
                // glibc clears FD_CLOEXEC when source and target are the same fd, so this is right
                // even for a caller that passes the agent's own 0, 1 or 2.
                Check(Libc.PosixSpawnFileActionsAddDup2(fileActions, request.Stdin, 0), "adddup2 stdin");
                Check(Libc.PosixSpawnFileActionsAddDup2(fileActions, request.Stdout, 1), "adddup2 stdout");
                Check(Libc.PosixSpawnFileActionsAddDup2(fileActions, request.Stderr, 2), "adddup2 stderr");

                short flags = Linux.POSIX_SPAWN_SETSIGDEF | Linux.POSIX_SPAWN_SETSIGMASK;
                if (request.NewSession)
                {
                    flags |= Linux.POSIX_SPAWN_SETSID;
                }

                Check(Libc.PosixSpawnAttrSetFlags(attributes, flags), "posix_spawnattr_setflags");
                Libc.SigFillSet(sigset);
                Check(Libc.PosixSpawnAttrSetSigDefault(attributes, sigset), "posix_spawnattr_setsigdefault");
                Libc.SigEmptySet(sigset);
                Check(Libc.PosixSpawnAttrSetSigMask(attributes, sigset), "posix_spawnattr_setsigmask");

                int pid;
                Check(Libc.PosixSpawn(&pid, request.Argv[0], fileActions, attributes, argv.Pointer, envp.Pointer),
                    $"posix_spawn {request.Argv[0]}");
                return pid;
            }
            finally
            {
                Libc.PosixSpawnFileActionsDestroy(fileActions);
                Libc.PosixSpawnAttrDestroy(attributes);
            }
        }
        finally
        {
            argv.Dispose();
            envp.Dispose();
            NativeMemory.Free(sigset);
            NativeMemory.Free(attributes);
            NativeMemory.Free(fileActions);
        }
    }

    /// <summary>Replaces the current process image; returns only by throwing.</summary>
    public static void Exec(IReadOnlyList<string> argv, IReadOnlyList<string> environment)
    {
        var nativeArgv = NativeStringArray.Create(argv);
        var nativeEnvp = NativeStringArray.Create(environment);
        Libc.Execve(argv[0], nativeArgv.Pointer, nativeEnvp.Pointer);
        var error = NativeException.FromLastError($"execve {argv[0]}");
        nativeArgv.Dispose();
        nativeEnvp.Dispose();
        throw error;
    }

    private static void Check(int result, string operation)
    {
        // posix_spawn* return the error number instead of setting errno.
        if (result != 0)
        {
            throw new NativeException(operation, result);
        }
    }

    /// <summary>A NULL-terminated array of NUL-terminated UTF-8 strings in native memory.</summary>
    private readonly struct NativeStringArray : IDisposable
    {
        private NativeStringArray(byte** pointer, int count)
        {
            Pointer = pointer;
            Count = count;
        }

        public byte** Pointer { get; }

        private int Count { get; }

        public static NativeStringArray Create(IReadOnlyList<string> strings)
        {
            var array = (byte**)NativeMemory.AllocZeroed((nuint)(strings.Count + 1), (nuint)sizeof(byte*));
            for (var i = 0; i < strings.Count; i++)
            {
                var bytes = Encoding.UTF8.GetBytes(strings[i]);
                var native = (byte*)NativeMemory.Alloc((nuint)bytes.Length + 1);
                bytes.CopyTo(new Span<byte>(native, bytes.Length));
                native[bytes.Length] = 0;
                array[i] = native;
            }

            return new NativeStringArray(array, strings.Count);
        }

        public void Dispose()
        {
            for (var i = 0; i < Count; i++)
            {
                NativeMemory.Free(Pointer[i]);
            }

            NativeMemory.Free(Pointer);
        }
    }
}
