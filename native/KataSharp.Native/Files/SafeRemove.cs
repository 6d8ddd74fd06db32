using System.Runtime.InteropServices;
using System.Text;

namespace KataSharp.Native.Files;

/// <summary>
/// Deletes a directory tree that a guest can write to, the way Go's os.RemoveAll does: every step is
/// relative to an fd opened O_NOFOLLOW|O_DIRECTORY, so a directory swapped for a symlink mid-walk is
/// unlinked as a symlink and never entered, and nothing outside the tree is touched. It never descends
/// into another file system (a mount the tree should not have); that is reported instead.
/// </summary>
public static unsafe class SafeRemove
{
    // Someone who keeps refilling or swapping a directory could make the walk loop forever.
    private const int MaxAttemptsPerEntry = 64;

    /// <summary>Removes <paramref name="path"/> and everything beneath it; a missing path is not an error.</summary>
    /// <exception cref="ErrnoException">Something could not be removed, or the tree contains a mount point.</exception>
    public static void RemoveAll(string path)
    {
        var full = Path.GetFullPath(path).TrimEnd('/');
        var name = Path.GetFileName(full);
        if (name.Length == 0 || name == "..")
        {
            throw new ArgumentException($"refusing to remove '{path}'", nameof(path));
        }

        var parentPath = Path.GetDirectoryName(full) ?? "/";
        int parentFd = Libc.Open(parentPath, Linux.O_RDONLY | Linux.O_DIRECTORY | Linux.O_CLOEXEC, 0);
        if (parentFd < 0)
        {
            if (Marshal.GetLastPInvokeError() == Linux.ENOENT)
            {
                return;
            }

            throw ErrnoException.FromLastError($"open {parentPath}");
        }

        using var parent = new OwnedFd(parentFd);
        RemoveAll(parent, name);
    }

    /// <summary>Removes the entry <paramref name="name"/> of the directory <paramref name="parent"/>, recursively.</summary>
    public static void RemoveAll(OwnedFd parent, string name)
    {
        if (name.Length == 0 || name.Contains('/') || name is "." or "..")
        {
            throw new ArgumentException($"'{name}' is not a directory entry name", nameof(name));
        }

        RemoveEntry(parent.Value, name, expectedDevice: null, name);
    }

    private static void RemoveEntry(int parentFd, string name, ulong? expectedDevice, string where)
    {
        for (var attempt = 0; attempt < MaxAttemptsPerEntry; attempt++)
        {
            // Files and symlinks (including a symlink a guest just put where a directory was) go in one call.
            if (Libc.UnlinkAt(parentFd, name, 0) == 0)
            {
                return;
            }

            var unlinkErrno = Marshal.GetLastPInvokeError();
            if (unlinkErrno == Linux.ENOENT)
            {
                return;
            }

            if (unlinkErrno != Linux.EISDIR && unlinkErrno != Linux.EPERM)
            {
                throw new ErrnoException($"unlink {where}", unlinkErrno);
            }

            var fd = Libc.OpenAt(parentFd, name, Linux.O_RDONLY | Linux.O_DIRECTORY | Linux.O_NOFOLLOW | Linux.O_CLOEXEC, 0);
            int errno;
            if (fd < 0)
            {
                errno = Marshal.GetLastPInvokeError();
                if (errno is Linux.ENOENT || (errno is Linux.ENOTDIR or Linux.ELOOP && unlinkErrno == Linux.EISDIR))
                {
                    // Gone, or no longer a directory: it was swapped; unlink it again.
                    continue;
                }

                throw new ErrnoException(unlinkErrno == Linux.EPERM ? $"unlink {where}" : $"open {where}", unlinkErrno == Linux.EPERM ? unlinkErrno : errno);
            }

            using (var directory = new OwnedFd(fd))
            {
                Stat stat = default;
                ErrnoException.ThrowIfFailed(Libc.FStat(fd, &stat), $"fstat {where}");
                if (expectedDevice is { } device && stat.Device != device)
                {
                    throw new ErrnoException($"remove {where}: it is a mount point, not part of the tree", Linux.EXDEV);
                }

                foreach (var entry in ReadNames(directory, where))
                {
                    RemoveEntry(fd, entry, stat.Device, $"{where}/{entry}");
                }
            }

            if (Libc.UnlinkAt(parentFd, name, Linux.AT_REMOVEDIR) == 0)
            {
                return;
            }

            errno = Marshal.GetLastPInvokeError();
            switch (errno)
            {
                case Linux.ENOENT:
                    return;
                case Linux.ENOTEMPTY or Linux.EEXIST or Linux.ENOTDIR:
                    // Refilled or swapped while we emptied it: go round again.
                    continue;
                default:
                    throw new ErrnoException($"rmdir {where}", errno);
            }
        }

        throw new ErrnoException($"remove {where}: it kept changing while being removed", Linux.ENOTEMPTY);
    }

    private static List<string> ReadNames(OwnedFd directory, string where)
    {
        // fdopendir takes ownership of the fd it is given, so it gets its own copy.
        var copy = FdOps.Duplicate(directory.Value);
        var stream = Libc.FdOpenDir(copy.Value);
        if (stream == 0)
        {
            var error = ErrnoException.FromLastError($"fdopendir {where}");
            copy.Dispose();
            throw error;
        }

        copy.Release();
        var names = new List<string>();
        try
        {
            while (true)
            {
                var entry = Libc.ReadDir(stream);
                if (entry is null)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    return errno == 0 ? names : throw new ErrnoException($"readdir {where}", errno);
                }

                var name = Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(entry->Name));
                if (name is not ("." or ".."))
                {
                    names.Add(name);
                }
            }
        }
        finally
        {
            Libc.CloseDir(stream);
        }
    }
}
