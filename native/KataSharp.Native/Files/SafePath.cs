using System.Runtime.InteropServices;

namespace KataSharp.Native.Files;

/// <summary>
/// Opens and creates paths under a directory that a guest can write to, without ever following a symlink
/// or leaving the directory: a guest that swaps a directory for a symlink between our check and our use
/// gets a refusal, never a host file. Every call is relative to an fd of the root, not to a path string.
/// </summary>
public static unsafe class SafePath
{
    private const ulong Resolve = Linux.RESOLVE_BENEATH | Linux.RESOLVE_NO_SYMLINKS | Linux.RESOLVE_NO_MAGICLINKS;

    // openat2 answers EAGAIN when a concurrent rename could have let a lookup escape; it is safe to retry.
    private const int RenameRaceRetries = 16;

    private static int _openat2Missing;

    /// <summary>Opens a trusted host directory (the root that guest-controlled paths are resolved beneath).</summary>
    public static OwnedFd OpenRoot(string path) => FdOps.Open(path, Linux.O_PATH | Linux.O_DIRECTORY);

    /// <summary>
    /// Opens <paramref name="relativePath"/> beneath <paramref name="root"/> with open(2) <paramref name="flags"/>.
    /// A symlink anywhere in the path, a ".." component or a magic link is refused (ELOOP or EXDEV).
    /// Uses openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS), or an O_NOFOLLOW walk on kernels without it.
    /// </summary>
    /// <exception cref="ErrnoException">The path does not exist, or resolving it needed a symlink.</exception>
    public static OwnedFd OpenBeneath(OwnedFd root, string relativePath, int flags, uint mode = 0)
    {
        var components = Components(relativePath);
        if (Volatile.Read(ref _openat2Missing) == 0)
        {
            var how = new OpenHow { Flags = (ulong)(uint)(flags | Linux.O_CLOEXEC), Mode = mode, Resolve = Resolve };
            var path = components.Count == 0 ? "." : string.Join('/', components);
            for (var attempt = 0; ; attempt++)
            {
                var fd = OpenAt2(root.Value, path, &how);
                if (fd >= 0)
                {
                    return new OwnedFd(fd);
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno == Linux.ENOSYS)
                {
                    Volatile.Write(ref _openat2Missing, 1);
                    break;
                }

                if (errno != Linux.EAGAIN || attempt == RenameRaceRetries)
                {
                    throw new ErrnoException($"openat2 {path} beneath {root}", errno);
                }
            }
        }

        return WalkBeneath(root, components, flags, mode);
    }

