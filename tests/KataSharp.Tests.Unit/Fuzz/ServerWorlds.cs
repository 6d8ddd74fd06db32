using CsCheck;
using Xunit.Abstractions;

namespace KataSharp.Tests.Unit.Fuzz;

/// <summary>A server under fuzz with the state it serves (containers, a pod); disposing checks that nothing of it is left.</summary>
internal interface IServerWorld : IAsyncDisposable
{
    TtrpcServerUnderFuzz Under { get; }
}

/// <summary>Feeds connections' worth of bytes to a server world, replacing the world every so often so that its state stays bounded.</summary>
internal static class ServerWorlds
{
    private const int WorldLifetime = 200;

    public static async Task RunAsync(string target, Gen<byte[]> gen, Func<IServerWorld> newWorld, IReadOnlyList<byte[]> corpus, int smokeSamples,
        ITestOutputHelper output)
    {
        var world = newWorld();
        var fed = 0;
        try
        {
            await FuzzRunner.RunAsync(target, gen, async input =>
            {
                // What the inputs created is removed (and checked gone) with the world.
                if (++fed % WorldLifetime == 0)
                {
                    await world.DisposeAsync();
                    world = newWorld();
                }

                await world.Under.FeedAsync(input);
            }, corpus, smokeSamples, output, Convert.ToHexString);
        }
        finally
        {
            output.WriteLine($"outcomes of the last world: {world.Under.Outcomes}");
            await world.DisposeAsync();
        }
    }
}
