using MoeLab.Experiments.Plotting;
using Plotly.NET;

namespace MoeLab.Experiments.Papers.MoeContinualLearning;

/// <summary>Charts of the MoE-in-CL studies, in the lab's house style (<see cref="Charts"/>). Each chart
/// is built from plain numbers, so the run (from its <see cref="StudyResult"/>s) and the report (from
/// saved runs, <see cref="MoeContinualLearningReproduction"/>) draw the same figure.</summary>
public static class MoeContinualLearningFigures
{
    /// <summary>Indices (0-based rounds) plotted: every <paramref name="stride"/>-th round plus the last.</summary>
    public static int[] CurveRounds(int rounds, int stride)
    {
        var idx = new List<int> { 0 };
        for (int t = stride - 1; t < rounds; t += stride) if (t > 0) idx.Add(t);
        if (idx[^1] != rounds - 1) idx.Add(rounds - 1);
        return idx.ToArray();
    }

    /// <summary>"expert-count study (paper's fig. 2 setting)" / "termination study (figs. 4–5 setting)".</summary>
    public static string StudyTitle(string study) => study switch
    {
        "expert-count" => "Expert-count study (fig. 2 setting)",
        "termination" => "Termination study (figs. 4–5 setting)",
        _ => study,
    };

    /// <summary>Mean ± one standard deviation over repetitions vs round t (1-based), one band per arm.</summary>
    public static GenericChart Curves(StudyResult study, Func<SimulationResult, double[]> curve, string metric, int stride)
    {
        var series = study.Arms.Select(arm =>
        {
            var idx = CurveRounds(arm.Rounds, stride);
            var mean = arm.MeanCurve(curve);
            var std = arm.Runs.Count >= 2 ? arm.StdCurve(curve) : null; // one repetition has no spread
            return new BandSeries(arm.Arm, idx.Select(t => (double)(t + 1)).ToArray(), idx.Select(t => mean[t]).ToArray(),
                std is null ? null : idx.Select(t => std[t]).ToArray());
        }).ToList();
        return CurveChart(study.Study, series, metric, study.Arms[0].Runs.Count);
    }

    /// <summary>The curve figure from plain series (x = round t, mean and sd over <paramref name="repetitions"/>
    /// repetitions). The band's lower edge stops at 0: both errors are squared norms.</summary>
    public static GenericChart CurveChart(string study, IReadOnlyList<BandSeries> series, string metric, int repetitions, string titleSuffix = "")
    {
        string spread = repetitions >= 2 ? $"mean ± 1 sd over {repetitions} repetitions" : "1 repetition, no spread";
        return Charts.LineWithBand(series, $"{StudyTitle(study)}: {metric}{titleSuffix}", "round t (tasks seen)", $"{metric} (squared-norm error)",
            spread: spread, legendTitle: study == "termination" ? "arm (Γ = σ0^x)" : "arm (M experts)", integerX: true, lowerBound: 0);
    }

    /// <summary>Expert × column heatmap of routed-round counts, in the lab's house style (axis titles,
    /// colour bar titled with the unit).</summary>
    public static GenericChart Heatmap(long[,] counts, string[] columns, string title, string columnTitle = "task")
    {
        int m = counts.GetLength(0);
        var z = Enumerable.Range(0, m).Select(e => (IReadOnlyList<double>)Enumerable.Range(0, columns.Length).Select(c => (double)counts[e, c]).ToArray()).ToArray();
        return Charts.Heatmap(z, Enumerable.Range(0, m).Select(e => $"expert {e}").ToArray(), columns,
            title, "expert", columnTitle, colorTitle: "rounds routed");
    }

