namespace KataSharp.Agent.Processes;

/// <summary>One output stream of a process, as ReadOutput reads it.</summary>
internal interface IProcessOutput
{
    /// <summary>
    /// Waits until there are bytes or the stream has ended, then returns up to <paramref name="maxBytes"/> bytes in
    /// order; reports the end only once every byte was taken. One read at a time: a second waits for the first,
    /// and for the first's <see cref="OutputChunk.Piped"/> bytes to be written or given back.
    /// </summary>
    Task<OutputChunk> ReadAsync(int maxBytes, CancellationToken cancellationToken);

    /// <summary>Nobody will read any more (the process is being removed): readers see the end, and nothing is kept.</summary>
    void Abandon();
}
