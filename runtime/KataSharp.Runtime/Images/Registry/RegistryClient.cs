using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Images.Registry;

/// <summary>Timeouts and trust of a <see cref="RegistryClient"/>.</summary>
public sealed record RegistryClientOptions
{
    /// <summary>For a manifest, a token, or a blob's response headers.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Registries reached over plain http besides loopback ones (<c>--insecure-registry</c>).</summary>
    public IReadOnlyCollection<string> InsecureRegistries { get; init; } = [];
}

/// <summary>A manifest or index as the registry served it, checked against its digest.</summary>
public sealed record RegistryManifest(byte[] Content, string MediaType, ContentDigest Digest);

/// <summary>
/// The pull side of the OCI distribution API over <see cref="HttpClient"/>: manifests (OCI and Docker schema 2,
/// single and multi-platform) and blobs, with the Bearer token flow a 401's <c>WWW-Authenticate</c> asks for
/// (anonymous, or with the docker config's credentials) and Basic auth. Plain http only for loopback and the
/// registries named insecure. Every request has a timeout; blob bodies are bounded by their reader.
/// </summary>
public sealed partial class RegistryClient : IDisposable
{
    private const int MaxManifestBytes = 4 * 1024 * 1024;
    private const int MaxTokenBytes = 1024 * 1024;

    private static readonly string[] ManifestTypes =
    [
        OciMediaTypes.Index, OciMediaTypes.Manifest, OciMediaTypes.DockerManifestList, OciMediaTypes.DockerManifest,
    ];

    private readonly HttpClient _http;
    private readonly DockerCredentials _credentials;
    private readonly RegistryClientOptions _options;
    private readonly ILogger _logger;

    /// <summary>Authorization header values by registry and scope, so a pull asks for a token once.</summary>
    private readonly Dictionary<string, AuthenticationHeaderValue> _authorizations = new(StringComparer.Ordinal);

    public RegistryClient(HttpMessageHandler handler, DockerCredentials credentials, RegistryClientOptions options, ILogger logger)
    {
        // Per-request timeouts instead: a blob download may rightly take longer than any fixed limit.
        _http = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("katasharp");
        _credentials = credentials;
        _options = options;
        _logger = logger;
    }

    /// <summary>A client over a handler that follows redirects (blob storage) and never sends credentials along them.</summary>
    public static RegistryClient Create(DockerCredentials credentials, RegistryClientOptions options, ILogger logger) =>
        new(new SocketsHttpHandler { AllowAutoRedirect = true, MaxAutomaticRedirections = 10, ConnectTimeout = options.RequestTimeout, AutomaticDecompression = DecompressionMethods.None }, credentials, options, logger);

    /// <summary>GETs a manifest or index by tag or digest and checks it against the digest it was asked by (or the registry's Docker-Content-Digest).</summary>
    /// <exception cref="ImageException">Not found, refused, unreachable, or not matching its digest.</exception>
    public async Task<RegistryManifest> GetManifestAsync(ImageReference image, string reference, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        using var response = await SendAsync(image, $"manifests/{reference}", accept: ManifestTypes, timeout.Token, cancellationToken).ConfigureAwait(false);
        var content = await ReadBoundedAsync(response.Content, MaxManifestBytes, $"manifest {image.Repository}:{reference}", timeout.Token).ConfigureAwait(false);
        var digest = ContentDigest.Of(content);
        if (reference.StartsWith("sha256:", StringComparison.Ordinal) && reference != digest.ToString())
        {
            throw new ImageException($"{image}: the registry's manifest {reference} has digest {digest}: refused");
        }

        if (response.Headers.TryGetValues("Docker-Content-Digest", out var claimed) && claimed.FirstOrDefault() is { } header
            && header.StartsWith("sha256:", StringComparison.Ordinal) && header != digest.ToString())
        {
            throw new ImageException($"{image}: the manifest's digest is {digest}, the registry says {header}: refused");
        }

        var mediaType = response.Content.Headers.ContentType?.MediaType ?? "";
        if (!OciMediaTypes.IsIndex(mediaType) && !OciMediaTypes.IsManifest(mediaType))
        {
            // Some registries serve application/json; the document's own mediaType then tells.
            mediaType = SniffMediaType(content) ?? throw new ImageException($"{image}: the registry served {mediaType}, not an OCI or Docker schema 2 manifest");
        }

        return new RegistryManifest(content, mediaType, digest);
    }

