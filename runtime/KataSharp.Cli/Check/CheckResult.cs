using System.Text.Json.Serialization;

namespace KataSharp.Cli.Check;

/// <summary>One line of <c>katasharp check</c>: ok, warn or fail, what was checked, and what to do about it.</summary>
internal sealed record CheckResult(string Level, string What, string Detail)
{
    public const string Ok = "ok";
    public const string Warn = "warn";
    public const string Fail = "fail";
}

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(List<CheckResult>))]
internal sealed partial class CheckJsonContext : JsonSerializerContext;
