using System.Text.Json.Nodes;

namespace KataSharp.Runtime.Hypervisors.Qemu;

/// <summary>
/// The VM's virtio balloon over QMP: the headroom between the pod's size and the RAM the VM booted with.
/// microvm has no memory hotplug (virtio-mem needs a device-memory region the machine does not have), so a
/// VM that may grow boots with its ceiling and the balloon inflated to the pod's size; growing deflates it.
/// </summary>
internal static class QemuBalloon
{
    private const long MiB = 1 << 20;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>Sets the guest's target without waiting: at boot, before the guest's balloon driver exists, QEMU keeps it for the driver.</summary>
    public static Task SetTargetAsync(QmpClient qmp, int memoryMiB, TimeSpan commandTimeout, CancellationToken cancellationToken) =>
        qmp.ExecuteAsync("balloon", new JsonObject { ["value"] = memoryMiB * MiB }, commandTimeout, cancellationToken);

    /// <summary>Sets the target and waits until the guest holds at least that much, within <paramref name="timeout"/>.</summary>
    /// <exception cref="HypervisorException">The guest did not release the balloon's pages in time, or QEMU refused.</exception>
    public static async Task GrowAsync(QmpClient qmp, int memoryMiB, TimeSpan commandTimeout, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await SetTargetAsync(qmp, memoryMiB, commandTimeout, cancellationToken).ConfigureAwait(false);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(timeout);
            long actual = 0;
            try
            {
                while ((actual = await ActualAsync(qmp, commandTimeout, deadline.Token).ConfigureAwait(false)) < memoryMiB * MiB)
                {
                    await Task.Delay(PollInterval, deadline.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new HypervisorException(
                    $"the guest did not take the memory it was given within {timeout.TotalSeconds:0.#} s: it holds {actual / MiB} MiB of the {memoryMiB} MiB asked for");
            }
        }
        catch (QmpException e)
        {
            throw new HypervisorException($"growing the VM to {memoryMiB} MiB: {e.Message}", e);
        }
    }

    /// <summary>The RAM the guest holds now (the boot RAM less the balloon), in bytes.</summary>
    private static async Task<long> ActualAsync(QmpClient qmp, TimeSpan commandTimeout, CancellationToken cancellationToken) =>
        (await qmp.ExecuteAsync("query-balloon", null, commandTimeout, cancellationToken).ConfigureAwait(false)) is JsonObject info
        && info["actual"] is JsonValue value && value.TryGetValue<long>(out var bytes)
            ? bytes
            : throw new QmpException("query-balloon: no 'actual' in the reply");
}
