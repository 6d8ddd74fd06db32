using Google.Protobuf;
using KataSharp.Shim.Events;

namespace KataSharp.Tests.Unit.Shim;

/// <summary>Task events as the shim published them, in order; a waiter can wait for a topic to appear.</summary>
internal sealed class RecordingEvents : ITaskEvents
{
    private readonly List<(string Topic, IMessage Event)> _published = [];
    private readonly List<(Func<(string, IMessage), bool> Match, TaskCompletionSource Seen)> _waiters = [];

    public IReadOnlyList<(string Topic, IMessage Event)> Published
    {
        get
        {
            lock (_published)
            {
                return _published.ToList();
            }
        }
    }

    public IReadOnlyList<string> Topics => Published.Select(p => p.Topic).ToList();

    public void Publish(string topic, IMessage @event)
    {
        lock (_published)
        {
            _published.Add((topic, @event));
            foreach (var waiter in _waiters.Where(w => w.Match((topic, @event))).ToList())
            {
                _waiters.Remove(waiter);
                waiter.Seen.TrySetResult();
            }
        }
    }

    public Task PublishAndWaitAsync(string topic, IMessage @event)
    {
        Publish(topic, @event);
        return Task.CompletedTask;
    }

    /// <summary>Completes once an event of <paramref name="topic"/> (matching <paramref name="match"/>) has been published.</summary>
    public Task WaitForAsync(string topic, Func<IMessage, bool>? match = null)
    {
        lock (_published)
        {
            bool Matches((string Topic, IMessage Event) e) => e.Topic == topic && (match?.Invoke(e.Event) ?? true);
            if (_published.Any(Matches))
            {
                return Task.CompletedTask;
            }

            var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((Matches, seen));
            return seen.Task.WaitAsync(TimeSpan.FromSeconds(30));
        }
    }
}
