using MoeLab.Experiments.Results;

namespace MoeLab.Experiments.Reproductions;

/// <summary>How a claim of the paper fared in our runs.</summary>
public enum Verdict
{
    Reproduced,
    Partly,
    NotReproduced,
    NotTested,
}

/// <summary>One number we measured: a value, its spread (sd unless <see cref="SpreadKind"/> says
/// otherwise), n and what n counts ("seeds", "repetitions"), and a label ("M=5") when a claim has
/// several. Rounded by <see cref="Rounding"/>.</summary>
public sealed record Measurement(double Value, double? Spread, int N, string Of = "seeds", string Label = "", string SpreadKind = "sd", string Unit = "")
{
    /// <summary>"M=5: 0.0088 ± 0.014 (sd, n = 50 repetitions)"; a share with Unit "%" is written as a percentage.</summary>
    public string Format()
    {
        string body = Unit == "%"
            ? Rounding.Percent(Value) + (Spread is double s && !double.IsNaN(s) ? " ± " + Rounding.Percent(s) : "")
            : (Spread is null ? Rounding.Value(Value) : Rounding.MeanSd(Value, Spread)) + (Unit.Length > 0 ? " " + Unit : "");
        string spreadText = Spread is double sp && !double.IsNaN(sp) ? SpreadKind + ", " : "";
        return (Label.Length > 0 ? Label + ": " : "") + body + $" ({spreadText}n = {N} {Of})";
    }
}

/// <summary>What the evaluation of one claim found in the runs.</summary>
public sealed record ClaimOutcome(IReadOnlyList<Measurement> Ours, Verdict Verdict, string Note = "")
{
    /// <summary>The runs cannot test the claim (missing arm, too few seeds, not implemented): say why.</summary>
    public static ClaimOutcome NotTested(string why) => new(Array.Empty<Measurement>(), Verdict.NotTested, why);
}

/// <summary>A claim of the paper, declared once by its reproduction (<see cref="IPaperReproduction.Claims"/>):
/// the claim in words, the paper's own number (rendered as the paper's, never as ours), what we measure,
/// and how "our number" and the verdict follow from a <see cref="ResultSet"/> of runs. The verdict rule
/// belongs in <paramref name="OurMeasure"/> or the evaluation's note, so a reader can check it.</summary>
public sealed record ClaimDeclaration(string Id, string Claim, string PaperNumber, string OurMeasure, Func<ResultSet, ClaimOutcome> Evaluate);

/// <summary>A claim with its outcome: one row of a claims table.</summary>
public sealed record PaperClaim(string Id, string Claim, string PaperNumber, string OurMeasure, IReadOnlyList<Measurement> Ours, Verdict Verdict, string Note = "")
{
    /// <summary>Our numbers in one line ("–" when none).</summary>
    public string OurNumber => Ours.Count == 0 ? "–" : string.Join("; ", Ours.Select(m => m.Format()));

    public string VerdictText => Verdict switch
    {
        Verdict.Reproduced => "reproduced",
        Verdict.Partly => "partly",
        Verdict.NotReproduced => "not reproduced",
        _ => "not tested",
    };
}
