namespace KataSharp.Runtime;

/// <summary>The version every KataSharp binary reports.</summary>
public static class RuntimeInfo
{
    public const string Version = "0.1.0";
}
