using System.Buffers.Binary;

namespace KataSharp.Protocol.Transport;

/// <summary>
/// struct sockaddr_vm, 16 bytes in native (little-endian) order:
/// family u16, reserved u16, port u32, cid u32, flags u8, zero[3]. The agent binds it and the
/// host connects to it, both through P/Invoke: .NET's Socket cannot bind or connect AF_VSOCK.
/// </summary>
public static class VsockAddress
{
    public const int Size = 16;
    public const ushort Family = 40;

    /// <summary>VMADDR_CID_ANY: listen on whatever CID the VM was given.</summary>
    public const uint AnyCid = 0xFFFFFFFF;

    public const uint AgentPort = 1024;

    public static byte[] Encode(uint port, uint cid = AnyCid)
    {
        var address = new byte[Size];
        BinaryPrimitives.WriteUInt16LittleEndian(address.AsSpan(0), Family);
        BinaryPrimitives.WriteUInt16LittleEndian(address.AsSpan(2), 0);
        BinaryPrimitives.WriteUInt32LittleEndian(address.AsSpan(4), port);
        BinaryPrimitives.WriteUInt32LittleEndian(address.AsSpan(8), cid);
        // flags (u8) and the three zero bytes stay 0.
        return address;
    }

    public static (uint Port, uint Cid) Decode(ReadOnlySpan<byte> address)
    {
        if (address.Length < Size || BinaryPrimitives.ReadUInt16LittleEndian(address) != Family)
        {
            throw new ArgumentException("not a sockaddr_vm");
        }

        return (BinaryPrimitives.ReadUInt32LittleEndian(address[4..]), BinaryPrimitives.ReadUInt32LittleEndian(address[8..]));
    }
}
