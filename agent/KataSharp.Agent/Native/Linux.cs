namespace KataSharp.Agent.Native;

/// <summary>Linux x86-64 ABI constants, named as in the C headers.</summary>
internal static class Linux
{
    // errno
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EBADF = 9;
    public const int ECHILD = 10;
    public const int EAGAIN = 11;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int EINVAL = 22;
    public const int EPIPE = 32;
    public const int EAFNOSUPPORT = 97;
    public const int ENOTCONN = 107;

    // open(2)
    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_RDWR = 2;
    public const int O_NOCTTY = 0x100;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    // fcntl(2)
    public const int F_GETFD = 1;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int F_DUPFD_CLOEXEC = 1030;

    // poll(2)
    public const short POLLIN = 0x1;
    public const short POLLOUT = 0x4;
    public const short POLLERR = 0x8;
    public const short POLLHUP = 0x10;
    public const short POLLNVAL = 0x20;

    // mount(2)
    public const ulong MS_RDONLY = 1;
    public const ulong MS_NOSUID = 2;
    public const ulong MS_NODEV = 4;
    public const ulong MS_NOEXEC = 8;
    public const ulong MS_RELATIME = 1 << 21;
    public const int MNT_DETACH = 2;

    // reboot(2)
    public const int RB_POWER_OFF = 0x4321fedc;

    // prctl(2)
    public const int PR_SET_CHILD_SUBREAPER = 36;

    // signals
    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    // sockets
    public const int AF_VSOCK = 40;
    public const int SOCK_STREAM = 1;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SCM_RIGHTS = 1;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;

    // ioctl
    public const nuint TIOCSWINSZ = 0x5414;

    // clocks
    public const int CLOCK_REALTIME = 0;

    // posix_spawn flags (glibc)
    public const short POSIX_SPAWN_SETSIGDEF = 0x04;
    public const short POSIX_SPAWN_SETSIGMASK = 0x08;
    public const short POSIX_SPAWN_SETSID = 0x80;

    // syscall numbers
    public const nint SYS_finit_module = 313;

    // statfs magic numbers of the initramfs root
    public const long RAMFS_MAGIC = 0x858458f6;
    public const long TMPFS_MAGIC = 0x01021994;
}
