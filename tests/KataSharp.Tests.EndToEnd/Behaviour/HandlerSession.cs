using KataSharp.Protocol.Cri.V1;

namespace KataSharp.Tests.EndToEnd.Behaviour;

/// <summary>
/// Everything the checks of one runtime handler share: the CRI client and, made on first use, one pod with one
/// default container. A katasharp pod costs seconds under TCG, so checks that need nothing special about the pod
/// run their containers here; disposing the session removes the pod.
/// </summary>
public sealed class HandlerSession : IAsyncDisposable
{
    /// <summary>Checks run side by side: the first to ask makes the pod and the container, the others wait for them.</summary>
    private readonly SemaphoreSlim _making = new(1, 1);
    private CriPod? _sharedPod;
    private string? _defaultContainer;

    public HandlerSession(CriClient cri, string handler, ContainerdFixture containerd)
    {
        Cri = cri;
        Handler = handler;
        Containerd = containerd;
    }

    public CriClient Cri { get; }

    public string Handler { get; }

    public ContainerdFixture Containerd { get; }

    public async Task<CriPod> SharedPodAsync()
    {
        await _making.WaitAsync();
        try
        {
            return _sharedPod ??= await CriPod.RunAsync(Cri, "behaviour-shared", Handler);
        }
        finally
        {
            _making.Release();
        }
    }

    /// <summary>A container that sleeps in the shared pod with every default of the image and of CRI.</summary>
    public async Task<string> DefaultContainerAsync()
    {
        var pod = await SharedPodAsync();
        await _making.WaitAsync();
        try
        {
            return _defaultContainer ??= await CriTests.StartContainerAsync(Cri, pod.Id, pod.Config, CriTests.ContainerConfig("default", "sleep", "1000000"));
        }
        finally
        {
            _making.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_sharedPod is not null)
        {
            await _sharedPod.DisposeAsync();
        }

        _making.Dispose();
    }
}
