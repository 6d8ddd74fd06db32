using System.Collections.Concurrent;
using System.IO.Pipelines;
using KataSharp.Protocol.Ttrpc;
using KataSharp.Protocol.Ttrpc.Wire;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>
/// The oracle for a ttrpc server: each input is one connection's bytes. Every request the server can answer
/// at once gets exactly one well-formed Response within <see cref="CallBound"/>; a probe call sent after the
/// input is answered on the same connection (it still serves); the connection ends cleanly when the peer
/// closes, long-polling calls included; and no handler fails with an unclassified exception.
/// </summary>
internal sealed class TtrpcServerUnderFuzz(TtrpcServer server, RecordingLogger log, FuzzFrame probe, Func<Request, bool> answersPromptly)
{
    public static readonly TimeSpan CallBound = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, long> _outcomes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<uint, bool> _answered = new();

    /// <summary>How the answered calls ended, by method and status code: shows that inputs reach the handlers.</summary>
    public string Outcomes => string.Join(", ", _outcomes.OrderByDescending(o => o.Value).Take(40).Select(o => $"{o.Key}={o.Value}"));

    public async Task FeedAsync(byte[] input)
    {
        var plan = await WirePlan.ForAsync(input, answersPromptly);
        var expected = new Dictionary<uint, int>();
        foreach (var id in plan.MustAnswer)
        {
            expected[id] = expected.GetValueOrDefault(id) + 1;
        }

        if (plan.EndsOnFrameBoundary)
        {
            input = [.. input, .. FuzzFrame.Encode([probe])];
            expected[probe.StreamId] = expected.GetValueOrDefault(probe.StreamId) + 1;
        }

        _answered.Clear();
        var (client, end) = InMemoryDuplex.Create();
        using (client)
        {
            var serving = server.ServeAsync(end, "fuzz", CancellationToken.None);
            // The client reads everything the server sends, to the end, as every real peer does.
            var satisfied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var reading = ReadAnswersAsync(client, expected, plan.Methods, satisfied);
            try
            {
                await client.WriteAsync(input).AsTask().WaitAsync(CallBound);
                await client.FlushAsync().WaitAsync(CallBound);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"the server stopped reading its connection ({input.Length} bytes sent)");
            }
            try
            {
                await Task.WhenAny(satisfied.Task, reading).WaitAsync(CallBound);
                if (!satisfied.Task.IsCompleted)
                {
                    await reading;
                }
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"no answer within {CallBound.TotalSeconds} s on streams {string.Join(',', expected.Where(e => e.Value > 0).Select(e => e.Key))}");
            }

            InMemoryDuplex.CloseWrite(client);
            try
            {
                await serving.WaitAsync(CallBound);
            }
            catch (TimeoutException)
            {
                var unanswered = plan.Methods.Where(m => !_answered.ContainsKey(m.Key)).Select(m => $"{m.Key}:{m.Value}");
                throw new TimeoutException($"the connection did not end within {CallBound.TotalSeconds} s of the peer closing it: a handler ignores cancellation, one of {string.Join(", ", unanswered)}");
            }

            await reading.WaitAsync(CallBound);
        }

        log.ThrowIfAny();
    }

    private async Task ReadAnswersAsync(Stream client, Dictionary<uint, int> expected, IReadOnlyDictionary<uint, string> methods, TaskCompletionSource satisfied)
    {
        var reader = new TtrpcFrameReader(PipeReader.Create(client, new StreamPipeReaderOptions(leaveOpen: true)));
        while (true)
        {
            if (expected.Values.All(count => count <= 0))
            {
                satisfied.TrySetResult();
            }

            var frame = await reader.ReadAsync(TtrpcMessageType.Response, Response.Parser, CancellationToken.None);
            if (frame is null)
            {
                if (!satisfied.Task.IsCompleted)
                {
                    throw new InvalidOperationException($"the server closed the connection with streams {string.Join(',', expected.Where(e => e.Value > 0).Select(e => e.Key))} unanswered");
                }

                return;
            }

            if (frame.Header.Type != TtrpcMessageType.Response || frame.Message is null)
            {
                throw new InvalidOperationException($"the server sent a {frame.Header.Type} frame that is no Response ({frame.Malformed}) on stream {frame.Header.StreamId}");
            }

            _answered[frame.Header.StreamId] = true;
            var method = frame.Header.StreamId == probe.StreamId ? "probe" : methods.GetValueOrDefault(frame.Header.StreamId, "?");
            _outcomes.AddOrUpdate($"{method}:{(Grpc.Core.StatusCode)(frame.Message.Status?.Code ?? 0)}", 1, (_, n) => n + 1);
            if (expected.TryGetValue(frame.Header.StreamId, out var count))
            {
                expected[frame.Header.StreamId] = count - 1;
            }
        }
    }
}
