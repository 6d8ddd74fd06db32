using Microsoft.Extensions.Logging;

namespace KataSharp.Runtime.Network;

/// <summary>Replays an undo log backwards. Every step is tried, whatever happened to the ones before it.</summary>
public static partial class NetworkUndo
{
    /// <summary>Undoes <paramref name="steps"/> last first.</summary>
    /// <returns>The steps that failed (empty when everything is gone), each with the reason.</returns>
    public static async Task<IReadOnlyList<(UndoStep Step, string Reason)>> RunAsync(
        INetnsCommandRunner runner, IReadOnlyList<UndoStep> steps, ILogger logger, CancellationToken cancellationToken)
    {
        var failed = new List<(UndoStep, string)>();
        for (var i = steps.Count - 1; i >= 0; i--)
        {
            var step = steps[i];
            if (step.Netns is { } netns && !File.Exists(netns))
            {
                // The namespace is gone, and everything that lived in it went with it.
                continue;
            }

            try
            {
                var result = await runner.RunAsync(step.Netns, step.Command, cancellationToken).ConfigureAwait(false);
                if (!result.Succeeded && !UndoStep.MeansAlreadyGone(result.Stderr))
                {
                    failed.Add((step, result.Stderr.Trim()));
                    LogUndoFailed(logger, NetnsCommandRunner.Describe(step.Netns, step.Command), result.Stderr.Trim());
                }
            }
            catch (NetworkException e)
            {
                failed.Add((step, e.Message));
                LogUndoFailed(logger, NetnsCommandRunner.Describe(step.Netns, step.Command), e.Message);
            }
        }

        return failed;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "network clean-up step failed: {Command}: {Reason}")]
    private static partial void LogUndoFailed(ILogger logger, string command, string reason);
}
