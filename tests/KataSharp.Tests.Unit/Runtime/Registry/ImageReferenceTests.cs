using KataSharp.Runtime.Images;
using KataSharp.Runtime.Images.Registry;
using Xunit;

namespace KataSharp.Tests.Unit.Runtime.Registry;

public sealed class ImageReferenceTests
{
    private const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Theory]
    [InlineData("alpine", "docker.io", "library/alpine", "latest")]
    [InlineData("alpine:3", "docker.io", "library/alpine", "3")]
    [InlineData("docker.io/library/alpine:3", "docker.io", "library/alpine", "3")]
    [InlineData("index.docker.io/user/app", "docker.io", "user/app", "latest")]
    [InlineData("user/app:v1.2", "docker.io", "user/app", "v1.2")]
    [InlineData("registry:5000/x", "registry:5000", "x", "latest")]
    [InlineData("127.0.0.1:5000/busybox:latest", "127.0.0.1:5000", "busybox", "latest")]
    [InlineData("localhost/a/b/c:t", "localhost", "a/b/c", "t")]
    [InlineData("ghcr.io/org/img", "ghcr.io", "org/img", "latest")]
    [InlineData("docker://quay.io/x/y:1", "quay.io", "x/y", "1")]
    public void Normalises_registry_references_as_docker_does(string text, string registry, string repository, string tag)
    {
        var reference = ImageReference.Parse(text);
        Assert.Equal(ImageTransport.Registry, reference.Transport);
        Assert.Equal(registry, reference.Registry);
        Assert.Equal(repository, reference.Repository);
        Assert.Equal(tag, reference.Tag);
        Assert.Null(reference.Digest);
    }

    [Fact]
    public void A_digest_reference_asks_for_the_digest_and_keeps_no_default_tag()
    {
        var reference = ImageReference.Parse($"registry:5000/x@{Digest}");
        Assert.Equal(Digest, reference.Digest?.ToString());
        Assert.Null(reference.Tag);
        Assert.Equal(Digest, reference.ManifestReference);
        Assert.Equal($"registry:5000/x@{Digest}", reference.ToString());

        var both = ImageReference.Parse($"alpine:3@{Digest}");
        Assert.Equal("3", both.Tag);
        Assert.Equal(Digest, both.ManifestReference);
    }

    [Fact]
    public void Docker_hub_is_reached_at_its_api_host()
    {
        Assert.Equal("registry-1.docker.io", ImageReference.Parse("alpine").ApiHost);
        Assert.Equal("registry:5000", ImageReference.Parse("registry:5000/x").ApiHost);
    }

    [Fact]
    public void Local_transports_name_paths()
    {
        var layout = ImageReference.Parse("oci:/tmp/layout");
        Assert.Equal(ImageTransport.OciLayout, layout.Transport);
        Assert.Equal("/tmp/layout", layout.Path);
        var archive = ImageReference.Parse("oci-archive:/tmp/image.tar");
        Assert.Equal(ImageTransport.OciArchive, archive.Transport);
        Assert.Equal("/tmp/image.tar", archive.Path);
        Assert.Equal(ImageTransport.OciArchive, ImageReference.Parse("/nonexistent/image.oci.tar").Transport);
        Assert.Equal(ImageTransport.OciLayout, ImageReference.Parse(Path.GetTempPath()).Transport);
    }

    [Theory]
    [InlineData("Alpine")]
    [InlineData("alpine:")]
    [InlineData("alpine:bad tag")]
    [InlineData("alpine@sha256:abc")]
    [InlineData("alpine@md5:0123456789abcdef0123456789abcdef")]
    [InlineData("registry:5000/../x")]
    [InlineData("oci:")]
    public void Refuses_malformed_references(string text) =>
        Assert.Throws<FormatException>(() => ImageReference.Parse(text));
}

public sealed class AuthChallengeTests
{
    [Fact]
    public void Parses_a_bearer_challenge_with_quoted_parameters()
    {
        var challenge = AuthChallenge.Parse("""Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull" """);
        Assert.NotNull(challenge);
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Equal("https://auth.docker.io/token", challenge.Parameter("realm"));
        Assert.Equal("registry.docker.io", challenge.Parameter("service"));
        Assert.Equal("repository:library/alpine:pull", challenge.Parameter("scope"));
    }