    /// <summary>Opens a blob's body; the caller reads (and verifies) it and disposes the stream, which ends the response.</summary>
    public async Task<Stream> OpenBlobAsync(ImageReference image, ContentDigest digest, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.RequestTimeout);
        var response = await SendAsync(image, $"blobs/{digest}", accept: [], timeout.Token, cancellationToken).ConfigureAwait(false);
        try
        {
            return new ResponseStream(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), response);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public void Dispose() => _http.Dispose();

    /// <summary>The base URL of a registry's API: https, or http for loopback and the registries named insecure.</summary>
    internal Uri BaseUri(ImageReference image)
    {
        var host = image.ApiHost;
        var name = host.StartsWith('[') ? host[..(host.IndexOf(']', StringComparison.Ordinal) + 1)] : host.Split(':')[0];
        var plain = name is "localhost" or "127.0.0.1" or "[::1]" || _options.InsecureRegistries.Contains(host, StringComparer.OrdinalIgnoreCase);
        return new Uri($"{(plain ? "http" : "https")}://{host}/v2/");
    }

    private async Task<HttpResponseMessage> SendAsync(ImageReference image, string path, string[] accept, CancellationToken timeout, CancellationToken caller)
    {
        var uri = new Uri(BaseUri(image), $"{image.Repository}/{path}");
        var scope = $"repository:{image.Repository}:pull";
        var key = $"{image.ApiHost} {scope}";
        try
        {
            var response = await SendOnceAsync(uri, accept, _authorizations.GetValueOrDefault(key), timeout).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.Unauthorized && AuthChallenge.Parse(response.Headers.WwwAuthenticate.ToString()) is { } challenge)
            {
                response.Dispose();
                var authorization = await AuthorizeAsync(image, challenge, scope, timeout).ConfigureAwait(false);
                _authorizations[key] = authorization;
                response = await SendOnceAsync(uri, accept, authorization, timeout).ConfigureAwait(false);
            }

            if (!response.IsSuccessStatusCode)
            {
                using (response)
                {
                    throw new ImageException(await DescribeFailureAsync(image, path, response, timeout).ConfigureAwait(false));
                }
            }

            return response;
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested && !caller.IsCancellationRequested)
        {
            throw new ImageException($"{image}: {uri} did not answer within {_options.RequestTimeout.TotalSeconds} s", e);
        }
        catch (HttpRequestException e)
        {
            throw new ImageException($"{image}: cannot reach {uri.GetLeftPart(UriPartial.Authority)}: {e.Message}", e);
        }
    }

    private async Task<HttpResponseMessage> SendOnceAsync(Uri uri, string[] accept, AuthenticationHeaderValue? authorization, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        foreach (var type in accept)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(type));
        }

        request.Headers.Authorization = authorization;
        LogRequest(_logger, uri);
        return await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Answers a challenge: Basic with the configured credential, Bearer with a token from the challenge's realm.</summary>
    private async Task<AuthenticationHeaderValue> AuthorizeAsync(ImageReference image, AuthChallenge challenge, string scope, CancellationToken cancellationToken)
    {
        var credential = _credentials.For(image.Registry);
        if (challenge.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase))
        {
            return credential is null
                ? throw new ImageException($"{image}: the registry wants a user name and password; add them with docker login (to {DockerCredentials.DefaultPath()})")
                : Basic(credential);
        }

        if (!challenge.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase) || challenge.Parameter("realm") is not { } realm
            || !Uri.TryCreate(realm, UriKind.Absolute, out var realmUri) || realmUri.Scheme is not ("https" or "http"))
        {
            throw new ImageException($"{image}: the registry asks for {challenge.Scheme} authentication, which is not supported");
        }

        var query = new StringBuilder(realmUri.Query.Length > 1 ? realmUri.Query[1..] + "&" : "");
        if (challenge.Parameter("service") is { } service)
        {
            query.Append("service=").Append(Uri.EscapeDataString(service)).Append('&');
        }

        query.Append("scope=").Append(Uri.EscapeDataString(challenge.Parameter("scope") ?? scope));
        var tokenUri = new UriBuilder(realmUri) { Query = query.ToString() }.Uri;
        using var response = await SendOnceAsync(tokenUri, [], credential is null ? null : Basic(credential), cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new ImageException($"{image}: the token service {realmUri.GetLeftPart(UriPartial.Path)} refused {(credential is null ? "an anonymous pull" : $"the credential of {credential.Username}")} ({(int)response.StatusCode} {response.ReasonPhrase})");
        }

        var body = await ReadBoundedAsync(response.Content, MaxTokenBytes, "the token response", cancellationToken).ConfigureAwait(false);
        try
        {
            var json = JsonNode.Parse(body) as JsonObject;
            var token = json?["token"]?.GetValue<string>() ?? json?["access_token"]?.GetValue<string>();
            return token is { Length: > 0 } ? new AuthenticationHeaderValue("Bearer", token) : throw new ImageException($"{image}: the token service answered without a token");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new ImageException($"{image}: the token service's answer is not a token: {e.Message}", e);
        }
    }

    private static AuthenticationHeaderValue Basic(RegistryCredential credential) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{credential.Username}:{credential.Password}")));

    private static async Task<string> DescribeFailureAsync(ImageReference image, string path, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var what = path.StartsWith("manifests/", StringComparison.Ordinal) ? $"manifest {path["manifests/".Length..]}" : $"blob {path["blobs/".Length..]}";
        string detail;
        try
        {
            detail = Encoding.UTF8.GetString(await ReadBoundedAsync(response.Content, 4096, what, cancellationToken).ConfigureAwait(false)).Trim();
        }
        catch (ImageException)
        {
            detail = "";
        }

        var reason = response.StatusCode switch
        {
            HttpStatusCode.NotFound => "not found",
            HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden => "access denied (is the name right, and are credentials needed? see docker login)",
            HttpStatusCode.TooManyRequests => "rate-limited by the registry",
            _ => $"failed ({(int)response.StatusCode} {response.ReasonPhrase})",
        };
        return $"{image}: {what}: {reason}{(detail.Length > 0 ? $": {detail[..Math.Min(detail.Length, 300)]}" : "")}";
    }

    private static async Task<byte[]> ReadBoundedAsync(HttpContent content, int limit, string what, CancellationToken cancellationToken)
    {
        if (content.Headers.ContentLength > limit)
        {
            throw new ImageException($"{what} is larger than {limit} bytes");
        }

        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = await stream.ReadAsync(chunk, cancellationToken).ConfigureAwait(false)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > limit)
            {
                throw new ImageException($"{what} is larger than {limit} bytes");
            }
        }

        return buffer.ToArray();
    }

    private static string? SniffMediaType(byte[] content)
    {
        try
        {
            var json = JsonNode.Parse(content) as JsonObject;
            return json?["mediaType"]?.GetValue<string>() is { } type && (OciMediaTypes.IsIndex(type) || OciMediaTypes.IsManifest(type)) ? type
                : json?["manifests"] is JsonArray ? OciMediaTypes.Index
                : json?["layers"] is JsonArray ? OciMediaTypes.Manifest
                : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>A response body that ends its response when disposed.</summary>
    private sealed class ResponseStream(Stream inner, HttpResponseMessage response) : ReadOnlyStreamView(inner, leaveOpen: false)
    {
        public override long Length => response.Content.Headers.ContentLength ?? throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            base.Dispose(disposing);
            if (disposing)
            {
                response.Dispose();
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "GET {Uri}")]
    private static partial void LogRequest(ILogger logger, Uri uri);
}
