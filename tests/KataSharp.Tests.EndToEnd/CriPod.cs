using KataSharp.Protocol.Cri.V1;

namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// A pod sandbox run through CRI with a log directory of its own; disposing it stops and removes the pod
/// and deletes the directory, whatever state the pod is in.
/// </summary>
public sealed class CriPod : IAsyncDisposable
{
    private static readonly TimeSpan CallTimeout = ContainerdTestbed.CallTimeout;
    private readonly CriClient _cri;

    private CriPod(CriClient cri, string id, PodSandboxConfig config, string logDirectory)
    {
        _cri = cri;
        Id = id;
        Config = config;
        LogDirectory = logDirectory;
    }

    public string Id { get; }

    public PodSandboxConfig Config { get; }

    public string LogDirectory { get; }

    private static DateTime Deadline => DateTime.UtcNow + CallTimeout;

    /// <param name="configure">Changes <see cref="CriTests.PodConfig"/>'s defaults before the pod is run.</param>
    public static async Task<CriPod> RunAsync(CriClient cri, string name, string handler, Action<PodSandboxConfig>? configure = null)
    {
        var logs = Directory.CreateTempSubdirectory("ks-e2e-logs").FullName;
        try
        {
            var config = CriTests.PodConfig(name, logs);
            configure?.Invoke(config);
            var id = (await cri.Runtime.RunPodSandboxAsync(new RunPodSandboxRequest { Config = config, RuntimeHandler = handler }, deadline: Deadline)).PodSandboxId;
            return new CriPod(cri, id, config, logs);
        }
        catch
        {
            Directory.Delete(logs, recursive: true);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _cri.Runtime.StopPodSandboxAsync(new StopPodSandboxRequest { PodSandboxId = Id }, deadline: Deadline);
            await _cri.Runtime.RemovePodSandboxAsync(new RemovePodSandboxRequest { PodSandboxId = Id }, deadline: Deadline);
        }
        finally
        {
            Directory.Delete(LogDirectory, recursive: true);
        }
    }
}
