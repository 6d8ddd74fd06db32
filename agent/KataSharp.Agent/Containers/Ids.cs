namespace KataSharp.Agent.Containers;

/// <summary>
/// Container and exec ids become file and directory names in the guest, so only a safe
/// alphabet is accepted (containerd's ids are hex; CRI exec ids too).
/// </summary>
internal static class Ids
{
    private const int MaxLength = 128;

    public static void RequireContainerId(string id) => Require(id, "container_id");

    /// <summary>An exec id may be empty (the init process) but otherwise follows the same rules.</summary>
    public static void RequireExecIdOrEmpty(string id)
    {
        if (id.Length > 0)
        {
            Require(id, "exec_id");
        }
    }

    public static void Require(string id, string field)
    {
        if (string.IsNullOrEmpty(id))
        {
            throw AgentErrors.InvalidArgument($"{field} is empty");
        }

        if (!IsValid(id))
        {
            throw AgentErrors.InvalidArgument($"{field} '{Truncate(id)}' must be 1-{MaxLength} characters of [A-Za-z0-9_.-] and not start with '.' or '-'");
        }
    }

    public static bool IsValid(string id)
    {
        if (id.Length is 0 or > MaxLength || id[0] is '.' or '-')
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
