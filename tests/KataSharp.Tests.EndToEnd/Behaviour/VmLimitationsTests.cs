using System.Text.RegularExpressions;

namespace KataSharp.Tests.EndToEnd.Behaviour;

/// <summary>The catalog is well formed and the README's "Differences from runc" is exactly <see cref="VmLimitations"/>.</summary>
public sealed partial class VmLimitationsTests
{
    [Fact]
    public void CheckNames_AreUniqueAndKebabCase()
    {
        Assert.All(BehaviourCatalog.All, c => Assert.True(c.HasValidName, $"{c.Name} is not area/kebab-case"));
        Assert.Equal(BehaviourCatalog.All.Count, BehaviourCatalog.All.Select(c => c.Name).Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void EveryLimitation_IsACheckOfTheCatalog()
    {
        var names = BehaviourCatalog.All.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        Assert.All(VmLimitations.All.Keys, name => Assert.Contains(name, names));
    }

    [Fact]
    public void ReadmeDifferencesFromRunc_ListsExactlyTheVmLimitations()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        var section = Regex.Match(readme, @"^## Differences from runc\n(?<body>.*?)(?=^## |\z)", RegexOptions.Multiline | RegexOptions.Singleline);
        Assert.True(section.Success, "README.md has no '## Differences from runc' section");
        var listed = ListedCheck().Matches(section.Groups["body"].Value).Select(m => m.Groups[1].Value).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(VmLimitations.All.Keys.Order(StringComparer.Ordinal).ToList(), listed);
    }

    /// <summary>A table row that starts with a check name in backquotes: | `security/host-pid` | why |.</summary>
    [GeneratedRegex(@"^\|\s*`([a-z0-9-]+/[a-z0-9-]+)`", RegexOptions.Multiline)]
    private static partial Regex ListedCheck();

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KataSharp.sln")) && File.Exists(Path.Combine(dir.FullName, "README.md")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"no KataSharp.sln above {AppContext.BaseDirectory}");
    }
}
