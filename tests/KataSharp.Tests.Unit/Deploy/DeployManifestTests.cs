using KataSharp.Cli.Install;
using KataSharp.Tests.Unit.Runtime;
using YamlDotNet.RepresentationModel;

namespace KataSharp.Tests.Unit.Deploy;

/// <summary>The manifests in deploy/ (and configs/runtimeclass.yaml), parsed, with the fields that make the install work.</summary>
public sealed class DeployManifestTests
{
    private static readonly string Repo = ConfigLoaderTests.RepoRoot();

    private static List<YamlMappingNode> Documents(string relativePath)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(Repo, relativePath)))
        {
            stream.Load(reader);
        }

        return [.. stream.Documents.Select(d => (YamlMappingNode)d.RootNode)];
    }

    private static List<YamlMappingNode> All() => Directory.EnumerateFiles(Path.Combine(Repo, "deploy"), "*.yaml")
        .SelectMany(f => Documents(Path.GetRelativePath(Repo, f))).ToList();

    private static YamlMappingNode Kind(string kind) => Assert.Single(All(), d => Text(d, "kind") == kind);

    private static YamlNode Node(YamlNode node, params string[] path) =>
        path.Aggregate(node, (current, key) => ((YamlMappingNode)current).Children.TryGetValue(new YamlScalarNode(key), out var child)
            ? child
            : throw new KeyNotFoundException($"no '{key}' on the way to {string.Join('.', path)}"));

    private static string? Text(YamlNode node, params string[] path) => ((YamlScalarNode)Node(node, path)).Value;

    private static Dictionary<string, string?> Map(YamlNode node, params string[] path) =>
        ((YamlMappingNode)Node(node, path)).Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => ((YamlScalarNode)c.Value).Value);

    private static IEnumerable<YamlNode> Sequence(YamlNode node, params string[] path) => ((YamlSequenceNode)Node(node, path)).Children;

    private static YamlMappingNode Container() => (YamlMappingNode)Assert.Single(Sequence(Kind("DaemonSet"), "spec", "template", "spec", "containers"));

    [Fact]
    public void DeployHoldsTheInstallerItsIdentityAndTheRuntimeClass() =>
        Assert.Equal(["ClusterRole", "ClusterRoleBinding", "DaemonSet", "RuntimeClass", "ServiceAccount"], All().Select(d => Text(d, "kind")).Order(StringComparer.Ordinal));

    [Fact]
    public void TheRuntimeClass_SchedulesOnTheLabelTheInstallerSets_AndNamesTheContainerdHandler()
    {
        var runtimeClass = Kind("RuntimeClass");
        Assert.Equal("node.k8s.io/v1", Text(runtimeClass, "apiVersion"));
        Assert.Equal(new Dictionary<string, string?> { [KubernetesNodes.RuntimeLabel] = "true" }, Map(runtimeClass, "scheduling", "nodeSelector"));
        // The handler is the runtime's name in containerd's config: ...containerd.runtimes.katasharp.
        Assert.Equal("katasharp", Text(runtimeClass, "handler"));
        Assert.Contains($".containerd.runtimes.{Text(runtimeClass, "handler")}]", File.ReadAllText(Path.Combine(Repo, "configs", "containerd-katasharp.toml")));
        Assert.Contains($".containerd.runtimes.{Text(runtimeClass, "handler")}]", File.ReadAllText(Path.Combine(Repo, "configs", "containerd-katasharp-v3.toml")));
    }

    [Fact]
    public void TheRuntimeClassInDeploy_IsTheOneInConfigs_OverheadIncluded()
    {
        var deployed = Kind("RuntimeClass");
        var configured = Assert.Single(Documents("configs/runtimeclass.yaml"));
        Assert.Equal(Map(configured, "overhead", "podFixed"), Map(deployed, "overhead", "podFixed"));
        Assert.NotEmpty(Map(deployed, "overhead", "podFixed"));
        Assert.Equal(Map(configured, "scheduling", "nodeSelector"), Map(deployed, "scheduling", "nodeSelector"));
        Assert.Equal(Text(configured, "handler"), Text(deployed, "handler"));
        Assert.Equal(Text(configured, "metadata", "name"), Text(deployed, "metadata", "name"));
    }

    [Fact]
    public void TheDaemonSet_SelectsItsOwnPods_AndRunsAsTheServiceAccountTheRoleIsBoundTo()
    {
        var daemonSet = Kind("DaemonSet");
        Assert.Equal("apps/v1", Text(daemonSet, "apiVersion"));
        var selector = Map(daemonSet, "spec", "selector", "matchLabels");
        var labels = Map(daemonSet, "spec", "template", "metadata", "labels");
        Assert.All(selector, s => Assert.Equal(s.Value, labels[s.Key]));

        var account = Kind("ServiceAccount");
        Assert.Equal(Text(account, "metadata", "name"), Text(daemonSet, "spec", "template", "spec", "serviceAccountName"));
        Assert.Equal(Text(account, "metadata", "namespace"), Text(daemonSet, "metadata", "namespace"));
        var binding = Kind("ClusterRoleBinding");
        var subject = Assert.Single(Sequence(binding, "subjects"));
        Assert.Equal(Text(account, "metadata", "name"), Text(subject, "name"));
        Assert.Equal(Text(account, "metadata", "namespace"), Text(subject, "namespace"));
        Assert.Equal(Text(Kind("ClusterRole"), "metadata", "name"), Text(binding, "roleRef", "name"));
        Assert.Equal("ClusterRole", Text(binding, "roleRef", "kind"));
    }

    [Fact]
    public void TheRole_MayGetAndPatchNodes_AndNothingElse()
    {
        var rule = Assert.Single(Sequence(Kind("ClusterRole"), "rules"));
        Assert.Equal([""], Sequence(rule, "apiGroups").Select(n => ((YamlScalarNode)n).Value));
        Assert.Equal(["nodes"], Sequence(rule, "resources").Select(n => ((YamlScalarNode)n).Value));
        Assert.Equal(["get", "patch"], Sequence(rule, "verbs").Select(n => ((YamlScalarNode)n).Value!).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void TheInstaller_IsPrivilegedWithHostPid_AndMountsTheInstallRootContainerdsConfigAndPathAtTheHostsPaths()
    {
        var pod = Node(Kind("DaemonSet"), "spec", "template", "spec");
        Assert.Equal("true", Text(pod, "hostPID"));
        var container = Container();
        Assert.Equal("true", Text(container, "securityContext", "privileged"));

        var volumes = Sequence(pod, "volumes").ToDictionary(v => Text(v, "name")!, v => Text(v, "hostPath", "path"));
        var mounts = Sequence(container, "volumeMounts").ToDictionary(m => Text(m, "mountPath")!, m => volumes[Text(m, "name")!]);
        // The runtime entry install writes names host paths, so the pod must see them at the same place.
        Assert.Equal(InstallLayout.DefaultRoot, mounts[InstallLayout.DefaultRoot]);
        Assert.Equal(Path.GetDirectoryName(NodeInstaller.DefaultContainerdConfig), mounts[Path.GetDirectoryName(NodeInstaller.DefaultContainerdConfig)!]);
        Assert.Equal(InstallLayout.DefaultLinkDirectory, mounts[InstallLayout.DefaultLinkDirectory]);
        Assert.Equal(3, mounts.Count);
    }

    [Fact]
    public void TheInstaller_InstallsOnStart_UninstallsOnStop_AndKnowsItsNode()
    {
        var container = Container();
        Assert.Equal(["/opt/katasharp-artifacts/entry.sh", "install"], Sequence(container, "command").Select(n => ((YamlScalarNode)n).Value));
        Assert.Equal(["/opt/katasharp-artifacts/entry.sh", "uninstall"], Sequence(container, "lifecycle", "preStop", "exec", "command").Select(n => ((YamlScalarNode)n).Value));
        var nodeName = Assert.Single(Sequence(container, "env"), e => Text(e, "name") == "NODE_NAME");
        Assert.Equal("spec.nodeName", Text(nodeName, "valueFrom", "fieldRef", "fieldPath"));

        var entry = File.ReadAllText(Path.Combine(Repo, "deploy", "payload", "entry.sh"));
        Assert.Contains("katasharp\" install --from \"$ARTIFACTS\" --root \"$ROOT\" --label-node \"$NODE_NAME\"", entry);
        Assert.Contains("katasharp\" uninstall --root \"$ROOT\" --label-node \"$NODE_NAME\"", entry);
        Assert.Contains($"ROOT={InstallLayout.DefaultRoot}\n", entry);
    }

    [Fact]
    public void TheImage_IsThePlaceholderRegistrysDeployImage() =>
        Assert.StartsWith("registry.example/katasharp/katasharp-deploy:", Text(Container(), "image"));
}
