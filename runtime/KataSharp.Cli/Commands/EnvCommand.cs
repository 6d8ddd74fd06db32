using KataSharp.Runtime.Configuration;

namespace KataSharp.Cli.Commands;

/// <summary><c>katasharp env</c>: the effective configuration and the paths it resolves to, as YAML.</summary>
internal static class EnvCommand
{
    public static int Execute(GlobalOptions global, IReadOnlyList<string> args)
    {
        var reader = CliContext.WithCommonOptions(new ArgReader("env")).Parse(args);
        if (reader.Has("help"))
        {
            System.Console.WriteLine("Usage: katasharp env\n\nPrint the effective configuration (katasharp.yaml syntax) and the resolved paths.");
            return 0;
        }

        var loaded = new ConfigLoader().Load(reader.Get("config") ?? global.ConfigPath);
        var config = loaded.Config;
        System.Console.WriteLine($"# katasharp {KataSharp.Runtime.RuntimeInfo.Version}");
        System.Console.WriteLine($"# configuration: {loaded.SourcePath ?? "built-in defaults"}");
        System.Console.Write(ConfigYamlWriter.Write(config));
        System.Console.WriteLine("# resolved (not configuration keys):");
        System.Console.WriteLine("paths:");
        System.Console.WriteLine($"  configFile: {ConfigYamlWriter.Scalar(loaded.SourcePath ?? "")}");
        System.Console.WriteLine($"  executable: {ConfigYamlWriter.Scalar(Environment.ProcessPath ?? "")}");
        System.Console.WriteLine($"  kernel: {ConfigYamlWriter.Scalar(GuestAssets.ResolveKernel(config))}");
        System.Console.WriteLine($"  initrd: {ConfigYamlWriter.Scalar(GuestAssets.ResolveInitrd(config))}");
        System.Console.WriteLine($"  defaultImage: {ConfigYamlWriter.Scalar(GuestAssets.DefaultImage())}");
        System.Console.WriteLine($"  sandboxes: {ConfigYamlWriter.Scalar(Path.Combine(config.Runtime.StateDir, "sandboxes"))}");
        return 0;
    }
}
