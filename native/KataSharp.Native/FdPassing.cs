using System.Runtime.InteropServices;

namespace KataSharp.Native;

/// <summary>Receives a file descriptor sent with SCM_RIGHTS (how crun hands over a pty master).</summary>
public static unsafe class FdPassing
{
    private const int CmsgHeaderSize = 16; // cmsg_len (size_t), cmsg_level (int), cmsg_type (int)

    /// <summary>Reads one message from a connected Unix socket and returns the first fd it carried.</summary>
    public static OwnedFd Receive(int socketFd)
    {
        var data = stackalloc byte[4096];
        const int controlSize = 64;
        var control = stackalloc byte[controlSize];
        new Span<byte>(control, controlSize).Clear();
        var iov = new IoVec { Base = data, Length = 4096 };
        var message = new MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = controlSize };

        nint n;
        do
        {
            n = Libc.RecvMsg(socketFd, &message, Linux.MSG_CMSG_CLOEXEC);
        }
        while (n < 0 && Marshal.GetLastPInvokeError() == Linux.EINTR);

        if (n < 0)
        {
            throw ErrnoException.FromLastError("recvmsg");
        }

        // Walk the control messages for SCM_RIGHTS.
        var offset = 0;
        while (offset + CmsgHeaderSize <= (int)message.ControlLength)
        {
            var length = (int)*(nuint*)(control + offset);
            var level = *(int*)(control + offset + 8);
            var type = *(int*)(control + offset + 12);
            if (length < CmsgHeaderSize)
            {
                break;
            }

            if (level == Linux.SOL_SOCKET && type == Linux.SCM_RIGHTS && length >= CmsgHeaderSize + sizeof(int))
            {
                var fd = *(int*)(control + offset + CmsgHeaderSize);
                // Any further fds in the same message are closed: we asked for one.
                var count = (length - CmsgHeaderSize) / sizeof(int);
                for (var i = 1; i < count; i++)
                {
                    Libc.Close(*(int*)(control + offset + CmsgHeaderSize + (i * sizeof(int))));
                }

                return new OwnedFd(fd);
            }

            offset += (length + 7) & ~7;
        }

        throw new IOException("the console socket message carried no file descriptor");
    }
}
