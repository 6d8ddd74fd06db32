using System.Text.Json;
using KataSharp.Cli.Env;
using KataSharp.Runtime.Configuration;

namespace KataSharp.Cli.Commands;

/// <summary><c>katasharp env</c>: the effective configuration and the paths it resolves to, as YAML or (--json) JSON.</summary>
internal static class EnvCommand
{
    public static readonly CommandSyntax Syntax = new()
    {
        Name = "env",
        Summary = "Print the effective configuration and paths",
        Description = "Print the effective configuration (katasharp.yaml syntax) and the resolved paths.",
        Options = [CliOption.Flag("json", "the same as one JSON object: version, configFile, config (dotted keys),\nenableAnnotations, paths")],
    };

    public static int Execute(GlobalOptions global, IReadOnlyList<string> args)
    {
        var reader = Syntax.Parse(args);
        if (Syntax.PrintedHelp(reader))
        {
            return 0;
        }

        var loaded = new ConfigLoader().Load(reader.Get("config") ?? global.ConfigPath);
        var report = EnvReport.From(loaded);
        if (reader.Has("json"))
        {
            System.Console.WriteLine(JsonSerializer.Serialize(report, EnvJsonContext.Default.EnvReport));
            return 0;
        }

        System.Console.WriteLine($"# katasharp {report.Version}");
        System.Console.WriteLine($"# configuration: {report.ConfigFile ?? "built-in defaults"}");
        System.Console.Write(ConfigYamlWriter.Write(loaded.Config));
        System.Console.WriteLine("# resolved (not configuration keys):");
        System.Console.WriteLine("paths:");
        foreach (var (name, path) in report.Paths)
        {
            System.Console.WriteLine($"  {name}: {ConfigYamlWriter.Scalar(path)}");
        }

        return 0;
    }
}
