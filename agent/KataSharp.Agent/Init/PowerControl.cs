using KataSharp.Native;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Init;

/// <summary>
/// Ends the agent. As PID 1 that means powering the VM off (PID 1 must never just exit: the
/// kernel would panic), so QEMU exits; in developer mode it means exiting the process.
/// </summary>
internal sealed partial class PowerControl
{
    private readonly bool _isInit;
    private readonly ILogger _logger;
    private int _requested;

    public PowerControl(bool isInit, ILogger<PowerControl> logger)
    {
        _isInit = isInit;
        _logger = logger;
    }

    /// <summary>Powers off after <paramref name="delay"/>, so the RPC that asked for it is answered first.</summary>
    public void PowerOffAfter(TimeSpan delay)
    {
        if (Interlocked.Exchange(ref _requested, 1) == 1)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            await Task.Delay(delay).ConfigureAwait(false);
            PowerOffNow();
        });
    }

    public void PowerOffNow()
    {
        LogPowerOff(_logger, _isInit ? "powering off" : "exiting (developer mode)");
        if (!_isInit)
        {
            Environment.Exit(0);
        }

        try
        {
            // Without ACPI the kernel cannot power the machine off (reboot(RB_POWER_OFF) would only end PID 1, a
            // panic); a restart ends the VM just as well, through the runtime's reboot=t and QEMU's -no-reboot.
            if (HasAcpi())
            {
                SystemCalls.PowerOff();
            }
            else
            {
                SystemCalls.Restart();
            }
        }
        catch (ErrnoException e)
        {
            LogPowerOffFailed(_logger, e.Message);
        }

        // reboot(2) does not return on success; if it failed there is nothing better to do than wait.
        Thread.Sleep(Timeout.Infinite);
    }

    /// <summary>The kernel publishes /sys/firmware/acpi only when it found ACPI tables and uses them.</summary>
    private static bool HasAcpi() => Directory.Exists("/sys/firmware/acpi");

    [LoggerMessage(Level = LogLevel.Information, Message = "shutdown: {What}")]
    private static partial void LogPowerOff(ILogger logger, string what);

    [LoggerMessage(Level = LogLevel.Critical, Message = "power off failed: {Reason}")]
    private static partial void LogPowerOffFailed(ILogger logger, string reason);
}
