namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>The seed corpus kept in the repository (tests/fuzz/corpus/&lt;target&gt;/), copied next to the test assembly.</summary>
internal static class Corpus
{
    public static IReadOnlyList<byte[]> Load(string target)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "corpus", target);
        Assert.True(Directory.Exists(dir), $"the seed corpus {dir} is missing (tests/fuzz/corpus/{target} in the repository)");
        var entries = Directory.GetFiles(dir).Order(StringComparer.Ordinal).Select(File.ReadAllBytes).ToList();
        Assert.NotEmpty(entries);
        return entries;
    }
}