    /// <summary>
    /// Creates <paramref name="relativePath"/> and any missing parents beneath <paramref name="root"/> as
    /// directories, refusing to pass through a symlink; returns an O_PATH fd of the last one.
    /// </summary>
    public static OwnedFd CreateDirectoryBeneath(OwnedFd root, string relativePath, uint mode = 0x1ED /* 0755 */)
    {
        var current = FdOps.Duplicate(root.Value);
        try
        {
            foreach (var name in Components(relativePath))
            {
                if (Libc.MkdirAt(current.Value, name, mode) != 0 && Marshal.GetLastPInvokeError() != Linux.EEXIST)
                {
                    throw ErrnoException.FromLastError($"mkdirat {name} in {relativePath}");
                }

                // What now has that name may be a symlink a guest put there: O_NOFOLLOW|O_DIRECTORY refuses it.
                var next = OpenComponent(current, name, Linux.O_PATH | Linux.O_DIRECTORY, relativePath);
                current.Dispose();
                current = next;
            }

            return current;
        }
        catch
        {
            current.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens or creates the file <paramref name="relativePath"/> beneath <paramref name="root"/>: its parent is
    /// resolved without symlinks and the file itself is opened O_NOFOLLOW, so a symlink in its place is refused.
    /// With <paramref name="exclusive"/> an existing file is refused too (EEXIST).
    /// </summary>
    public static OwnedFd CreateFileBeneath(OwnedFd root, string relativePath, int flags, uint mode = 0x1A4 /* 0644 */, bool exclusive = false)
    {
        var components = Components(relativePath);
        if (components.Count == 0)
        {
            throw new ArgumentException($"'{relativePath}' names no file", nameof(relativePath));
        }

        using var parent = OpenBeneath(root, string.Join('/', components.Take(components.Count - 1)), Linux.O_PATH | Linux.O_DIRECTORY);
        var fd = Libc.OpenAt(parent.Value, components[^1], flags | Linux.O_CREAT | Linux.O_NOFOLLOW | Linux.O_CLOEXEC | (exclusive ? Linux.O_EXCL : 0), (int)mode);
        return fd >= 0 ? new OwnedFd(fd) : throw ErrnoException.FromLastError($"create {relativePath} beneath {root}");
    }

    /// <summary>The O_NOFOLLOW walk: one openat per component, each relative to the fd of the one before.</summary>
    internal static OwnedFd WalkBeneath(OwnedFd root, IReadOnlyList<string> components, int flags, uint mode)
    {
        var current = FdOps.Duplicate(root.Value);
        try
        {
            for (var i = 0; i < components.Count - 1; i++)
            {
                var next = OpenComponent(current, components[i], Linux.O_PATH | Linux.O_DIRECTORY, string.Join('/', components));
                current.Dispose();
                current = next;
            }

            if (components.Count == 0)
            {
                var self = Libc.OpenAt(current.Value, ".", flags | Linux.O_CLOEXEC, (int)mode);
                return self >= 0 ? new OwnedFd(self) : throw ErrnoException.FromLastError($"open {root}");
            }

            var last = OpenComponent(current, components[^1], flags, string.Join('/', components), mode);
            return last;
        }
        finally
        {
            current.Dispose();
        }
    }

    /// <summary>The walk of <paramref name="relativePath"/>, for tests of kernels without openat2.</summary>
    internal static OwnedFd WalkBeneath(OwnedFd root, string relativePath, int flags, uint mode = 0) =>
        WalkBeneath(root, Components(relativePath), flags, mode);

    /// <summary>
    /// The components of a path meant to stay beneath a root: leading slashes are taken as the root, and
    /// ".." is refused outright rather than tracked, so the openat2 and walk paths agree.
    /// </summary>
    internal static IReadOnlyList<string> Components(string relativePath)
    {
        var components = relativePath.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(c => c != ".").ToList();
        if (components.Contains(".."))
        {
            throw new ErrnoException($"resolve {relativePath}: '..' may not be used beneath a root", Linux.EXDEV);
        }

        return components;
    }

    private static OwnedFd OpenComponent(OwnedFd directory, string name, int flags, string path, uint mode = 0)
    {
        // O_PATH|O_NOFOLLOW opens a symlink itself instead of failing, so for O_PATH the type is checked
        // afterwards (and O_DIRECTORY with it, so that a symlink is ELOOP as with openat2, not ENOTDIR).
        var isPath = (flags & Linux.O_PATH) != 0;
        var wantsDirectory = (flags & Linux.O_DIRECTORY) != 0;
        var fd = Libc.OpenAt(directory.Value, name, (isPath ? flags & ~Linux.O_DIRECTORY : flags) | Linux.O_NOFOLLOW | Linux.O_CLOEXEC, (int)mode);
        if (fd < 0)
        {
            throw ErrnoException.FromLastError($"openat {name} in {path}");
        }

        var owned = new OwnedFd(fd);
        Stat stat = default;
        var errno = Libc.FStat(fd, &stat) != 0 ? Marshal.GetLastPInvokeError()
            : stat.IsSymbolicLink ? Linux.ELOOP
            : wantsDirectory && !stat.IsDirectory ? Linux.ENOTDIR
            : 0;
        if (errno != 0)
        {
            owned.Dispose();
            throw new ErrnoException($"openat {name} in {path}", errno);
        }

        return owned;
    }

    private static int OpenAt2(int dirFd, string path, OpenHow* how)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
        {
            return (int)Libc.Syscall(Linux.SYS_openat2, dirFd, (nint)p, (nint)how, sizeof(OpenHow), 0);
        }
    }
}
