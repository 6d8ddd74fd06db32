namespace KataSharp.Agent.Sandbox;

/// <summary>What CreateSandbox established, shared by the container code.</summary>
internal sealed class SandboxState
{
    public SandboxState(string sharedDir) => SharedDir = sharedDir;

    /// <summary>The guest directory that relative paths in specs are relative to.</summary>
    public string SharedDir { get; set; }

    public string? SandboxId { get; set; }

    /// <summary>A file system the agent mounted at <see cref="SharedDir"/>, to unmount at the end.</summary>
    public bool SharedDirMounted { get; set; }

    /// <summary>All containers join the sandbox container's PID namespace.</summary>
    public bool SharedPidNamespace { get; set; }

    public bool IsCreated => SandboxId is not null;
}
