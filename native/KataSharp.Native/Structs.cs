using System.Runtime.InteropServices;

namespace KataSharp.Native;

[StructLayout(LayoutKind.Sequential)]
public struct PollFd
{
    public int Fd;
    public short Events;
    public short ReturnedEvents;
}

[StructLayout(LayoutKind.Sequential)]
public struct TimeSpec
{
    public long Seconds;
    public long Nanoseconds;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct IoVec
{
    public void* Base;
    public nuint Length;
}

/// <summary>struct msghdr on 64-bit Linux.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct MsgHdr
{
    public void* Name;
    public uint NameLength;
    public IoVec* Iov;
    public nuint IovLength;
    public void* Control;
    public nuint ControlLength;
    public int Flags;
}

/// <summary>struct winsize for TIOCGWINSZ and TIOCSWINSZ.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct WinSize
{
    public ushort Rows;
    public ushort Columns;
    public ushort XPixels;
    public ushort YPixels;
}

/// <summary>struct stat on x86-64 (144 bytes; st_dev at 0, st_ino at 8, st_mode at 24, checked with gcc).</summary>
[StructLayout(LayoutKind.Explicit, Size = 144)]
public struct Stat
{
    [FieldOffset(0)]
    public ulong Device;

    [FieldOffset(8)]
    public ulong Inode;

    [FieldOffset(24)]
    public uint Mode;

    public readonly bool IsDirectory => (Mode & Linux.S_IFMT) == Linux.S_IFDIR;

    public readonly bool IsSymbolicLink => (Mode & Linux.S_IFMT) == Linux.S_IFLNK;
}

/// <summary>The head of glibc's struct dirent64 (readdir); the name is NUL-terminated at offset 19.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct DirEnt
{
    public ulong Inode;
    public long Offset;
    public ushort RecordLength;
    public byte Type;
    public fixed byte Name[256];
}

/// <summary>struct open_how for openat2(2).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct OpenHow
{
    public ulong Flags;
    public ulong Mode;
    public ulong Resolve;
}

/// <summary>struct mount_attr for mount_setattr(2).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct MountAttr
{
    public ulong AttrSet;
    public ulong AttrClear;
    public ulong Propagation;
    public ulong UserNamespaceFd;
}
