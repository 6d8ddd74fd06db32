namespace KataSharp.Shim.Lifecycle;

/// <summary>
/// The command line containerd gives a shim: Go <c>flag</c>-style options (<c>-f v</c>, <c>-f=v</c>,
/// <c>--f v</c>), then an action word: <c>start</c>, <c>delete</c>, or none for the daemon.
/// </summary>
internal sealed record ShimArguments
{
    public string Namespace { get; init; } = "default";

    public string Address { get; init; } = "/run/containerd/containerd.sock";

    public string PublishBinary { get; init; } = "containerd";

    public string Id { get; init; } = string.Empty;

    public string Bundle { get; init; } = string.Empty;

    public string Socket { get; init; } = string.Empty;

    public bool Debug { get; init; }

    public bool Version { get; init; }

    /// <summary>start, delete, or empty for the long-running daemon.</summary>
    public string Action { get; init; } = string.Empty;

    private static readonly HashSet<string> BooleanFlags = ["debug", "v", "version"];

    /// <exception cref="ArgumentException">An unknown flag, or a flag missing its value.</exception>
    public static ShimArguments Parse(IReadOnlyList<string> args)
    {
        var result = new ShimArguments();
        var i = 0;
        for (; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg == "--")
            {
                i++;
                break;
            }

            if (!arg.StartsWith('-') || arg == "-")
            {
                break;
            }

            var name = arg.TrimStart('-');
            string? value = null;
            var eq = name.IndexOf('=');
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }

            if (BooleanFlags.Contains(name))
            {
                var on = value is null || value is "true" or "1" or "t" or "T" or "TRUE" or "True";
                result = name == "debug" ? result with { Debug = on } : result with { Version = on };
                continue;
            }

            if (value is null)
            {
                if (i + 1 >= args.Count)
                {
                    throw new ArgumentException($"flag needs an argument: -{name}");
                }

                value = args[++i];
            }

            result = name switch
            {
                "namespace" => result with { Namespace = value },
                "address" => result with { Address = value },
                "publish-binary" => result with { PublishBinary = value },
                "id" => result with { Id = value },
                "bundle" => result with { Bundle = value },
                "socket" => result with { Socket = value },
                _ => throw new ArgumentException($"flag provided but not defined: -{name}"),
            };
        }

        if (i < args.Count)
        {
            result = result with { Action = args[i] };
        }

        return result;
    }
}
