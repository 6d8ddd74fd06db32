namespace KataSharp.Tests.EndToEnd.Behaviour;

/// <summary>How one check went under one handler: passed, or the failure's message.</summary>
public sealed record CheckOutcome(string? Failure)
{
    public static CheckOutcome Pass { get; } = new((string?)null);

    public bool Passed => Failure is null;

    public static CheckOutcome Of(Exception e)
    {
        var inner = e is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerExceptions[0] : e;
        var message = string.Join(" / ", (inner.GetType().Name + ": " + inner.Message).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        return new CheckOutcome(message.Length > 400 ? message[..400] + "..." : message);
    }
}
