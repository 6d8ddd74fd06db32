namespace KataSharp.Native;

/// <summary>Linux x86-64 ABI constants, named as in the C headers.</summary>
public static class Linux
{
    // errno
    public const int EPERM = 1;
    public const int EACCES = 13;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EBADF = 9;
    public const int ECHILD = 10;
    public const int EAGAIN = 11;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int EXDEV = 18;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int EPIPE = 32;
    public const int ENOSYS = 38;
    public const int ENOTEMPTY = 39;
    public const int ELOOP = 40;
    public const int EWOULDBLOCK = EAGAIN;
    public const int EAFNOSUPPORT = 97;
    public const int EADDRINUSE = 98;
    public const int ENOTCONN = 107;

    // open(2)
    public const int O_RDONLY = 0;
    public const int O_WRONLY = 1;
    public const int O_RDWR = 2;
    public const int O_CREAT = 0x40;
    public const int O_EXCL = 0x80;
    public const int O_NOCTTY = 0x100;
    public const int O_TRUNC = 0x200;
    public const int O_APPEND = 0x400;
    public const int O_NONBLOCK = 0x800;
    public const int O_DIRECTORY = 0x10000;
    public const int O_NOFOLLOW = 0x20000;
    public const int O_CLOEXEC = 0x80000;
    public const int O_PATH = 0x200000;

    // *at(2)
    public const int AT_FDCWD = -100;
    public const int AT_SYMLINK_NOFOLLOW = 0x100;
    public const int AT_REMOVEDIR = 0x200;
    public const int AT_EMPTY_PATH = 0x1000;
    public const int AT_RECURSIVE = 0x8000;

    // stat(2) st_mode
    public const uint S_IFMT = 0xF000;
    public const uint S_IFDIR = 0x4000;
    public const uint S_IFLNK = 0xA000;

    // openat2(2) resolve flags
    public const ulong RESOLVE_NO_XDEV = 0x01;
    public const ulong RESOLVE_NO_MAGICLINKS = 0x02;
    public const ulong RESOLVE_NO_SYMLINKS = 0x04;
    public const ulong RESOLVE_BENEATH = 0x08;

    // flock(2)
    public const int LOCK_SH = 1;
    public const int LOCK_EX = 2;
    public const int LOCK_NB = 4;
    public const int LOCK_UN = 8;

    // fcntl(2)
    public const int F_GETFD = 1;
    public const int F_SETFD = 2;
    public const int FD_CLOEXEC = 1;
    public const int F_GETFL = 3;
    public const int F_SETFL = 4;
    public const int F_DUPFD_CLOEXEC = 1030;
    public const int F_SETPIPE_SZ = 1031;

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
    public const ulong MS_REMOUNT = 32;
    public const ulong MS_BIND = 4096;
    public const ulong MS_MOVE = 8192;
    public const ulong MS_REC = 16384;
    public const ulong MS_PRIVATE = 1 << 18;
    public const ulong MS_SLAVE = 1 << 19;
    public const ulong MS_RELATIME = 1 << 21;
    public const int MNT_DETACH = 2;
    public const int UMOUNT_NOFOLLOW = 8;

    // mount_setattr(2)
    public const ulong MOUNT_ATTR_RDONLY = 0x1;
    public const ulong MOUNT_ATTR_NOSUID = 0x2;
    public const ulong MOUNT_ATTR_NODEV = 0x4;
    public const ulong MOUNT_ATTR_NOEXEC = 0x8;

    // namespaces
    public const int CLONE_NEWNET = 0x40000000;

    // waitpid(2)
    public const int WNOHANG = 1;

    // reboot(2)
    public const int RB_POWER_OFF = 0x4321fedc;
    public const int RB_AUTOBOOT = 0x01234567;

    // prctl(2)
    public const int PR_SET_CHILD_SUBREAPER = 36;

    // signals
    public const int SIGINT = 2;
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    // sockets
    public const int AF_INET = 2;
    public const int AF_VSOCK = 40;
    public const int SOCK_STREAM = 1;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SCM_RIGHTS = 1;
    public const int MSG_CMSG_CLOEXEC = 0x40000000;

    // ioctl
    public const nuint TIOCGWINSZ = 0x5413;
    public const nuint TIOCSWINSZ = 0x5414;
    public const nuint FIONREAD = 0x541B;
    public const uint SPLICE_F_MOVE = 1;
    public const uint SPLICE_F_NONBLOCK = 2;

    // termios
    public const int TCSANOW = 0;

    // clocks
    public const int CLOCK_REALTIME = 0;

    // posix_spawn flags (glibc)
    public const short POSIX_SPAWN_SETSIGDEF = 0x04;
    public const short POSIX_SPAWN_SETSIGMASK = 0x08;
    public const short POSIX_SPAWN_SETSID = 0x80;

    // syscall numbers
    public const nint SYS_finit_module = 313;
    public const nint SYS_openat2 = 437;
    public const nint SYS_mount_setattr = 442;

    // statfs magic numbers of the guest's root: the initramfs's, or the root image's
    public const long RAMFS_MAGIC = 0x858458f6;
    public const long TMPFS_MAGIC = 0x01021994;
    public const long EROFS_SUPER_MAGIC_V1 = 0xE0F5E1E2;
}
