using System.Text.RegularExpressions;

namespace KataSharp.Tests.EndToEnd.Behaviour;

/// <summary>
/// One behaviour a pod must show the same under every runtime handler. The body runs once per handler
/// against the same containerd, looks from inside the container, and throws when the behaviour is not there;
/// it never asks which handler it runs under.
/// </summary>
/// <param name="Name">Stable and kebab-case, <c>area/what</c> (e.g. <c>security/run-as-user</c>): the table row, the
/// <see cref="VmLimitations"/> key and what <c>KATASHARP_CHECKS</c> matches.</param>
/// <param name="Body">The check itself; the context cleans up whatever it started.</param>
public sealed partial record BehaviourCheck(string Name, Func<CheckContext, Task> Body)
{
    /// <summary>The part of <see cref="Name"/> before the slash: which area file owns the check.</summary>
    public string Area => Name[..Name.IndexOf('/', StringComparison.Ordinal)];

    /// <summary>The part after the slash, usable in pod and container names.</summary>
    public string Leaf => Name[(Name.IndexOf('/', StringComparison.Ordinal) + 1)..];

    public bool HasValidName => ValidName().IsMatch(Name);

    public override string ToString() => Name;

    [GeneratedRegex("^[a-z0-9]+(-[a-z0-9]+)*/[a-z0-9]+(-[a-z0-9]+)*$")]
    private static partial Regex ValidName();
}
