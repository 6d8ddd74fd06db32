using System.Runtime.InteropServices;
using System.Text;

namespace KataSharp.Native;

/// <summary>Throwing wrappers for the one-shot system calls of an init process.</summary>
public static unsafe class SystemCalls
{
    public static void Mount(string? source, string target, string? fileSystemType, ulong flags, string? data)
    {
        var options = data is null ? null : Encoding.UTF8.GetBytes(data + "\0");
        fixed (byte* pointer = options)
        {
            if (Libc.Mount(source, target, fileSystemType, flags, (nint)pointer) != 0)
            {
                throw ErrnoException.FromLastError($"mount {fileSystemType ?? "(none)"} {source} on {target}");
            }
        }
    }

    /// <summary>Unmounts lazily, so a busy mount still leaves the namespace.</summary>
    public static void Unmount(string target)
    {
        if (Libc.Umount2(target, Linux.MNT_DETACH) != 0)
        {
            throw ErrnoException.FromLastError($"umount {target}");
        }
    }

    public static void ChangeRoot(string path)
    {
        if (Libc.Chroot(path) != 0)
        {
            throw ErrnoException.FromLastError($"chroot {path}");
        }
    }

    /// <summary>The file system type of the mount holding <paramref name="path"/> (statfs's f_type, e.g. <see cref="Linux.RAMFS_MAGIC"/>).</summary>
    public static unsafe long FileSystemType(string path)
    {
        // struct statfs is 120 bytes on x86-64; room to spare for any 64-bit layout.
        var buffer = stackalloc byte[256];
        if (Libc.StatFs(path, buffer) != 0)
        {
            throw ErrnoException.FromLastError($"statfs {path}");
        }

        return *(long*)buffer;
    }

    public static void BecomeChildSubreaper()
    {
        if (Libc.Prctl(Linux.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
        {
            throw ErrnoException.FromLastError("prctl(PR_SET_CHILD_SUBREAPER)");
        }
    }

    public static void SetHostName(string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name);
        fixed (byte* p = bytes)
        {
            if (Libc.SetHostName(p, (nuint)bytes.Length) != 0)
            {
                throw ErrnoException.FromLastError("sethostname");
            }
        }
    }

    public static void SetRealtimeClock(DateTimeOffset time)
    {
        var ticks = time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        var spec = new TimeSpec
        {
            Seconds = ticks / TimeSpan.TicksPerSecond,
            Nanoseconds = ticks % TimeSpan.TicksPerSecond * 100,
        };
        if (Libc.ClockSetTime(Linux.CLOCK_REALTIME, &spec) != 0)
        {
            throw ErrnoException.FromLastError("clock_settime");
        }
    }

    /// <summary>Loads a kernel module from a file; false when it is already loaded.</summary>
    public static bool LoadModule(string path, string parameters)
    {
        using var fd = FdOps.Open(path, Linux.O_RDONLY);
        var paramBytes = Encoding.UTF8.GetBytes(parameters + "\0");
        fixed (byte* p = paramBytes)
        {
            if (Libc.Syscall(Linux.SYS_finit_module, fd.Value, (nint)p, 0, 0, 0) == 0)
            {
                return true;
            }
        }

        var errno = Marshal.GetLastPInvokeError();
        if (errno == Linux.EEXIST)
        {
            return false;
        }

        throw new ErrnoException($"finit_module {path}", errno);
    }

    /// <summary>Sends a signal; false when the process no longer exists.</summary>
    public static bool Kill(int pid, int signal)
    {
        if (Libc.Kill(pid, signal) == 0)
        {
            return true;
        }

        var errno = Marshal.GetLastPInvokeError();
        if (errno == Linux.ESRCH)
        {
            return false;
        }

        throw new ErrnoException($"kill({pid}, {signal})", errno);
    }

    public static void Sync() => Libc.Sync();

    /// <summary>Powers the machine off; as PID 1 this ends the VM, and QEMU exits.</summary>
    public static void PowerOff()
    {
        Libc.Sync();
        if (Libc.Reboot(Linux.RB_POWER_OFF) != 0)
        {
            throw ErrnoException.FromLastError("reboot(RB_POWER_OFF)");
        }
    }

    /// <summary>Restarts the machine; with reboot=t and QEMU's -no-reboot that, too, ends the VM.</summary>
    public static void Restart()
    {
        Libc.Sync();
        if (Libc.Reboot(Linux.RB_AUTOBOOT) != 0)
        {
            throw ErrnoException.FromLastError("reboot(RB_AUTOBOOT)");
        }
    }

    /// <summary>Blocks in waitpid(-1): the pid and raw wait status, or null when there are no children.</summary>
    public static (int Pid, int Status)? WaitAnyChild()
    {
        while (true)
        {
            var pid = Libc.WaitPid(-1, out var status, 0);
            if (pid > 0)
            {
                return (pid, status);
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Linux.EINTR)
            {
                continue;
            }

            if (errno == Linux.ECHILD)
            {
                return null;
            }

            throw new ErrnoException("waitpid", errno);
        }
    }

    /// <summary>Waits for one specific child; for use before the reaper thread exists.</summary>
    public static int WaitChild(int pid)
    {
        while (true)
        {
            var result = Libc.WaitPid(pid, out var status, 0);
            if (result == pid)
            {
                return status;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno != Linux.EINTR)
            {
                throw new ErrnoException($"waitpid {pid}", errno);
            }
        }
    }

    public static void SetWindowSize(int fd, ushort rows, ushort columns)
    {
        var size = new WinSize { Rows = rows, Columns = columns };
        if (Libc.Ioctl(fd, Linux.TIOCSWINSZ, &size) != 0)
        {
            throw ErrnoException.FromLastError("ioctl(TIOCSWINSZ)");
        }
    }
}
