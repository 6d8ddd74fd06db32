using KataSharp.Runtime.Configuration;

namespace KataSharp.Runtime.Sandbox;

/// <summary>
/// The test seam of sandbox creation (<c>runtime.failAfter</c> in katasharp.yaml): fails the create
/// right after the named host-side step, as a real failure of the next step would. It is read only from
/// the configuration file, which is root's (the shim reads the file containerd's runtime options name;
/// pod annotations cannot set it), and all it can do is make creation fail, which whoever writes that
/// file can do anyway (a wrong hypervisor.path).
/// </summary>
internal sealed class FaultInjection(FaultPoint failAfter)
{
    /// <exception cref="SandboxException">Internal, when the configuration asks for a failure after <paramref name="step"/>.</exception>
    public void After(FaultPoint step)
    {
        if (step != FaultPoint.None && step == failAfter)
        {
            throw new SandboxException(SandboxErrorCode.Internal,
                $"injected fault after the {ConfigKeys.Name(ConfigKeys.FaultPoints, step)} step (runtime.failAfter in katasharp.yaml)");
        }
    }
}