    [Fact]
    public void Parses_basic_and_unquoted_values_and_escapes()
    {
        var challenge = AuthChallenge.Parse("""Basic realm="a \"quoted\" realm", charset=UTF-8""");
        Assert.Equal("Basic", challenge?.Scheme);
        Assert.Equal("a \"quoted\" realm", challenge?.Parameter("realm"));
        Assert.Equal("UTF-8", challenge?.Parameter("charset"));
        Assert.Null(AuthChallenge.Parse(""));
        Assert.Null(AuthChallenge.Parse(null));
    }
}

public sealed class DockerCredentialsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-docker-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Reads_base64_auth_and_username_password_and_normalises_docker_hub()
    {
        var path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, $$"""
            {"auths": {
              "https://index.docker.io/v1/": {"auth": "{{Convert.ToBase64String("hub:s3cr:et"u8.ToArray())}}"},
              "127.0.0.1:5000": {"username": "local", "password": "pw"},
              "empty.example": {}
            }, "credsStore": "desktop"}
            """);
        var credentials = DockerCredentials.Load(path);
        Assert.Equal(new RegistryCredential("hub", "s3cr:et"), credentials.For("docker.io"));
        Assert.Equal(new RegistryCredential("local", "pw"), credentials.For("127.0.0.1:5000"));
        Assert.Null(credentials.For("empty.example"));
        Assert.Null(credentials.For("other.example"));
    }

    [Fact]
    public void A_missing_file_means_no_credentials_and_a_bad_one_is_an_error()
    {
        Assert.Null(DockerCredentials.Load(Path.Combine(_dir, "absent.json")).For("docker.io"));
        var bad = Path.Combine(_dir, "bad.json");
        File.WriteAllText(bad, "{not json");
        Assert.Throws<ImageException>(() => DockerCredentials.Load(bad));
        File.WriteAllText(bad, """{"auths":{"x":{"auth":"bm9jb2xvbg=="}}}""");
        Assert.Throws<ImageException>(() => DockerCredentials.Load(bad));
    }

    [Fact]
    public void Docker_config_environment_variable_is_respected()
    {
        var before = Environment.GetEnvironmentVariable("DOCKER_CONFIG");
        try
        {
            Environment.SetEnvironmentVariable("DOCKER_CONFIG", _dir);
            Assert.Equal(Path.Combine(_dir, "config.json"), DockerCredentials.DefaultPath());
        }
        finally
        {
            Environment.SetEnvironmentVariable("DOCKER_CONFIG", before);
        }
    }
}

public sealed class ImagePlatformTests
{
    [Fact]
    public void Parses_os_arch_and_variant_and_refuses_others()
    {
        Assert.Equal(new ImagePlatform("linux", "arm64", "v8"), ImagePlatform.Parse("linux/arm64/v8"));
        Assert.Equal(ImagePlatform.Default, ImagePlatform.Parse("linux/amd64"));
        Assert.Throws<FormatException>(() => ImagePlatform.Parse("amd64"));
        Assert.Throws<FormatException>(() => ImagePlatform.Parse("linux//v7"));
        Assert.Throws<FormatException>(() => ImagePlatform.Parse("a/b/c/d"));
    }

    [Fact]
    public void Selects_the_matching_manifest_of_an_index()
    {
        var index = new System.Text.Json.Nodes.JsonObject
        {
            ["manifests"] = System.Text.Json.Nodes.JsonNode.Parse("""
                [
                  {"digest":"sha256:aa","size":1,"platform":{"os":"unknown","architecture":"unknown"}},
                  {"digest":"sha256:arm7","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v7"}},
                  {"digest":"sha256:arm6","size":1,"platform":{"os":"linux","architecture":"arm","variant":"v6"}},
                  {"digest":"sha256:amd","size":1,"platform":{"os":"linux","architecture":"amd64"}}
                ]
                """),
        };
        Assert.Equal("sha256:amd", OciLayout.PickManifest(index, ImagePlatform.Default).Digest);
        Assert.Equal("sha256:arm6", OciLayout.PickManifest(index, ImagePlatform.Parse("linux/arm/v6")).Digest);
        Assert.Equal("sha256:arm7", OciLayout.PickManifest(index, ImagePlatform.Parse("linux/arm")).Digest);
        var error = Assert.Throws<ImageException>(() => OciLayout.PickManifest(index, ImagePlatform.Parse("linux/s390x")));
        Assert.Contains("linux/arm/v7", error.Message, StringComparison.Ordinal);
    }
}
