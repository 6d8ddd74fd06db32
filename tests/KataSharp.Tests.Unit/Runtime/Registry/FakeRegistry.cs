using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using KataSharp.Runtime.Images;
using KataSharp.Runtime.Images.Registry;
using Microsoft.Extensions.Logging.Abstractions;

namespace KataSharp.Tests.Unit.Runtime.Registry;

/// <summary>An in-process registry (a message handler) serving manifests and blobs, optionally behind a Bearer token service.</summary>
internal sealed class FakeRegistry : HttpMessageHandler
{
    public const string Host = "registry.test";
    public readonly Dictionary<string, (string MediaType, byte[] Content)> Manifests = new(StringComparer.Ordinal);
    public readonly Dictionary<string, byte[]> Blobs = new(StringComparer.Ordinal);
    public readonly ConcurrentDictionary<string, int> BlobRequests = new(StringComparer.Ordinal);

    /// <summary>When set, the registry wants this Bearer token, handed out by /token for the credential user:pass (or anyone, if null).</summary>
    public string? RequiredToken { get; set; }

    public RegistryCredential? TokenCredential { get; set; }

    /// <summary>Held before a blob is served, so concurrent pulls overlap.</summary>
    public TaskCompletionSource ServeBlobs { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public FakeRegistry() => ServeBlobs.SetResult();

    public FakeRegistry(bool holdBlobs)
    {
        if (!holdBlobs)
        {
            ServeBlobs.SetResult();
        }
    }

    public string AddBlob(byte[] content)
    {
        var digest = ContentDigest.Of(content).ToString();
        Blobs[digest] = content;
        return digest;
    }

    /// <summary>Adds a one-layer image (gzip) under repository "test/app" with <paramref name="tag"/>; returns the manifest digest.</summary>
    public string AddImage(string tag, byte[] layerTar, string os = "linux", string arch = "amd64")
    {
        using var gz = new MemoryStream();
        using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(layerTar);
        }

        var layer = gz.ToArray();
        var layerDigest = AddBlob(layer);
        var config = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["architecture"] = arch, ["os"] = os,
            ["config"] = new JsonObject { ["Cmd"] = new JsonArray("sh"), ["Env"] = new JsonArray("A=1") },
            ["rootfs"] = new JsonObject { ["type"] = "layers", ["diff_ids"] = new JsonArray(ContentDigest.Of(layerTar).ToString()) },
        }.ToJsonString());
        var configDigest = AddBlob(config);
        var manifest = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["schemaVersion"] = 2, ["mediaType"] = OciMediaTypes.Manifest,
            ["config"] = new JsonObject { ["mediaType"] = OciMediaTypes.Config, ["digest"] = configDigest, ["size"] = config.Length },
            ["layers"] = new JsonArray(new JsonObject { ["mediaType"] = OciMediaTypes.LayerGzip, ["digest"] = layerDigest, ["size"] = layer.Length }),
        }.ToJsonString());
        var digest = ContentDigest.Of(manifest).ToString();
        Manifests[digest] = (OciMediaTypes.Manifest, manifest);
        Manifests[tag] = (OciMediaTypes.Manifest, manifest);
        return digest;
    }

    public ImageReference Reference(string tag) => ImageReference.Parse($"{Host}/test/app:{tag}");

    public RegistryClient Client(DockerCredentials? credentials = null) =>
        new(this, credentials ?? DockerCredentials.None, new RegistryClientOptions(), NullLogger.Instance);

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var path = request.RequestUri!.AbsolutePath;
        if (path == "/token")
        {
            var expected = TokenCredential is null ? null : "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{TokenCredential.Username}:{TokenCredential.Password}"));
            if (expected is not null && request.Headers.Authorization?.ToString() != expected)
            {
                return new HttpResponseMessage(HttpStatusCode.Unauthorized);
            }

            return Json($$"""{"token":"{{RequiredToken}}"}""");
        }

        if (RequiredToken is not null && request.Headers.Authorization?.ToString() != "Bearer " + RequiredToken)
        {
            var denied = new HttpResponseMessage(HttpStatusCode.Unauthorized);
            denied.Headers.WwwAuthenticate.ParseAdd($"Bearer realm=\"https://{Host}/token\",service=\"{Host}\",scope=\"repository:test/app:pull\"");
            return denied;
        }

        const string prefix = "/v2/test/app/";
        if (path.StartsWith(prefix + "manifests/", StringComparison.Ordinal) && Manifests.TryGetValue(path[(prefix.Length + "manifests/".Length)..], out var manifest))
        {
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(manifest.Content) };
            response.Content.Headers.ContentType = new MediaTypeHeaderValue(manifest.MediaType);
            return response;
        }

        if (path.StartsWith(prefix + "blobs/", StringComparison.Ordinal) && Blobs.TryGetValue(path[(prefix.Length + "blobs/".Length)..], out var blob))
        {
            BlobRequests.AddOrUpdate(path[(prefix.Length + "blobs/".Length)..], 1, (_, n) => n + 1);
            await ServeBlobs.Task.WaitAsync(cancellationToken);
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(blob) };
        }

        return new HttpResponseMessage(HttpStatusCode.NotFound) { Content = new StringContent("""{"errors":[{"code":"MANIFEST_UNKNOWN"}]}""") };
    }

    private static HttpResponseMessage Json(string text) =>
        new(HttpStatusCode.OK) { Content = new StringContent(text, Encoding.UTF8, "application/json") };
}
