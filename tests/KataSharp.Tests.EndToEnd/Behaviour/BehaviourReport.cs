using System.Text;

namespace KataSharp.Tests.EndToEnd.Behaviour;

/// <summary>
/// The suite's verdict on one containerd: the table (check | runc | katasharp) and what makes the run fail:
/// a check runc fails (the check is broken), a check katasharp fails while runc passes that is not a
/// <see cref="VmLimitations"/> entry, and an entry katasharp passes after all (the list is stale).
/// </summary>
public sealed class BehaviourReport
{
    private readonly List<(BehaviourCheck Check, CheckOutcome Runc, CheckOutcome KataSharp)> _rows = [];

    public void Add(BehaviourCheck check, CheckOutcome runc, CheckOutcome kataSharp) => _rows.Add((check, runc, kataSharp));

    public IReadOnlyList<string> Problems =>
        _rows.Select(r => Problem(r.Check, r.Runc, r.KataSharp)).OfType<string>().ToList();

    public string Render(string title)
    {
        var width = Math.Max("check".Length, _rows.Count == 0 ? 0 : _rows.Max(r => r.Check.Name.Length));
        var text = new StringBuilder();
        text.AppendLine($"behaviour suite on {title}: {_rows.Count} checks");
        text.AppendLine($"| {"check".PadRight(width)} | runc | katasharp |");
        text.AppendLine($"|-{new string('-', width)}-|------|-----------|");
        foreach (var (check, runc, kataSharp) in _rows)
        {
            var limited = VmLimitations.All.ContainsKey(check.Name);
            text.AppendLine($"| {check.Name.PadRight(width)} | {Cell(runc, false),-4} | {Cell(kataSharp, limited),-9} |");
        }

        foreach (var (check, runc, kataSharp) in _rows)
        {
            if (!runc.Passed)
            {
                text.AppendLine($"  {check.Name} [runc]: {runc.Failure}");
            }

            if (!kataSharp.Passed)
            {
                text.AppendLine($"  {check.Name} [katasharp]: {kataSharp.Failure}");
            }
        }

        return text.ToString();
    }

    private static string Cell(CheckOutcome outcome, bool limited) => outcome.Passed ? "pass" : limited ? "vm-limit" : "FAIL";

    private static string? Problem(BehaviourCheck check, CheckOutcome runc, CheckOutcome kataSharp)
    {
        var limited = VmLimitations.All.ContainsKey(check.Name);
        if (!runc.Passed)
        {
            return $"{check.Name}: runc fails it, so the check is broken: {runc.Failure}";
        }

        if (!kataSharp.Passed && !limited)
        {
            return $"{check.Name}: katasharp fails what runc passes: {kataSharp.Failure}";
        }

        return kataSharp.Passed && limited
            ? $"{check.Name}: katasharp passes it, yet VmLimitations lists it: take it off there and off the README's Differences from runc"
            : null;
    }
}
