using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace KataSharp.Runtime.Images.Registry;

/// <summary>A registry user name and password (or token).</summary>
public sealed record RegistryCredential(string Username, string Password)
{
    public override string ToString() => $"{Username}:***";
}

/// <summary>
/// Credentials from docker's config file: <c>$DOCKER_CONFIG/config.json</c>, else <c>~/.docker/config.json</c>,
/// its <c>auths</c> map keyed by registry (a base64 <c>auth</c> of user:password, or <c>username</c> and
/// <c>password</c>). Credential helpers (<c>credsStore</c>, <c>credHelpers</c>) are not run: they are programs
/// of the user's desktop session, not of a root-run runtime.
/// </summary>
public sealed class DockerCredentials
{
    private const long MaxConfigBytes = 1024 * 1024;
    private readonly Dictionary<string, RegistryCredential> _byHost;

    private DockerCredentials(Dictionary<string, RegistryCredential> byHost) => _byHost = byHost;

    public static DockerCredentials None { get; } = new([]);

    /// <summary>The path docker itself reads.</summary>
    public static string DefaultPath() =>
        Environment.GetEnvironmentVariable("DOCKER_CONFIG") is { Length: > 0 } dir
            ? Path.Combine(dir, "config.json")
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".docker", "config.json");

    /// <summary>Reads <paramref name="path"/> (default: <see cref="DefaultPath"/>); a missing file means no credentials.</summary>
    /// <exception cref="ImageException">The file exists but is not a docker config.</exception>
    public static DockerCredentials Load(string? path = null)
    {
        path ??= DefaultPath();
        if (!File.Exists(path))
        {
            return None;
        }

        if (new FileInfo(path).Length > MaxConfigBytes)
        {
            throw new ImageException($"{path} is too large for a docker config");
        }

        JsonObject? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllBytes(path)) as JsonObject;
        }
        catch (JsonException e)
        {
            throw new ImageException($"{path} is not valid JSON: {e.Message}", e);
        }

        var byHost = new Dictionary<string, RegistryCredential>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in root?["auths"] as JsonObject ?? [])
        {
            if (value is JsonObject entry && Credential(entry, key, path) is { } credential)
            {
                byHost.TryAdd(NormaliseHost(key), credential);
            }
        }

        return new DockerCredentials(byHost);
    }

    /// <summary>The credential for a registry as <see cref="ImageReference.Registry"/> names it, or null.</summary>
    public RegistryCredential? For(string registry) => _byHost.GetValueOrDefault(NormaliseHost(registry));

    private static RegistryCredential? Credential(JsonObject entry, string key, string path)
    {
        if (entry["auth"]?.GetValue<string>() is { Length: > 0 } auth)
        {
            string decoded;
            try
            {
                decoded = Encoding.UTF8.GetString(Convert.FromBase64String(auth));
            }
            catch (FormatException e)
            {
                throw new ImageException($"{path}: the auth of {key} is not base64", e);
            }

            var colon = decoded.IndexOf(':', StringComparison.Ordinal);
            return colon > 0
                ? new RegistryCredential(decoded[..colon], decoded[(colon + 1)..])
                : throw new ImageException($"{path}: the auth of {key} is not base64 of user:password");
        }

        return entry["username"]?.GetValue<string>() is { Length: > 0 } user && entry["password"]?.GetValue<string>() is { } password
            ? new RegistryCredential(user, password)
            : null;
    }

    /// <summary>"https://index.docker.io/v1/" and "docker.io" name the same registry; a key may carry a scheme and a path.</summary>
    private static string NormaliseHost(string key)
    {
        var host = key;
        var scheme = host.IndexOf("://", StringComparison.Ordinal);
        if (scheme >= 0)
        {
            host = host[(scheme + 3)..];
        }

        var slash = host.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            host = host[..slash];
        }

        return host is "index.docker.io" or "registry-1.docker.io" or "registry.hub.docker.com" ? ImageReference.DockerHub : host;
    }
}
