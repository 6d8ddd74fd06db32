using Xunit.Abstractions;
using Xunit.Sdk;

namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// A <see cref="ContainerdFactAttribute"/> that runs only in the soak (<c>./build.sh soak</c> sets KATASHARP_SOAK=1):
/// elsewhere, as in <c>./build.sh test</c>, it is reported skipped with that reason.
/// </summary>
[XunitTestCaseDiscoverer("KataSharp.Tests.EndToEnd.SoakFactDiscoverer", "KataSharp.Tests.EndToEnd")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class SoakFactAttribute : FactAttribute
{
    public const string Variable = "KATASHARP_SOAK";
}

public sealed class SoakFactDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute) =>
        Environment.GetEnvironmentVariable(SoakFactAttribute.Variable) == "1"
            ? new ContainerdFactDiscoverer(diagnosticMessageSink).Discover(discoveryOptions, testMethod, factAttribute)
            : [new SkippedContainerdTestCase("a soak test: it runs in ./build.sh soak (KATASHARP_SOAK=1), never in ./build.sh test",
                diagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(), discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod)];
}
