using KataSharp.Native;

namespace KataSharp.Tests.Unit.Native;

/// <summary>The kernel's CSPRNG behind ids and temporary names, without OpenSSL.</summary>
public sealed class SecureRandomTests
{
    [Fact]
    public void A_buffer_past_what_one_getrandom_call_returns_is_filled_to_its_end()
    {
        // getrandom(2) may return fewer bytes than asked past 256: the tail must be filled too.
        var buffer = new byte[4 * 1024 * 1024];
        SecureRandom.Fill(buffer);
        var tail = buffer.AsSpan(buffer.Length - 16384);
        Assert.Equal(256, tail.ToArray().Distinct().Count());
        Assert.Equal(256, buffer.Distinct().Count());
    }

    [Fact]
    public void Two_draws_differ()
    {
        Assert.NotEqual(SecureRandom.GetBytes(32), SecureRandom.GetBytes(32));
        Assert.Empty(SecureRandom.GetBytes(0));
    }

    [Theory]
    [InlineData(0, 3)]
    [InlineData(3, int.MaxValue)]
    [InlineData(-5, -1)]
    public void An_integer_stays_in_its_range(int from, int to)
    {
        var seen = new HashSet<int>();
        for (var i = 0; i < 3000; i++)
        {
            var value = SecureRandom.GetInt32(from, to);
            Assert.InRange(value, from, to - 1);
            seen.Add(value);
        }

        // Every value of a small range comes up (missing one in 3000 draws of 3 or 4 is below 1e-300).
        if ((long)to - from <= 4)
        {
            Assert.Equal(to - from, seen.Count);
        }
    }

    [Fact]
    public void An_empty_range_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => SecureRandom.GetInt32(5, 5));
    }
}
