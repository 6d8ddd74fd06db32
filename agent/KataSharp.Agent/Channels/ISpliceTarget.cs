namespace KataSharp.Agent.Channels;

/// <summary>A transport that takes bytes straight from a pipe (splice), in order with what was written to it before.</summary>
internal interface ISpliceTarget
{
    /// <summary>Moves exactly <paramref name="length"/> bytes, which <paramref name="pipeFd"/> already holds; throws if it cannot move them all.</summary>
    void SpliceFrom(int pipeFd, int length);
}
