using KataSharp.Agent.Containers;
using KataSharp.Agent.Init;
using KataSharp.Native;
using KataSharp.Protocol.Agent.V1;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Sandbox;

/// <summary>CreateSandbox and DestroySandbox: clock, shared fs, hostname, DNS, modules, and the end of the VM.</summary>
internal sealed partial class SandboxManager
{
    private static readonly TimeSpan PowerOffDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan RemoveTimeout = TimeSpan.FromSeconds(10);

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SandboxState _state;
    private readonly ContainerLifecycle _containers;
    private readonly ModuleLoader _modules;
    private readonly PowerControl _power;
    private readonly AgentOptions _options;
    private readonly ILogger _logger;

    public SandboxManager(SandboxState state, ContainerLifecycle containers, ModuleLoader modules, PowerControl power, AgentOptions options,
        ILogger<SandboxManager> logger)
    {
        _state = state;
        _containers = containers;
        _modules = modules;
        _power = power;
        _options = options;
        _logger = logger;
    }

    public async Task CreateAsync(CreateSandboxRequest request, CancellationToken cancellationToken)
    {
        Ids.Require(request.SandboxId, "sandbox_id");
        ValidateHostname(request.Hostname);
        var sharedFs = request.SharedFs is { Kind.Length: > 0 } fs ? fs : null;
        var mountPoint = sharedFs is null ? null : ValidateSharedFs(sharedFs);

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_state.IsCreated)
            {
                throw AgentErrors.AlreadyExists($"sandbox {_state.SandboxId} already exists");
            }

            // First, so every timestamp after this (files, exits) agrees with the host's clock.
            if (request.HostTime is { } hostTime && _options.IsInit)
            {
                SystemCalls.SetRealtimeClock(hostTime.ToDateTimeOffset());
            }

            foreach (var module in request.KernelModules)
            {
                if (_options.IsInit)
                {
                    _modules.Load(module);
                }
                else
                {
                    LogModuleSkipped(_logger, module);
                }
            }

            var mounted = false;
            if (sharedFs is not null && _options.SharedDirOverride is null)
            {
                MountSharedFs(sharedFs, mountPoint!);
                mounted = true;
            }
            else if (sharedFs is not null)
            {
                LogSharedFsOverridden(_logger, _options.SharedDirOverride!);
            }

            try
            {
                if (request.Hostname.Length > 0)
                {
                    if (_options.IsInit)
                    {
                        SystemCalls.SetHostName(request.Hostname);
                    }

                    Directory.CreateDirectory(_options.EtcDir);
                    await File.WriteAllTextAsync(Path.Combine(_options.EtcDir, "hostname"), request.Hostname + "\n", CancellationToken.None).ConfigureAwait(false);
                }

                Directory.CreateDirectory(_options.EtcDir);
                if (request.Dns is not null)
                {
                    await File.WriteAllTextAsync(Path.Combine(_options.EtcDir, "resolv.conf"),
                        NameResolutionFiles.RenderResolvConf(request.Dns), CancellationToken.None).ConfigureAwait(false);
                }

                await File.WriteAllTextAsync(Path.Combine(_options.EtcDir, "hosts"),
                    NameResolutionFiles.RenderHosts(request.Hostname, request.Hosts), CancellationToken.None).ConfigureAwait(false);
            }
            catch
            {
                if (mounted)
                {
                    TryUnmount(mountPoint!);
                }

                throw;
            }

            if (mounted)
            {
                _state.SharedDir = mountPoint!;
                _state.SharedDirMounted = true;
            }

            _state.SharedPidNamespace = request.SharedPidNamespace;
            _state.SandboxId = request.SandboxId;
            LogCreated(_logger, request.SandboxId, _state.SharedDir);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task DestroyAsync(DestroySandboxRequest request, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_state.IsCreated && request.SandboxId.Length > 0 && request.SandboxId != _state.SandboxId)
            {
                throw AgentErrors.NotFound($"sandbox {request.SandboxId} not found (this VM runs {_state.SandboxId})");
            }

            await EndContainersAsync().ConfigureAwait(false);
            if (_state.SharedDirMounted)
            {
                TryUnmount(_state.SharedDir);
                _state.SharedDirMounted = false;
            }

