using System.Diagnostics.CodeAnalysis;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace KataSharp.Tests.EndToEnd;

/// <summary>
/// A fact of a test class that runs against one containerd release (its constructor takes a
/// <see cref="ContainerdFixture"/>). Where that release is not on this machine, the test is reported
/// as skipped with the reason.
/// </summary>
[XunitTestCaseDiscoverer("KataSharp.Tests.EndToEnd.ContainerdFactDiscoverer", "KataSharp.Tests.EndToEnd")]
[AttributeUsage(AttributeTargets.Method)]
public sealed class ContainerdFactAttribute : FactAttribute;

public sealed class ContainerdFactDiscoverer(IMessageSink diagnosticMessageSink) : IXunitTestCaseDiscoverer
{
    public IEnumerable<IXunitTestCase> Discover(ITestFrameworkDiscoveryOptions discoveryOptions, ITestMethod testMethod, IAttributeInfo factAttribute)
    {
        var display = discoveryOptions.MethodDisplayOrDefault();
        var options = discoveryOptions.MethodDisplayOptionsOrDefault();
        var reason = MissingReason(testMethod.TestClass.Class.ToRuntimeType());
        yield return reason is null
            ? new XunitTestCase(diagnosticMessageSink, display, options, testMethod)
            : new SkippedContainerdTestCase(reason, diagnosticMessageSink, display, options, testMethod);
    }

    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "Test discovery runs on the JIT and is never trimmed.")]
    [UnconditionalSuppressMessage("Trimming", "IL2072", Justification = "Test discovery runs on the JIT and is never trimmed.")]
    private static string? MissingReason(Type testClass)
    {
        var fixture = testClass.GetConstructors().SelectMany(c => c.GetParameters())
            .Select(p => p.ParameterType)
            .FirstOrDefault(t => typeof(ContainerdFixture).IsAssignableFrom(t) && !t.IsAbstract);
        if (fixture is null)
        {
            return null;
        }

        try
        {
            // A fixture only records its release until xunit initialises it.
            return ((ContainerdFixture)Activator.CreateInstance(fixture)!).Release.MissingReason;
        }
        catch (System.Reflection.TargetInvocationException e)
        {
            return e.InnerException?.Message ?? e.Message;
        }
    }
}

/// <summary>A test case whose skip reason comes from the machine rather than from the attribute.</summary>
public sealed class SkippedContainerdTestCase : XunitTestCase
{
    private string _reason = string.Empty;

    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public SkippedContainerdTestCase()
    {
    }

    public SkippedContainerdTestCase(string reason, IMessageSink diagnosticMessageSink, TestMethodDisplay display, TestMethodDisplayOptions options, ITestMethod testMethod)
        : base(diagnosticMessageSink, display, options, testMethod) => _reason = reason;

    protected override string GetSkipReason(IAttributeInfo factAttribute) => _reason;

    public override void Serialize(IXunitSerializationInfo data)
    {
        base.Serialize(data);
        data.AddValue("SkipReason", _reason);
    }

    public override void Deserialize(IXunitSerializationInfo data)
    {
        _reason = data.GetValue<string>("SkipReason");
        base.Deserialize(data);
    }
}
