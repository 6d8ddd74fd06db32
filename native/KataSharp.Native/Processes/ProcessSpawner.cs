using System.Runtime.InteropServices;
using System.Text;

namespace KataSharp.Native.Processes;

/// <summary>
/// Starts programs with posix_spawn (vfork+exec in glibc, safe from a multi-threaded runtime,
/// unlike fork). The child gets default dispositions for every signal and an empty signal mask,
/// because the .NET runtime ignores SIGPIPE and that would otherwise leak into containers.
/// The child gets only the fds its file actions name: every other fd is closed, so nothing this
/// process inherited without close-on-exec (a caller's lock, a pipe) reaches QEMU or a helper.
/// </summary>
public static unsafe class ProcessSpawner
{
    // sizeof(posix_spawn_file_actions_t), sizeof(posix_spawnattr_t) and sizeof(sigset_t) in glibc on x86-64,
    // checked with a C program against /usr/include. They are part of glibc's ABI, so they cannot change.
    private const int FileActionsSize = 80;
    private const int AttributesSize = 336;
    private const int SigSetSize = 128;

    public static readonly IReadOnlyList<string> DefaultEnvironment =
        ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"];

    /// <summary>Spawns the process and returns its pid. The caller reaps it.</summary>
    /// <exception cref="ErrnoException">The program cannot be started, or the network namespace cannot be entered.</exception>
    public static int Spawn(SpawnRequest request)
    {
        if (request.Argv.Count == 0 || !request.Argv[0].StartsWith('/'))
        {
            throw new ArgumentException("argv[0] must be an absolute program path");
        }

        return request.NetworkNamespacePath is { } netns ? NetworkNamespace.RunInside(netns, () => SpawnHere(request)) : SpawnHere(request);
    }

    /// <summary>This process's environment as NAME=value entries, for a child that inherits it.</summary>
    public static IReadOnlyList<string> CurrentEnvironment() =>
        [.. System.Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().Select(e => $"{e.Key}={e.Value}")];

    private static int SpawnHere(SpawnRequest request)
    {
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
                foreach (var action in request.FileActions)
                {
                    Check(Add(fileActions, action), $"posix_spawn file action {action}");
                }

                Check(Libc.PosixSpawnFileActionsAddCloseFrom(fileActions, FirstUnnamedFd(request.FileActions)), "posix_spawn_file_actions_addclosefrom_np");

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
        var error = ErrnoException.FromLastError($"execve {argv[0]}");
        nativeArgv.Dispose();
        nativeEnvp.Dispose();
        throw error;
    }

    /// <summary>The lowest fd above stdio and above every fd a file action sets up.</summary>
    internal static int FirstUnnamedFd(IReadOnlyList<SpawnFileAction> actions) =>
        actions.Select(a => a switch
        {
            SpawnFileAction.Duplicate dup => dup.Target,
            SpawnFileAction.Open open => open.Target,
            _ => 0,
        }).Append(2).Max() + 1;

    private static int Add(void* fileActions, SpawnFileAction action) => action switch
    {
        // glibc clears FD_CLOEXEC when source and target are the same fd, so this is right
        // even for a caller that passes its own 0, 1 or 2.
        SpawnFileAction.Duplicate dup => Libc.PosixSpawnFileActionsAddDup2(fileActions, dup.Source, dup.Target),
        SpawnFileAction.Open open => Libc.PosixSpawnFileActionsAddOpen(fileActions, open.Target, open.Path, open.Flags, open.Mode),
        _ => throw new ArgumentOutOfRangeException(nameof(action)),
    };

    private static void Check(int result, string operation)
    {
        // posix_spawn* return the error number instead of setting errno.
        if (result != 0)
        {
            throw new ErrnoException(operation, result);
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
