using System.Diagnostics;
using System.Formats.Tar;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace KataSharp.Tests.Integration.Infrastructure;

/// <summary>
/// Debian's docker-registry (the CNCF distribution registry) on 127.0.0.1 with a free port and a private storage
/// directory, for as long as the test holds it; disposing stops it and removes its storage. <see cref="PushArchiveAsync"/>
/// pushes an OCI archive through the registry API (blob uploads, manifest PUT), as skopeo copy would.
/// </summary>
public sealed class LocalRegistry : IAsyncDisposable
{
    public const string Program = "/usr/bin/docker-registry";

    private readonly Process _process;
    private readonly string _directory;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Shared with the benchmarks (linked there), so it asserts nothing and logs through a callback.</summary>
    private LocalRegistry(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Host = $"127.0.0.1:{port}";
    }

    /// <summary>host:port, as image references name it.</summary>
    public string Host { get; }

    /// <param name="directory">An empty scratch directory for config and storage; removed on dispose.</param>
    public static async Task<LocalRegistry> StartAsync(string directory, Action<string> log)
    {
        var port = FreePort();
        var config = Path.Combine(directory, "config.yml");
        await File.WriteAllTextAsync(config, $"""
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: {Path.Combine(directory, "storage")}
            http:
              addr: 127.0.0.1:{port}
            """);
        var start = new ProcessStartInfo(Program, ["serve", config]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {Program}");
        process.OutputDataReceived += (_, e) => log($"registry: {e.Data}");
        process.ErrorDataReceived += (_, e) => log($"registry: {e.Data}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var registry = new LocalRegistry(process, directory, port);
        try
        {
            await registry.WaitReadyAsync();
            return registry;
        }
        catch
        {
            await registry.DisposeAsync();
            throw;
        }
    }

    /// <summary>Pushes the image of an OCI archive (its linux/amd64 manifest) as <paramref name="repository"/>:<paramref name="tag"/>; returns the manifest digest.</summary>
    public async Task<string> PushArchiveAsync(string archive, string repository, string tag)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        await using (var stream = File.OpenRead(archive))
        {
            using var reader = new TarReader(stream);
            while (await reader.GetNextEntryAsync() is { } entry)
            {
                if (entry.DataStream is { } data)
                {
                    using var buffer = new MemoryStream();
                    await data.CopyToAsync(buffer);
                    files[entry.Name.TrimStart('.', '/')] = buffer.ToArray();
                }
            }
        }

        byte[] Blob(string digest) => files[$"blobs/sha256/{digest["sha256:".Length..]}"];
        var index = JsonNode.Parse(files["index.json"])!;
        var descriptor = index["manifests"]!.AsArray().First(m => m?["platform"]?["architecture"]?.GetValue<string>() is null or "amd64")!;
        var manifestDigest = descriptor["digest"]!.GetValue<string>();
        var manifestBytes = Blob(manifestDigest);
        var manifest = JsonNode.Parse(manifestBytes)!;
        var blobs = manifest["layers"]!.AsArray().Select(l => l!["digest"]!.GetValue<string>()).Prepend(manifest["config"]!["digest"]!.GetValue<string>());
        foreach (var digest in blobs)
        {
            using var started = await _http.PostAsync(new Uri($"http://{Host}/v2/{repository}/blobs/uploads/"), null);
            Require(started.StatusCode == HttpStatusCode.Accepted, $"blob upload start: {(int)started.StatusCode}");
            var location = new Uri(new Uri($"http://{Host}/"), started.Headers.Location!);
            var put = new UriBuilder(location) { Query = (location.Query.Length > 1 ? location.Query[1..] + "&" : "") + "digest=" + Uri.EscapeDataString(digest) }.Uri;
            using var content = new ByteArrayContent(Blob(digest));
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            using var uploaded = await _http.PutAsync(put, content);
            Require(uploaded.StatusCode == HttpStatusCode.Created, $"blob upload of {digest}: {(int)uploaded.StatusCode} {await uploaded.Content.ReadAsStringAsync()}");
        }

        using var manifestContent = new ByteArrayContent(manifestBytes);
        manifestContent.Headers.ContentType = new MediaTypeHeaderValue(manifest["mediaType"]?.GetValue<string>() ?? "application/vnd.oci.image.manifest.v1+json");
        using var pushed = await _http.PutAsync(new Uri($"http://{Host}/v2/{repository}/manifests/{tag}"), manifestContent);
        Require(pushed.StatusCode == HttpStatusCode.Created, $"manifest push: {(int)pushed.StatusCode} {await pushed.Content.ReadAsStringAsync()}");
        Require(manifestDigest == "sha256:" + Convert.ToHexStringLower(SHA256.HashData(manifestBytes)), "the archive's manifest does not match its digest");
        return manifestDigest;
    }

    private static void Require(bool condition, string failure)
    {
        if (!condition)
        {
            throw new InvalidOperationException(failure);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task WaitReadyAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Program} exited with {_process.ExitCode} (see the test log)");
            }

            try
            {
                using var response = await _http.GetAsync(new Uri($"http://{Host}/v2/"), timeout.Token);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(50, timeout.Token);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