            LogDestroyed(_logger, _state.SandboxId ?? "(none)");
            _power.PowerOffAfter(PowerOffDelay);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Kills every container and unmounts, for a shutdown by signal.</summary>
    public async Task TearDownAsync()
    {
        await EndContainersAsync().ConfigureAwait(false);
        if (_state.SharedDirMounted)
        {
            TryUnmount(_state.SharedDir);
        }
    }

    private static string ValidateSharedFs(SharedFilesystem fs)
    {
        if (fs.Kind is not ("9p" or "virtiofs"))
        {
            throw AgentErrors.InvalidArgument($"shared_fs.kind '{fs.Kind}' is not 9p or virtiofs");
        }

        if (string.IsNullOrWhiteSpace(fs.Tag) || fs.Tag.Any(c => char.IsWhiteSpace(c) || c == ','))
        {
            throw AgentErrors.InvalidArgument("shared_fs.tag is empty or contains whitespace or commas");
        }

        if (fs.Options.Any(o => o.Contains(',') || o.Any(char.IsWhiteSpace)))
        {
            throw AgentErrors.InvalidArgument("shared_fs.options must be single mount options without commas or whitespace");
        }

        var mountPoint = fs.MountPoint.Length == 0 ? AgentOptions.DefaultSharedDir : fs.MountPoint;
        if (!mountPoint.StartsWith('/') || mountPoint.Split('/').Contains(".."))
        {
            throw AgentErrors.InvalidArgument($"shared_fs.mount_point '{mountPoint}' must be an absolute path without '..'");
        }

        return Path.TrimEndingDirectorySeparator(mountPoint);
    }

    private void MountSharedFs(SharedFilesystem fs, string mountPoint)
    {
        Directory.CreateDirectory(mountPoint);
        string data;
        if (fs.Kind == "9p")
        {
            var options = new List<string> { "trans=virtio", "version=9p2000.L", "msize=262144", "cache=mmap" };
            foreach (var option in fs.Options)
            {
                // A host option replaces the default with the same key.
                var key = option.Split('=')[0];
                options.RemoveAll(o => o.Split('=')[0] == key);
                options.Add(option);
            }

            data = string.Join(',', options);
        }
        else
        {
            data = string.Join(',', fs.Options);
        }

        SystemCalls.Mount(fs.Tag, mountPoint, fs.Kind, 0, data.Length == 0 ? null : data);
        LogMounted(_logger, fs.Kind, fs.Tag, mountPoint, data);
    }

    /// <summary>
    /// Ends every container, then writes back what they left dirty in the guest's page cache (a shared mmap
    /// of a file on the share or a volume): the VM is about to go, and an unmount that a still-open mount
    /// namespace keeps busy would not.
    /// </summary>
    private async Task EndContainersAsync()
    {
        await _containers.EndAllAsync(RemoveTimeout).ConfigureAwait(false);
        SystemCalls.Sync();
    }

    private void TryUnmount(string path)
    {
        try
        {
            SystemCalls.Unmount(path);
        }
        catch (ErrnoException e)
        {
            LogUnmountFailed(_logger, path, e.Message);
        }
    }

    private static void ValidateHostname(string hostname)
    {
        if (hostname.Length > 64 || hostname.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c == '/'))
        {
            throw AgentErrors.InvalidArgument("hostname must be at most 64 characters without whitespace or '/'");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "mounted {Kind} {Tag} on {MountPoint} ({Options})")]
    private static partial void LogMounted(ILogger logger, string kind, string tag, string mountPoint, string options);

    [LoggerMessage(Level = LogLevel.Information, Message = "developer mode: not loading kernel module {Module} into the host")]
    private static partial void LogModuleSkipped(ILogger logger, string module);

    [LoggerMessage(Level = LogLevel.Information, Message = "developer mode: shared fs not mounted, using {SharedDir}")]
    private static partial void LogSharedFsOverridden(ILogger logger, string sharedDir);

    [LoggerMessage(Level = LogLevel.Information, Message = "sandbox {SandboxId} created, shared directory {SharedDir}")]
    private static partial void LogCreated(ILogger logger, string sandboxId, string sharedDir);

    [LoggerMessage(Level = LogLevel.Information, Message = "sandbox {SandboxId} destroyed")]
    private static partial void LogDestroyed(ILogger logger, string sandboxId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "unmount {Path} failed: {Reason}")]
    private static partial void LogUnmountFailed(ILogger logger, string path, string reason);
}
