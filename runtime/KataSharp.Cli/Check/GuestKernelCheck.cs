using KataSharp.Runtime.Configuration;

namespace KataSharp.Cli.Check;

/// <summary>The guest kernel's options, read from the config the image keeps beside it, against those the runtime relies on.</summary>
internal static class GuestKernelCheck
{
    public const string What = "guest kernel options";

    /// <param name="kernel">The guest kernel in force.</param>
    /// <param name="readConfig">Reads a file, null when it does not exist (a seam for tests).</param>
    public static CheckResult Options(string kernel, Func<string, string?> readConfig)
    {
        var path = GuestKernelConfig.PathBeside(kernel);
        if (readConfig(path) is not { } text)
        {
            return new(CheckResult.Warn, What, $"{path} not found, so the kernel's options are not checked (./build.sh image keeps the kernel's config beside it)");
        }

        var missing = GuestKernelConfig.Missing(GuestKernelConfig.Parse(text));
        return missing.Count == 0
            ? new(CheckResult.Ok, What, $"all {GuestKernelConfig.Required.Count} options the runtime relies on are set in {path}")
            : new(CheckResult.Fail, What, $"{path} lacks {string.Join(", ", missing.Select(o => $"{o.Name} ({o.Why})"))}; rebuild the kernel with them (guest-image/kernel/katasharp.config)");
    }

    /// <summary>File.ReadAllText, or null for a file that is not there.</summary>
    public static string? ReadIfExists(string path) => File.Exists(path) ? File.ReadAllText(path) : null;
}
