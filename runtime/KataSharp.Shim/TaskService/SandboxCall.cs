using Grpc.Core;
using KataSharp.Protocol.Errors;
using KataSharp.Runtime.Sandbox;

namespace KataSharp.Shim.TaskService;

/// <summary>Runs a sandbox or agent call and hands its failure on in the shared error vocabulary.</summary>
internal static class SandboxCall
{
    public static async Task Run(Func<Task> call)
    {
        try
        {
            await call().ConfigureAwait(false);
        }
        catch (SandboxException e)
        {
            throw e.ToError();
        }
    }

    public static async Task<T> Run<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (SandboxException e)
        {
            throw e.ToError();
        }
    }

    /// <summary>A direct agent call: its status (a cancelled call's too) names the guest agent as the one that answered.</summary>
    public static async Task<T> Agent<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw new KataSharpException(ErrorStatus.KindOf(e), $"guest agent: {e.Status.Detail}");
        }
    }
}
