using KataSharp.Runtime.Configuration;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Hypervisors.Qemu;

/// <summary>QEMU behind the hypervisor seam: vsock or a virtio-serial port for the agent, driven over QMP.</summary>
public sealed class QemuDriver : IHypervisorDriver
{
    /// <summary>QEMU answers on QMP within seconds of its start; a longer wait only hides a hung VMM.</summary>
    private static readonly TimeSpan MaxStartTimeout = TimeSpan.FromSeconds(30);

    private static readonly IReadOnlySet<AgentChannelKind> Channels = new HashSet<AgentChannelKind> { AgentChannelKind.Vsock, AgentChannelKind.Serial };

    private readonly string _qemuPath;
    private readonly QemuOptions _options;
    private readonly TimeSpan _startTimeout;
    private readonly ILoggerFactory _loggers;

    public QemuDriver(HypervisorConfig config, ILoggerFactory loggers)
    {
        _qemuPath = config.Path;
        _options = new QemuOptions { Machine = config.Machine, TbSizeMiB = config.TbSizeMiB };
        _startTimeout = TimeSpan.FromSeconds(Math.Min(config.BootTimeoutSeconds, MaxStartTimeout.TotalSeconds));
        _loggers = loggers;
    }

    public string Name => HypervisorFactory.NameOf(HypervisorKind.Qemu);

    public IReadOnlySet<AgentChannelKind> AgentChannels => Channels;

    public IHypervisor Create(VmSpec spec) =>
        new QemuHypervisor(spec, _options, _qemuPath, Logger(), _startTimeout);

    public IHypervisor Attach(RunningVm vm) => QemuHypervisor.Attach(vm, Logger());

    private ILogger Logger() => _loggers.CreateLogger("KataSharp.Qemu");
}
