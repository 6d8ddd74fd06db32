using System.Text;
using KataSharp.Protocol.Logging;

namespace KataSharp.Tests.Unit.Logging;

public sealed class LogfmtTests
{
    [Theory]
    [InlineData("plain", "k=plain")]
    [InlineData("", "k=\"\"")]
    [InlineData("two words", "k=\"two words\"")]
    [InlineData("a=b", "k=\"a=b\"")]
    [InlineData("say \"hi\"\nthen\\go", "k=\"say \\\"hi\\\"\\nthen\\\\go\"")]
    public void Values_AreQuotedAndEscapedOnlyWhereLogfmtNeedsIt(string value, string expected)
    {
        var line = new StringBuilder();
        Logfmt.AppendPair(line, "k", value);
        Assert.Equal(expected, line.ToString());
    }

    [Theory]
    [InlineData("plain")]
    [InlineData("")]
    [InlineData("two words and = signs")]
    [InlineData("quotes \" backslashes \\ newlines \n tabs \t bell \u0007 done")]
    public void AnyValue_ReadsBackAsWritten(string value)
    {
        var line = new StringBuilder();
        Logfmt.AppendPair(line, "time", "2026-12-01T19:00:00Z");
        Logfmt.AppendPair(line, "msg", value);
        Logfmt.AppendPair(line, "container", "c1");

        var pairs = Logfmt.Parse(line.ToString());

        Assert.NotNull(pairs);
        Assert.Equal(["time", "msg", "container"], pairs.Select(p => p.Key));
        Assert.Equal(value, pairs[1].Value);
        Assert.Equal("c1", pairs[2].Value);
    }

    [Theory]
    [InlineData("[    0.512345] Kernel panic - not syncing: sysrq triggered crash")]
    [InlineData("msg=\"unterminated")]
    [InlineData("k=\"closed\"glued")]
    [InlineData("   ")]
    public void NonLogfmtLines_ReadAsNull(string line) => Assert.Null(Logfmt.Parse(line));

    [Fact]
    public void KeysThatWouldBreakTheLine_AreMadeSafe()
    {
        var line = new StringBuilder();
        Logfmt.AppendPair(line, "a key=\"x\"", "v");
        Assert.Equal("a_key__x_=v", line.ToString());
    }
}
