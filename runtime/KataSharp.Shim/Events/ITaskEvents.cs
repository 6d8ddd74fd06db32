using Google.Protobuf;

namespace KataSharp.Shim.Events;

/// <summary>Where task events go, in the order they are published (containerd's <see cref="EventPublisher"/> in the shim).</summary>
internal interface ITaskEvents
{
    void Publish(string topic, IMessage @event);

    /// <summary>Publishes, and completes once the event is delivered (or delivery gave up).</summary>
    Task PublishAndWaitAsync(string topic, IMessage @event);
}
