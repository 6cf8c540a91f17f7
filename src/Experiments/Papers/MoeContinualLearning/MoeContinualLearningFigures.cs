using Plotly.NET;
using CSharpChart = Plotly.NET.CSharp.Chart;
using CSharpExt = Plotly.NET.CSharp.GenericChartExtensions;

namespace MoeLab.Experiments.Papers.MoeContinualLearning;

/// <summary>Plotly.NET charts of the MoE-in-CL studies (built from results objects only).</summary>
public static class MoeContinualLearningFigures
{
    private static readonly string[] Palette = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2" };

    private static string Fill(string hex) =>
        $"rgba({Convert.ToInt32(hex[1..3], 16)},{Convert.ToInt32(hex[3..5], 16)},{Convert.ToInt32(hex[5..7], 16)},0.2)";

    /// <summary>Indices (0-based rounds) plotted: every <paramref name="stride"/>-th round plus the last.</summary>
    public static int[] CurveRounds(int rounds, int stride)
    {
        var idx = new List<int> { 0 };
        for (int t = stride - 1; t < rounds; t += stride) if (t > 0) idx.Add(t);
        if (idx[^1] != rounds - 1) idx.Add(rounds - 1);
        return idx.ToArray();
    }

    /// <summary>Mean ± one standard deviation over repetitions vs round t (1-based), one band per arm.</summary>
    public static GenericChart Curves(StudyResult study, Func<SimulationResult, double[]> curve, string metric, int stride)
    {
        var charts = new List<GenericChart>();
        for (int a = 0; a < study.Arms.Count; a++)
        {
            var arm = study.Arms[a];
            var idx = CurveRounds(arm.Rounds, stride);
            var mean = arm.MeanCurve(curve);
            // One repetition has no spread (NaN): draw the band with zero width rather than NaN.
            var std = arm.Runs.Count >= 2 ? arm.StdCurve(curve) : new double[arm.Rounds];
            var x = idx.Select(t => (double)(t + 1)).ToArray();
            var y = idx.Select(t => mean[t]).ToArray();
            string color = Palette[a % Palette.Length];
            charts.Add(CSharpChart.Range<double, double, string>(x, y,
                idx.Select(t => mean[t] + std[t]).ToArray(), idx.Select(t => Math.Max(0.0, mean[t] - std[t])).ToArray(),
                StyleParam.Mode.Lines, Name: arm.Arm, LineColor: Color.fromString(color), RangeColor: Color.fromString(Fill(color)),
                UpperName: arm.Arm + " +1 sd", LowerName: arm.Arm + " −1 sd"));
        }
        var chart = CSharpChart.Combine(charts);
        chart = CSharpExt.WithXAxisStyle<double, double, string>(chart, TitleText: "round t");
        chart = CSharpExt.WithYAxisStyle<double, double, string>(chart, TitleText: metric);
        return WithTitle(chart, $"{study.Study}: {metric} (mean ± 1 sd over {study.Arms[0].Runs.Count} repetitions)");
    }

    /// <summary>Expert × column heatmap of routed-round counts, in the lab's house style (axis titles,
    /// colour bar titled with the unit).</summary>
    public static GenericChart Heatmap(long[,] counts, string[] columns, string title, string columnTitle = "task")
    {
        int m = counts.GetLength(0);
        var z = Enumerable.Range(0, m).Select(e => (IReadOnlyList<double>)Enumerable.Range(0, columns.Length).Select(c => (double)counts[e, c]).ToArray()).ToArray();
        return MoeLab.Experiments.Plotting.Charts.Heatmap(z, Enumerable.Range(0, m).Select(e => $"expert {e}").ToArray(), columns,
            title, "expert", columnTitle, colorTitle: "rounds routed");
    }

    /// <summary>Expert loads sorted in decreasing order (share of rounds), mean over repetitions, per arm.</summary>
    public static GenericChart Loads(StudyResult study)
    {
        var charts = study.Arms.Where(a => a.Experts > 1).Select(arm =>
        {
            var shares = SortedLoadShares(arm);
            return CSharpChart.Column<double, string, string>(shares, Keys: shares.Select((_, i) => $"#{i + 1}").ToArray(), Name: arm.Arm);
        }).ToList();
        var chart = CSharpChart.Combine(charts);
        chart = CSharpExt.WithXAxisStyle<double, double, string>(chart, TitleText: "expert, by load rank");
        chart = CSharpExt.WithYAxisStyle<double, double, string>(chart, TitleText: "share of rounds");
        return WithTitle(chart, $"{study.Study}: expert load (sorted per repetition, mean)");
    }

    /// <summary>Mean over repetitions of each repetition's loads sorted decreasingly, as shares of T.</summary>
    public static double[] SortedLoadShares(ArmResult arm) =>
        Enumerable.Range(0, arm.Experts).Select(i => arm.Runs.Average(r =>
            r.Load.OrderByDescending(l => l).ElementAt(i) / (double)arm.Rounds)).ToArray();

    /// <summary>Histogram of the rounds at which the gate froze (arms where it can freeze).</summary>
    public static GenericChart TerminationRounds(IEnumerable<StudyResult> studies)
    {
        var charts = new List<GenericChart>();
        foreach (var study in studies)
            foreach (var arm in study.Arms.Where(a => a.Gating.Terminate && a.Experts > 1))
            {
                var rounds = arm.Runs.Where(r => r.TerminationRound.HasValue).Select(r => (double)r.TerminationRound!.Value).ToArray();
                if (rounds.Length > 0)
                    charts.Add(CSharpChart.Histogram<double, double, string>(X: rounds, Name: $"{study.Study} {arm.Arm}", Opacity: 0.6));
            }
        if (charts.Count == 0) charts.Add(CSharpChart.Histogram<double, double, string>(X: Array.Empty<double>(), Name: "no termination"));
        var chart = CSharpChart.Combine(charts);
        chart = CSharpExt.WithXAxisStyle<double, double, string>(chart, TitleText: "round at which θ froze");
        chart = CSharpExt.WithYAxisStyle<double, double, string>(chart, TitleText: "repetitions");
        return WithTitle(chart, "distribution of termination rounds");
    }

    private static GenericChart WithTitle(GenericChart chart, string title) =>
        Plotly.NET.Chart.withTitle(title, (Microsoft.FSharp.Core.FSharpOption<Font>?)null).Invoke(chart);
}
