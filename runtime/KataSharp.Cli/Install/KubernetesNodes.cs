using System.Net.Http.Headers;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace KataSharp.Cli.Install;

/// <summary>
/// The two node calls install needs, against the API server a pod reaches with its service-account
/// token (the DaemonSet's ClusterRole grants get and patch on nodes): read the node's container
/// runtime version, and set or remove a label with a JSON merge patch.
/// </summary>
internal sealed class KubernetesNodes : IDisposable
{
    public const string ServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount";

    /// <summary>The label the RuntimeClass's scheduling.nodeSelector asks for (deploy/runtimeclass.yaml).</summary>
    public const string RuntimeLabel = "katasharp.io/runtime";

    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);
    private readonly HttpClient _http;

    public KubernetesNodes(HttpClient http) => _http = http;

    /// <summary>The API server of the cluster this process runs in, or null outside one.</summary>
    public static KubernetesNodes? InCluster(Func<string, string?> environment, string serviceAccountDirectory = ServiceAccountDirectory)
    {
        var host = environment("KUBERNETES_SERVICE_HOST");
        var port = environment("KUBERNETES_SERVICE_PORT");
        var tokenFile = Path.Combine(serviceAccountDirectory, "token");
        if (string.IsNullOrEmpty(host) || string.IsNullOrEmpty(port) || !File.Exists(tokenFile))
        {
            return null;
        }

        var caFile = Path.Combine(serviceAccountDirectory, "ca.crt");
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10) };
        if (File.Exists(caFile))
        {
            var trust = new X509Certificate2Collection();
            trust.ImportFromPemFile(caFile);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if (certificate is null)
                {
                    return false;
                }

                // The cluster CA alone anchors the chain; the host name must still match.
                if ((errors & ~System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors) != 0)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(trust);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                return chain.Build(new X509Certificate2(certificate));
            };
        }

        var address = host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host;
        var http = new HttpClient(handler) { BaseAddress = new Uri($"https://{address}:{port}/"), Timeout = RequestTimeout };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", File.ReadAllText(tokenFile).Trim());
        return new KubernetesNodes(http);
    }

    /// <summary>status.nodeInfo.containerRuntimeVersion, such as <c>containerd://1.6.20</c>.</summary>
    public async Task<string?> ContainerRuntimeVersionAsync(string node, CancellationToken cancellationToken)
    {
        using var response = await _http.GetAsync(NodePath(node), cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, $"reading node {node}", cancellationToken).ConfigureAwait(false);
        using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false), cancellationToken: cancellationToken).ConfigureAwait(false);
        return json.RootElement.TryGetProperty("status", out var status) && status.TryGetProperty("nodeInfo", out var info)
            && info.TryGetProperty("containerRuntimeVersion", out var version) ? version.GetString() : null;
    }

    /// <summary>Sets the label to <paramref name="value"/>, or removes it when null (a merge patch's null deletes a key).</summary>
    public async Task SetLabelAsync(string node, string label, string? value, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Patch, NodePath(node))
        {
            Content = new ByteArrayContent(LabelPatch(label, value)),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/merge-patch+json");
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, $"labelling node {node}", cancellationToken).ConfigureAwait(false);
    }

    internal static byte[] LabelPatch(string label, string? value)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteStartObject("metadata");
            writer.WriteStartObject("labels");
            if (value is null)
            {
                writer.WriteNull(label);
            }
            else
            {
                writer.WriteString(label, value);
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private static string NodePath(string node) => "api/v1/nodes/" + Uri.EscapeDataString(node);

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        throw new InstallException($"{what}: the API server answered {(int)response.StatusCode} {response.ReasonPhrase}: {(body.Length > 500 ? body[..500] : body)}");
    }

    public void Dispose() => _http.Dispose();
}
