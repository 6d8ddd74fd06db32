using System.Net;
using System.Text;
using KataSharp.Cli.Install;

namespace KataSharp.Tests.Unit.Install;

public sealed class KubernetesNodesTests
{
    private sealed class RecordingHandler(HttpStatusCode status, string body) : HttpMessageHandler
    {
        public List<(HttpMethod Method, string Uri, string? ContentType, string Body, string? Authorization)> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Requests.Add((request.Method, request.RequestUri!.AbsoluteUri, request.Content?.Headers.ContentType?.MediaType,
                request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken), request.Headers.Authorization?.ToString()));
            return new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        }
    }

    private static (KubernetesNodes Nodes, RecordingHandler Handler) Client(HttpStatusCode status = HttpStatusCode.OK, string body = "{}")
    {
        var handler = new RecordingHandler(status, body);
        var http = new HttpClient(handler) { BaseAddress = new Uri("https://10.96.0.1:443/") };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "t0ken");
        return (new KubernetesNodes(http), handler);
    }

    [Fact]
    public async Task Labelling_IsAMergePatchOfTheNode()
    {
        var (nodes, handler) = Client();
        await nodes.SetLabelAsync("worker-1", KubernetesNodes.RuntimeLabel, "true", CancellationToken.None);
        var request = Assert.Single(handler.Requests);
        Assert.Equal(HttpMethod.Patch, request.Method);
        Assert.Equal("https://10.96.0.1/api/v1/nodes/worker-1", request.Uri);
        Assert.Equal("application/merge-patch+json", request.ContentType);
        Assert.Equal("""{"metadata":{"labels":{"katasharp.io/runtime":"true"}}}""", request.Body);
        Assert.Equal("Bearer t0ken", request.Authorization);
    }

    [Fact]
    public async Task Unlabelling_PatchesTheLabelToNull()
    {
        var (nodes, handler) = Client();
        await nodes.SetLabelAsync("worker-1", KubernetesNodes.RuntimeLabel, null, CancellationToken.None);
        Assert.Equal("""{"metadata":{"labels":{"katasharp.io/runtime":null}}}""", Assert.Single(handler.Requests).Body);
    }

    [Fact]
    public async Task ARefusal_IsAnInstallErrorNamingTheStatus()
    {
        var (nodes, _) = Client(HttpStatusCode.Forbidden, """{"message":"nodes \"worker-1\" is forbidden"}""");
        var error = await Assert.ThrowsAsync<InstallException>(() => nodes.SetLabelAsync("worker-1", "k", "v", CancellationToken.None));
        Assert.Contains("403", error.Message);
        Assert.Contains("forbidden", error.Message);
    }

    [Fact]
    public async Task TheNodesContainerRuntimeVersion_IsReadFromItsStatus()
    {
        var (nodes, handler) = Client(body: """{"status":{"nodeInfo":{"containerRuntimeVersion":"containerd://2.1.9"}}}""");
        Assert.Equal("containerd://2.1.9", await nodes.ContainerRuntimeVersionAsync("a b", CancellationToken.None));
        Assert.Equal("https://10.96.0.1/api/v1/nodes/a%20b", Assert.Single(handler.Requests).Uri);
    }

    [Fact]
    public void OutsideACluster_ThereIsNoClient()
    {
        Assert.Null(KubernetesNodes.InCluster(_ => null));
        Assert.Null(KubernetesNodes.InCluster(v => v == "KUBERNETES_SERVICE_HOST" ? "10.96.0.1" : "443", "/nonexistent"));
    }
}
