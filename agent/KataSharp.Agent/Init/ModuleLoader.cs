using KataSharp.Native;
using Microsoft.Extensions.Logging;

namespace KataSharp.Agent.Init;

/// <summary>
/// Loads kernel modules with finit_module(2). A module is named by a path (absolute, or relative
/// to /lib/modules/VERSION) or by its name, which is looked up below that directory; words after
/// it are module parameters.
/// </summary>
internal sealed partial class ModuleLoader
{
    public const string BootListPath = "/etc/katasharp/modules";

    private readonly ILogger _logger;
    private readonly string _modulesDir;

    public ModuleLoader(ILogger<ModuleLoader> logger, string? modulesDir = null)
    {
        _logger = logger;
        _modulesDir = modulesDir ?? Path.Combine("/lib/modules", KernelRelease());
    }

    /// <summary>The boot list: one module per line, dependencies first. Failures are logged, not fatal.</summary>
    public void LoadBootList(string listPath = BootListPath)
    {
        if (!File.Exists(listPath))
        {
            LogNoList(_logger, listPath);
            return;
        }

        foreach (var line in File.ReadAllLines(listPath))
        {
            var entry = line.Trim();
            if (entry.Length == 0 || entry.StartsWith('#'))
            {
                continue;
            }

            try
            {
                Load(entry);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                LogLoadFailed(_logger, entry, e.Message);
            }
        }
    }

    /// <summary>Loads one module; already loaded is success.</summary>
    public void Load(string entry)
    {
        var words = entry.Split(' ', 2, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (words.Length == 0)
        {
            throw new ArgumentException("empty module name");
        }

        var path = Resolve(words[0]) ?? throw new FileNotFoundException($"kernel module {words[0]} not found under {_modulesDir}");
        var loaded = SystemCalls.LoadModule(path, words.Length > 1 ? words[1] : string.Empty);
        LogLoaded(_logger, path, loaded ? "loaded" : "already loaded");
    }

    private string? Resolve(string name)
    {
        if (name.Contains(".."))
        {
            throw new ArgumentException($"module path {name} must not contain '..'");
        }

        if (name.StartsWith('/'))
        {
            return File.Exists(name) ? name : null;
        }

        if (name.Contains('/') || name.EndsWith(".ko", StringComparison.Ordinal))
        {
            var relative = Path.Combine(_modulesDir, name);
            return File.Exists(relative) ? relative : null;
        }

        if (!Directory.Exists(_modulesDir))
        {
            return null;
        }

        // Module names use '-' and '_' interchangeably.
        var wanted = name.Replace('-', '_') + ".ko";
        return Directory.EnumerateFiles(_modulesDir, "*.ko", SearchOption.AllDirectories)
            .FirstOrDefault(f => Path.GetFileName(f).Replace('-', '_') == wanted);
    }

    private static string KernelRelease()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "module {Path}: {Result}")]
    private static partial void LogLoaded(ILogger logger, string path, string result);

    [LoggerMessage(Level = LogLevel.Warning, Message = "module {Entry} failed to load: {Reason}")]
    private static partial void LogLoadFailed(ILogger logger, string entry, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "no module list at {Path}")]
    private static partial void LogNoList(ILogger logger, string path);
}
