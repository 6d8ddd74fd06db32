using System.Globalization;
using KataSharp.Protocol.Agent.V1;

namespace KataSharp.Agent.Cpus;

/// <summary>
/// The VM's vCPU headroom from inside (issue 10): the VM boots with more vCPUs than the pod's and the kernel brings
/// up only the pod's (<c>maxcpus=</c>), so the rest are present but offline. Onlining one is a write of "1" to its
/// <c>cpuN/online</c>, which returns once the CPU runs; the lowest offline ones go first, and none is ever taken
/// offline (a container may be pinned to it). The kernel widens the cpusets (and so the containers' affinity) from
/// a work item after that write returns (Linux 6.1), so the answer waits until the root cpuset has them: a container's
/// process started next then sees them. As a developer-mode agent on a host it leaves the host's CPUs alone.
/// </summary>
/// <param name="cpusetEffectivePath">The root cgroup's cpuset.cpus.effective; a path that does not exist is not waited for.</param>
internal sealed class CpuHotplug(string cpuDirectory, string cpusetEffectivePath, bool mayWrite, TimeSpan? cpusetTimeout = null)
{
    public const string SysfsDirectory = "/sys/devices/system/cpu";
    public const string RootCpusetEffective = "/sys/fs/cgroup/cpuset.cpus.effective";

    private static readonly TimeSpan CpusetPoll = TimeSpan.FromMilliseconds(20);
    private readonly TimeSpan _cpusetTimeout = cpusetTimeout ?? TimeSpan.FromSeconds(10);

    /// <exception cref="Protocol.Errors.KataSharpException">
    /// InvalidArgument for a count of 0; FailedPrecondition when fewer are present, or when this agent may not change them.
    /// </exception>
    public async Task<OnlineCpusResponse> OnlineAsync(uint count, CancellationToken cancellationToken)
    {
        if (count == 0)
        {
            throw AgentErrors.InvalidArgument("OnlineCpus: count must be at least 1");
        }

        var present = CpuList.Parse(await ReadAsync("present", cancellationToken).ConfigureAwait(false));
        var online = new SortedSet<int>(CpuList.Parse(await ReadAsync("online", cancellationToken).ConfigureAwait(false)));
        if (count > present.Count)
        {
            throw AgentErrors.FailedPrecondition($"OnlineCpus: the guest has {present.Count} vCPUs, fewer than the {count} asked for");
        }

        var wrote = false;
        foreach (var cpu in present)
        {
            if (online.Count >= count)
            {
                break;
            }

            if (online.Contains(cpu))
            {
                continue;
            }

            if (!mayWrite)
            {
                throw AgentErrors.FailedPrecondition($"OnlineCpus: cpu{cpu} is offline, and an agent that is not the guest's init leaves this machine's CPUs alone");
            }

            var path = Path.Combine(cpuDirectory, "cpu" + cpu.ToString(CultureInfo.InvariantCulture), "online");
            try
            {
                await File.WriteAllTextAsync(path, "1", cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw AgentErrors.Internal($"OnlineCpus: bringing cpu{cpu} online ({path}) failed: {e.Message}");
            }

            online.Add(cpu);
            wrote = true;
        }

        if (wrote)
        {
            await WaitForCpusetAsync(online.Count, cancellationToken).ConfigureAwait(false);
        }

        return new OnlineCpusResponse { Online = (uint)online.Count, Present = (uint)present.Count };
    }

    private async Task WaitForCpusetAsync(int count, CancellationToken cancellationToken)
    {
        if (!File.Exists(cpusetEffectivePath))
        {
            return;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_cpusetTimeout);
        var effective = "";
        try
        {
            while ((effective = await File.ReadAllTextAsync(cpusetEffectivePath, deadline.Token).ConfigureAwait(false)) is var list && CpuList.Parse(list).Count < count)
            {
                await Task.Delay(CpusetPoll, deadline.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw AgentErrors.Internal($"OnlineCpus: {count} vCPUs are online, but after {_cpusetTimeout.TotalSeconds:0} s the root cpuset still has only {effective.Trim()}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw AgentErrors.Internal($"OnlineCpus: reading {cpusetEffectivePath} failed: {e.Message}");
        }
    }

    private async Task<string> ReadAsync(string name, CancellationToken cancellationToken)
    {
        var path = Path.Combine(cpuDirectory, name);
        try
        {
            return await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw AgentErrors.Internal($"OnlineCpus: reading {path} failed: {e.Message}");
        }
    }
}
