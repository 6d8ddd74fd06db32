using KataSharp.Native;

namespace KataSharp.Tests.Unit.Native;

/// <summary>A fact that needs root (mounts, namespaces) and the host executables it names; elsewhere it is reported as skipped, with the reason.</summary>
public sealed class RootFactAttribute : FactAttribute
{
    public RootFactAttribute(params string[] executables)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            Skip = "needs root (mounts, network namespaces)";
        }
        else if (executables.FirstOrDefault(e => !File.Exists(e)) is { } missing)
        {
            Skip = $"needs {missing}, which this host does not have";
        }
    }
}

/// <summary>
/// A directory outside the tree under test, with one file whose content must never change, and a
/// thread that keeps swapping a directory of the tree for a symlink to it: the attack every safe path
/// primitive must survive.
/// </summary>
internal sealed class SymlinkSwapper : IDisposable
{
    private readonly string _victim;
    private readonly string _canary;
    private readonly Thread _thread;
    private volatile bool _stop;
    private int _swaps;

    public SymlinkSwapper(string victim, string canary)
    {
        _victim = victim;
        _canary = canary;
        _thread = new Thread(Run) { IsBackground = true, Name = "symlink-swapper" };
        _thread.Start();
    }

    public int Swaps => Volatile.Read(ref _swaps);

    /// <summary>Stops swapping and leaves the real directory back in place (if it still exists).</summary>
    public void Dispose()
    {
        _stop = true;
        _thread.Join();
        Restore();
    }

    private void Run()
    {
        while (!_stop)
        {
            try
            {
                Directory.Move(_victim, _victim + ".real");
                File.CreateSymbolicLink(_victim, _canary);
                Thread.Yield();
            }
            catch (IOException)
            {
                // The code under test removed or replaced something meanwhile.
            }

            Restore();
            Interlocked.Increment(ref _swaps);
        }
    }

    private void Restore()
    {
        try
        {
            if (new FileInfo(_victim).LinkTarget is not null)
            {
                File.Delete(_victim);
            }

            if (Directory.Exists(_victim + ".real"))
            {
                Directory.Move(_victim + ".real", _victim);
            }
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>A scratch directory holding a root (the guest-writable tree) and a canary outside it.</summary>
internal sealed class ScratchTree : IDisposable
{
    public const string CanaryContent = "canary";

    public ScratchTree()
    {
        Base = Directory.CreateTempSubdirectory("ks-native-").FullName;
        Root = Directory.CreateDirectory(Path.Combine(Base, "root")).FullName;
        Canary = Directory.CreateDirectory(Path.Combine(Base, "canary")).FullName;
        File.WriteAllText(Path.Combine(Canary, "f"), CanaryContent);
        Directory.CreateDirectory(Path.Combine(Canary, "sub"));
        File.WriteAllText(Path.Combine(Canary, "sub", "g"), CanaryContent);
    }

    public string Base { get; }

    public string Root { get; }

    public string Canary { get; }

    public void AssertCanaryIntact()
    {
        Assert.Equal(CanaryContent, File.ReadAllText(Path.Combine(Canary, "f")));
        Assert.Equal(CanaryContent, File.ReadAllText(Path.Combine(Canary, "sub", "g")));
        Assert.Equal(["f", "sub"], Directory.EnumerateFileSystemEntries(Canary).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    public void Dispose()
    {
        // Symlinks are deleted as links by Directory.Delete, never followed.
        Directory.Delete(Base, recursive: true);
    }

    public static string ReadAll(OwnedFd fd)
    {
        using var stream = KataSharp.Native.FdOps.Duplicate(fd.Value).ToFileStream(FileAccess.Read);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
