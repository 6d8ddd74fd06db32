using System.Text;
using System.Text.Json.Nodes;
using CsCheck;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>
/// Structure-aware mutations of JSON documents (OCI specs): values anywhere in the tree, at the keys a spec
/// has, become hostile ones: CRI's huge env and long names, traversal in mount paths, NUL bytes, negative sizes,
/// wrong types, deep nesting.
/// </summary>
internal static class JsonMutator
{
    private static readonly string[] SpecKeys =
    [
        "ociVersion", "process", "args", "env", "cwd", "user", "uid", "gid", "umask", "additionalGids", "terminal", "consoleSize", "rlimits",
        "capabilities", "root", "path", "readonly", "mounts", "destination", "source", "type", "options", "linux", "namespaces",
        "resources", "memory", "limit", "swap", "cpu", "shares", "quota", "pids", "cgroupsPath", "sysctl", "annotations", "hooks",
        "hostname", "seccomp", "devices", "maskedPaths", "readonlyPaths", "mountLabel", "apparmorProfile", "selinuxLabel",
        "ioPriority", "scheduler", "execCPUAffinity", "intelRdt", "timeOffsets", "io.kubernetes.cri.container-type",
        "io.kubernetes.cri.sandbox-id", "io.containerd.runc.v2.group", "net.ipv4.ip_forward", "unified",
    ];

    public static Gen<byte[]> Mutations(IReadOnlyList<byte[]> corpus) =>
        Gen.Select(Gen.Int[0, corpus.Count - 1], Gen.UInt.Array[0, 300], (pick, values) => Mutate(corpus[pick], new Choices(values)));

    private static byte[] Mutate(byte[] document, Choices choices)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(document);
        }
        catch (System.Text.Json.JsonException)
        {
            return document;
        }

        if (root is null)
        {
            return document;
        }

        for (var edits = 1 + choices.Next() % 6; edits > 0; edits--)
        {
            Edit(root, choices);
        }

        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    private static void Edit(JsonNode root, Choices choices)
    {
        var node = root;
        // Walk down a random path, then replace or add one value there.
        for (var depth = 0; depth < 8 && !choices.Chance(4); depth++)
        {
            var next = node switch
            {
                JsonObject o when o.Count > 0 => o.ElementAt((int)(choices.Next() % o.Count)).Value,
                JsonArray a when a.Count > 0 => a[(int)(choices.Next() % a.Count)],
                _ => null,
            };
            if (next is not (JsonObject or JsonArray))
            {
                break;
            }

            node = next;
        }

        switch (node)
        {
            case JsonObject o:
                o[choices.Chance(2) && o.Count > 0 ? o.ElementAt((int)(choices.Next() % o.Count)).Key : SpecKeys[choices.Next() % SpecKeys.Length]] = Value(choices, 0);
                break;
            case JsonArray a when a.Count > 0 && choices.Chance(2):
                a[(int)(choices.Next() % a.Count)] = Value(choices, 0);
                break;
            case JsonArray a:
                a.Add(Value(choices, 0));
                break;
        }
    }

    private static JsonNode? Value(Choices choices, int depth) => (choices.Next() % 12) switch
    {
        0 => null,
        1 => JsonValue.Create(choices.Chance(2)),
        2 => JsonValue.Create(HostileValues.Integer(choices)),
        3 => JsonValue.Create(choices.Chance(2) ? 1e308 : -0.5),
        4 when depth < 4 => new JsonObject { [SpecKeys[choices.Next() % SpecKeys.Length]] = Value(choices, depth + 1), ["type"] = Value(choices, depth + 1) },
        5 when depth < 4 => new JsonArray(Value(choices, depth + 1), Value(choices, depth + 1)),
        // CRI's huge env: many entries, not one long one.
        6 => new JsonArray(Enumerable.Range(0, (int)(choices.Next() % 5000)).Select(i => (JsonNode?)JsonValue.Create($"VAR{i}=value{i}")).ToArray()),
        7 => new JsonObject { ["destination"] = HostileValues.String(choices), ["type"] = "bind", ["source"] = HostileValues.String(choices), ["options"] = new JsonArray("rbind", HostileValues.String(choices)) },
        8 => Nested((int)(choices.Next() % 200)),
        _ => JsonValue.Create(HostileValues.String(choices)),
    };

    private static JsonNode Nested(int depth)
    {
        JsonNode node = new JsonArray();
        for (var i = 0; i < depth; i++)
        {
            node = new JsonArray(node);
        }

        return node;
    }
}
