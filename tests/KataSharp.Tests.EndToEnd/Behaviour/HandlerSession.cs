using KataSharp.Protocol.Cri.V1;

namespace KataSharp.Tests.EndToEnd.Behaviour;

/// <summary>
/// Everything the checks of one runtime handler share: the CRI client and, made on first use, one pod with one
/// default container. A katasharp pod costs seconds under TCG, so checks that need nothing special about the pod
/// run their containers here; disposing the session removes the pod.
/// </summary>
public sealed class HandlerSession : IAsyncDisposable
{
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

    public async Task<CriPod> SharedPodAsync() => _sharedPod ??= await CriPod.RunAsync(Cri, "behaviour-shared", Handler);

    /// <summary>A container that sleeps in the shared pod with every default of the image and of CRI.</summary>
    public async Task<string> DefaultContainerAsync()
    {
        if (_defaultContainer is null)
        {
            var pod = await SharedPodAsync();
            _defaultContainer = await CriTests.StartContainerAsync(Cri, pod.Id, pod.Config, CriTests.ContainerConfig("default", "sleep", "1000000"));
        }

        return _defaultContainer;
    }

    public async ValueTask DisposeAsync()
    {
        if (_sharedPod is not null)
        {
            await _sharedPod.DisposeAsync();
        }
    }
}
