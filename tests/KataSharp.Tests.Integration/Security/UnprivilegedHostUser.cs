using KataSharp.Tests.Integration.Network;

namespace KataSharp.Tests.Integration.Security;

/// <summary>
/// The other party of these tests: an unprivileged host user (uid and gid 65534, no groups). Commands run through
/// <c>/bin/sh -c</c> so that the exec itself happens as that user (setpriv resolves its own command before it
/// drops privileges).
/// </summary>
internal static class UnprivilegedHostUser
{
    private static readonly string[] Setpriv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "/bin/sh", "-c"];

    /// <summary>Runs <paramref name="script"/> as uid 65534, by plain paths (as an attacker on the host would).</summary>
    public static Task<HostCommandResult> RunAsync(string script) => HostCommand.RunAsync([.. Setpriv, script], null, null);

    /// <summary>
    /// Runs <paramref name="script"/> as uid 65534 with fd 3 open (by root) on <paramref name="directory"/>, so that
    /// <c>/proc/self/fd/3/NAME</c> reaches files there whatever the permissions of the directories above it: what is
    /// then tested is the mount the file is on (nosuid, nodev), not the way to it.
    /// </summary>
    public static Task<HostCommandResult> RunInAsync(string directory, string script) =>
        HostCommand.RunAsync(["bash", "-c", """exec 3<"$1" && shift && exec "$@" """, "_", directory, .. Setpriv, script], null, null);
}