    /// <summary>Expert loads sorted in decreasing order (share of rounds), mean over repetitions, per arm.</summary>
    public static GenericChart Loads(StudyResult study)
    {
        var arms = study.Arms.Where(a => a.Experts > 1).ToList();
        if (arms.Count == 0) throw new ArgumentException($"{study.Study}: no arm with more than one expert");
        int maxExperts = arms.Max(a => a.Experts);
        var categories = Enumerable.Range(1, maxExperts).Select(i => $"#{i}").ToList();
        var series = arms.Select(arm =>
        {
            var shares = SortedLoadShares(arm).Select(v => 100 * v).ToList();
            return new BarSeries(arm.Arm, categories.Take(shares.Count).ToList(), shares);
        });
        int n = arms[0].Runs.Count;
        return Charts.Bars(series, $"{StudyTitle(study.Study)}: expert load, sorted per repetition, mean over {n} repetition{(n == 1 ? "" : "s")}",
            "expert, ranked by load (#1 = busiest)", "share of rounds routed (%)",
            legendTitle: "arm");
    }

    /// <summary>Mean over repetitions of each repetition's loads sorted decreasingly, as shares of T.</summary>
    public static double[] SortedLoadShares(ArmResult arm) =>
        Enumerable.Range(0, arm.Experts).Select(i => arm.Runs.Average(r =>
            r.Load.OrderByDescending(l => l).ElementAt(i) / (double)arm.Rounds)).ToArray();

    /// <summary>One arm's termination rounds (0-based round at which θ froze; null = never) and the
    /// forced minimum round of that arm.</summary>
    public sealed record TerminationSample(string Arm, IReadOnlyList<int?> Rounds, int MinimumRound);

    /// <summary>When the gate froze, per arm that can freeze: the share of repetitions that froze at
    /// the forced minimum round (the Γ rule was already satisfied, so the minimum decided), later
    /// (the Γ rule decided), or never. Stacked to 100 %.</summary>
    public static GenericChart TerminationRounds(IEnumerable<StudyResult> studies) =>
        TerminationOutcome(studies.SelectMany(s => s.Arms.Where(a => a.Gating.Terminate && a.Experts > 1).Select(a =>
            new TerminationSample(Label(s.Study, a.Arm), a.Runs.Select(r => r.TerminationRound).ToList(),
                a.Gating.MinimumRoundsBase + a.Gating.MinimumRoundsPerExpert * a.Experts))).ToList());

    /// <summary>Category label of an arm in cross-study charts, on two lines: "fig. 2 setting&lt;br&gt;M=5".</summary>
    public static string Label(string study, string arm) => (study == "expert-count" ? "fig. 2 setting" : "figs. 4–5 setting") + LabelSeparator + arm;

    public const string LabelSeparator = "<br>";

    /// <summary>The arm of a <see cref="Label"/> ("M=5").</summary>
    public static string ArmOfLabel(string label) => label[(label.IndexOf(LabelSeparator, StringComparison.Ordinal) + LabelSeparator.Length)..];

    /// <summary>See <see cref="TerminationRounds(IEnumerable{StudyResult})"/>.</summary>
    public static GenericChart TerminationOutcome(IReadOnlyList<TerminationSample> arms)
    {
        if (arms.Count == 0)
            return Charts.Bars(new[] { new BarSeries("no arm with termination", new[] { "–" }, new[] { 0.0 }) },
                "When the gate froze: no arm with termination", "arm", "share of repetitions (%)");
        var categories = arms.Select(a => a.Arm).ToList();
        double Share(TerminationSample a, Func<int?, bool> p) => a.Rounds.Count == 0 ? double.NaN : 100.0 * a.Rounds.Count(p) / a.Rounds.Count;
        var series = new[]
        {
            new BarSeries("at the forced minimum round", categories, arms.Select(a => Share(a, r => r == a.MinimumRound)).ToList()),
            new BarSeries("later (Γ rule decided)", categories, arms.Select(a => Share(a, r => r > a.MinimumRound)).ToList()),
            new BarSeries("never (gate trained to the end)", categories, arms.Select(a => Share(a, r => r is null)).ToList()),
        };
        int nMin = arms.Min(a => a.Rounds.Count), nMax = arms.Max(a => a.Rounds.Count);
        string n = nMin == nMax ? $"n = {nMax}" : $"n = {nMin}–{nMax}";
        var chart = Charts.Bars(series, "When the gate froze: at the forced minimum round, later, or never",
            "arm", $"share of repetitions (%, {n} per arm)", legendTitle: "gate froze");
        return Charts.WithLayout(chart, new Dictionary<string, object> { ["barmode"] = "stack" });
    }
}
