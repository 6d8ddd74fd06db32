using System.Text.Json;
using System.Text.Json.Serialization;
using KataSharp.Native;

namespace KataSharp.Runtime.Sandbox;

/// <summary>
/// state.json: what another katasharp process needs to find and manage a sandbox it did not
/// create (exec, ps, kill, rm, logs). Written atomically by the process that owns the sandbox.
/// </summary>
public sealed class SandboxState
{
    public int Version { get; set; } = 1;
    public string Id { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public string Hypervisor { get; set; } = "qemu";
    public int Pid { get; set; }
    public long PidStartTime { get; set; }
    public string ControlSocket { get; set; } = "";
    public string AgentChannelKind { get; set; } = "";
    public string AgentSocket { get; set; } = "";
    public uint AgentCid { get; set; }
    public uint AgentPort { get; set; }
    public string SharedFs { get; set; } = "";

    /// <summary>The shared filesystem's helper process (virtiofsd), 0 when there is none.</summary>
    public int SharedFsHelperPid { get; set; }
    public long SharedFsHelperStartTime { get; set; }
    public string ConsoleLog { get; set; } = "";
    public int Vcpus { get; set; }
    public int MemoryMiB { get; set; }
    public string Accelerator { get; set; } = "";
    public List<ContainerState> Containers { get; set; } = [];
}

public sealed class ContainerState
{
    public const string Creating = "creating";
    public const string Created = "created";
    public const string Running = "running";
    public const string Stopped = "stopped";

    public string Id { get; set; } = "";
    public string Rootfs { get; set; } = "";
    public uint GuestPid { get; set; }
    public bool Terminal { get; set; }

    /// <summary>One of <see cref="Creating"/>, <see cref="Created"/>, <see cref="Running"/> or <see cref="Stopped"/>.</summary>
    public string Status { get; set; } = Created;

    public int? ExitCode { get; set; }
    public DateTimeOffset? ExitedAt { get; set; }
    public string Command { get; set; } = "";
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(SandboxState))]
internal sealed partial class SandboxStateJsonContext : JsonSerializerContext;

/// <summary>Reads and writes state.json. Writes go to a temporary file that is renamed over the old one.</summary>
public static class SandboxStateStore
{
    public static SandboxState Clone(SandboxState state) =>
        JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(state, SandboxStateJsonContext.Default.SandboxState), SandboxStateJsonContext.Default.SandboxState)!;

    private static readonly FileStreamOptions CreateNewOptions = new()
    {
        Mode = FileMode.CreateNew,
        Access = FileAccess.Write,
        UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
    };

    /// <summary>Replaces state.json atomically. The temporary file is this write's own, so writers in two processes cannot mix their bytes.</summary>
    public static void Write(string path, SandboxState state)
    {
        var temporary = $"{path}.{Convert.ToHexStringLower(SecureRandom.GetBytes(4))}.tmp";
        try
        {
            Create(temporary, state);
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    /// <summary>Writes a new file (0600), failing if one exists; as the first state.json, the claim on a sandbox id (<see cref="SandboxClaim"/>).</summary>
    /// <exception cref="IOException">The file exists.</exception>
    public static void Create(string path, SandboxState state)
    {
        using var file = new FileStream(path, CreateNewOptions);
        file.Write(JsonSerializer.SerializeToUtf8Bytes(state, SandboxStateJsonContext.Default.SandboxState));
    }

    /// <exception cref="SandboxException">NotFound when the file does not exist; Internal when it is unreadable.</exception>
    public static SandboxState Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllBytes(path), SandboxStateJsonContext.Default.SandboxState)
                ?? throw new SandboxException(SandboxErrorCode.Internal, $"{path} is empty");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new SandboxException(SandboxErrorCode.NotFound, $"no sandbox state at {path}", e);
        }
        catch (JsonException e)
        {
            throw new SandboxException(SandboxErrorCode.Internal, $"{path} is corrupt: {e.Message}", e);
        }
    }
}
