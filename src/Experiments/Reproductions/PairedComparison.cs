using System.Globalization;
using MoeLab.Experiments.Results;
using MoeLab.Metrics.Statistics;

namespace MoeLab.Experiments.Reproductions;

/// <summary>Paired per-seed comparisons of two arms of the same runs, for claims tables: when every arm of a
/// run shares the data order and initialisation seed (the lab's protocol), differences are paired by seed.</summary>
public static class PairedComparison
{
    /// <summary>Per seed: value(<paramref name="armA"/>) − value(<paramref name="armB"/>) of a summary metric,
    /// over the seeds that have both arms.</summary>
    public static IReadOnlyList<double> PairedDifferences(ResultSet runs, string metric, string armA, string armB)
    {
        var s = runs.Summaries;
        var seed = FrameColumns.Get(s, "seed");
        var arm = FrameColumns.Get(s, "arm");
        var value = FrameColumns.Get(s, metric);
        var a = new Dictionary<string, double>();
        var b = new Dictionary<string, double>();
        for (long r = 0; r < s.Rows.Count; r++)
        {
            string key = FrameColumns.Format(seed[r]);
            double v = FrameColumns.AsDouble(value[r]) ?? double.NaN;
            string name = FrameColumns.Format(arm[r]);
            if (name == armA) a[key] = v;
            else if (name == armB) b[key] = v;
        }
        var diffs = a.Keys.Intersect(b.Keys).OrderBy(k => k, StringComparer.Ordinal).Select(k => a[k] - b[k]).ToList();
        if (diffs.Count == 0) throw new ArgumentException($"no seed has both arms '{armA}' and '{armB}' with '{metric}'.");
        return diffs;
    }

    /// <summary>Per seed: a[seed] − b[seed] over the seeds both have, in seed order (empty when none).</summary>
    public static IReadOnlyList<double> PairedDifferences<TSeed>(IReadOnlyDictionary<TSeed, double> a, IReadOnlyDictionary<TSeed, double> b)
        where TSeed : notnull =>
        a.Keys.Where(b.ContainsKey).Order().Select(k => a[k] - b[k]).ToList();

    /// <summary>The lab's one rule for "A is better than B" from paired differences (A − B):
    /// <see cref="Verdict.Reproduced"/> when the mean favours A by more than two standard errors (n ≥ 2),
    /// <see cref="Verdict.NotReproduced"/> when it does not favour A at all, <see cref="Verdict.Partly"/> otherwise
    /// (favours A, within noise), <see cref="Verdict.NotTested"/> when there is no pair.</summary>
    public static Verdict Judge(IReadOnlyList<double> diffs, bool higherIsBetter)
    {
        if (diffs.Count == 0) return Verdict.NotTested;
        double mean = diffs.Average();
        double favour = higherIsBetter ? mean : -mean;
        if (favour <= 0) return Verdict.NotReproduced;
        if (diffs.Count < 2) return Verdict.Partly;
        double se = SampleStatistics.StandardError(diffs);
        return favour > 2 * se ? Verdict.Reproduced : Verdict.Partly;
    }

    /// <summary>Verdict of "A is better than B" from paired differences where better means
    /// <paramref name="higherIsBetter"/>: reproduced when the mean difference favours A by more than two
    /// standard errors, not reproduced when it does not favour A at all or n &lt; 2 leaves no error, partly otherwise.</summary>
    public static ClaimOutcome Better(IReadOnlyList<double> diffs, bool higherIsBetter, string label, double scale, string unit)
    {
        double mean = diffs.Average();
        double sd = SampleStatistics.Std(diffs);
        double se = SampleStatistics.StandardError(diffs);
        var verdict = Judge(diffs, higherIsBetter);
        string note = diffs.Count < 2 ? "one seed: no standard error" :
            $"paired over {diffs.Count} seeds; standard error {(se * scale).ToString("G3", CultureInfo.InvariantCulture)}{(unit == "pp" ? " pp" : "")}";
        return new ClaimOutcome([new Measurement(mean * scale, sd * scale, diffs.Count, "seeds", label, Unit: unit == "pp" ? "" : unit)], verdict, note);
    }
}
