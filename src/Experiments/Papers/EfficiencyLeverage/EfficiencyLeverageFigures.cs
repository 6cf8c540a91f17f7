using MoeLab.Experiments.Plotting;
using MoeLab.Metrics.ScalingLaws;
using MoeLab.Metrics.Statistics;
using Plotly.NET;
using CSharpChart = Plotly.NET.CSharp.Chart;

namespace MoeLab.Experiments.Papers.EfficiencyLeverage;

/// <summary>The figures of the efficiency-leverage reproduction, from an <see cref="ElAnalysis"/> (our runs)
/// and the Table 2 law (the paper's coefficients, labelled as such in every legend).</summary>
public static class EfficiencyLeverageFigures
{
    private static string Colour(int i) => Charts.Palette[i % Charts.Palette.Count];

    private static double[] LogSpace(double lo, double hi, int n) =>
        Enumerable.Range(0, n).Select(i => Math.Pow(10, Math.Log10(lo) + (Math.Log10(hi) - Math.Log10(lo)) * i / (n - 1))).ToArray();

    private static GenericChart Points(IReadOnlyList<double> x, IReadOnlyList<double> y, string name, string colour, IReadOnlyList<string>? text = null) =>
        text is null
            ? CSharpChart.Point<double, double, string>(x.ToArray(), y.ToArray(), Name: name, MarkerColor: Color.fromString(colour), UseDefaults: false)
            : CSharpChart.Point<double, double, string>(x.ToArray(), y.ToArray(), Name: name, MarkerColor: Color.fromString(colour),
                MultiText: text.ToArray(), UseDefaults: false);

    private static GenericChart Line(IReadOnlyList<double> x, IReadOnlyList<double> y, string name, string colour, bool dashed = false) =>
        CSharpChart.Line<double, double, string>(x.ToArray(), y.ToArray(), Name: name, LineColor: Color.fromString(colour),
            LineDash: dashed ? StyleParam.DrawingStyle.Dash : StyleParam.DrawingStyle.Solid, UseDefaults: false);

    private static List<GenericChart> NonEmpty(List<GenericChart> charts)
    {
        if (charts.Count == 0) charts.Add(Line(Array.Empty<double>(), Array.Empty<double>(), "no runs at this setting", "#999999"));
        return charts;
    }

    /// <summary>Validation loss vs training compute, every grid run (both seeds), one colour per family, with
    /// the fitted L(C) = α·C^−β of dense (solid) and of each MoE arm (dashed).</summary>
    public static GenericChart LossVsCompute(ElAnalysis a)
    {
        var grid = a.Arms.Where(r => r.Kind == "grid").ToList();
        var families = grid.Select(r => r.MoeArm).Distinct().OrderBy(f => f == "dense" ? "" : f).ToList();
        double lo = grid.Min(r => r.Compute) / 1.2, hi = grid.Max(r => r.Compute) * 1.2;
        var xs = LogSpace(lo, hi, 30);
        var charts = new List<GenericChart>();
        for (int i = 0; i < families.Count; i++)
        {
            var runs = grid.Where(r => r.MoeArm == families[i]).ToList();
            string label = families[i] == "dense" ? "dense" : $"{families[i]} (A={runs[0].ActivationRatio:G3})";
            charts.Add(Points(runs.Select(r => r.Compute).ToList(), runs.Select(r => r.ValLoss).ToList(), label, Colour(i), runs.Select(r => r.Name).ToList()));
            var fit = families[i] == "dense" ? a.DenseFit : a.FamilyFits.FirstOrDefault(f => f.Arm == families[i]).Fit;
            if (fit is not null)
                charts.Add(Line(xs, xs.Select(fit.Law.At).ToList(), $"{families[i]} fit: {fit.Alpha:G3}·C^-{fit.Beta:G3}", Colour(i), dashed: families[i] != "dense"));
        }
        return Charts.Style(CSharpChart.Combine(NonEmpty(charts)), "Our runs: validation loss vs training compute (fits: Huber + BFGS)",
            "training compute C (FLOPs)", "validation loss (nats/token)", xType: "log", yType: "log");
    }

    /// <summary>Measured EL (each run; mean per point as a line) against the activation ratio at granularity
    /// <paramref name="granularity"/>, one colour per compute budget, with the Table 2 law at the budget's compute.</summary>
    public static GenericChart LeverageVsActivation(ElAnalysis a, double granularity)
    {
        var runs = a.Measured.Where(m => m.Run.Granularity == granularity).ToList();
        var charts = new List<GenericChart>();
        var budgets = runs.Select(m => m.Run.Budget).Distinct().Order().ToList();
        foreach (var (b, i) in budgets.Select((b, i) => (b, i)))
        {
            var at = runs.Where(m => m.Run.Budget == b).ToList();
            double c = at.Average(m => m.Run.Compute);
            charts.Add(Points(at.Select(m => m.Run.ActivationRatio).ToList(), at.Select(m => m.Leverage).ToList(), $"ours, d {at[0].Run.Width} (C≈{c:E1})", Colour(i)));
            var ratios = at.Select(m => m.Run.ActivationRatio).Distinct().Order().ToList();
            charts.Add(Line(ratios, ratios.Select(r => at.Where(m => m.Run.ActivationRatio == r).Average(m => m.Leverage)).ToList(), $"ours mean, d {at[0].Run.Width}", Colour(i)));
            var grid = LogSpace(0.02, 1, 25);
            charts.Add(Line(grid, grid.Select(r => EfficiencyLeverageLaw.PaperTable2.Leverage(r, granularity, c)).ToList(), $"paper's Table 2 law at C≈{c:E1}", Colour(i), dashed: true));
        }
        return Charts.Style(CSharpChart.Combine(NonEmpty(charts)), $"EL vs activation ratio A at G = {granularity} (ours: points; paper's law: dashed)",
            "activation ratio A = E_a/E", "efficiency leverage EL", xType: "log", yType: "log");
    }

    /// <summary>Measured EL against granularity at activation ratio <paramref name="activation"/>, per budget,
    /// with the Table 2 law (its U shape has its top at G* ≈ 11.3).</summary>
    public static GenericChart LeverageVsGranularity(ElAnalysis a, double activation)
    {
        var runs = a.Measured.Where(m => Math.Abs(m.Run.ActivationRatio - activation) < 1e-9).ToList();
        var charts = new List<GenericChart>();
        var budgets = runs.Select(m => m.Run.Budget).Distinct().Order().ToList();
        foreach (var (b, i) in budgets.Select((b, i) => (b, i)))
        {
            var at = runs.Where(m => m.Run.Budget == b).ToList();
            double c = at.Average(m => m.Run.Compute);
            charts.Add(Points(at.Select(m => m.Run.Granularity).ToList(), at.Select(m => m.Leverage).ToList(), $"ours, d {at[0].Run.Width} (C≈{c:E1})", Colour(i)));
            var gs = at.Select(m => m.Run.Granularity).Distinct().Order().ToList();
            charts.Add(Line(gs, gs.Select(g => at.Where(m => m.Run.Granularity == g).Average(m => m.Leverage)).ToList(), $"ours mean, d {at[0].Run.Width}", Colour(i)));
            var grid = LogSpace(1, 64, 30);
            charts.Add(Line(grid, grid.Select(g => EfficiencyLeverageLaw.PaperTable2.Leverage(activation, g, c)).ToList(), $"paper's Table 2 law at C≈{c:E1}", Colour(i), dashed: true));
        }
        return Charts.Style(CSharpChart.Combine(NonEmpty(charts)), $"EL vs granularity G at A = {activation:G3} (ours: points; paper's law: dashed)",
            "granularity G = 2d/d_expert", "efficiency leverage EL", xType: "log", yType: "log");
    }

    /// <summary>The law's surface as slices: Table 2's EL against compute from 1e10 to 1e23 FLOPs for each of our
    /// (A, G) arms, with our measured EL of those arms at their (tiny) compute on the same axes.</summary>
    public static GenericChart LawSlicesWithOurPoints(ElAnalysis a)
    {
        var charts = new List<GenericChart>();
        var arms = a.Measured.Select(m => (m.Run.MoeArm, m.Run.ActivationRatio, m.Run.Granularity)).Distinct().OrderBy(x => x.MoeArm).ToList();
        var cs = LogSpace(1e10, 1e23, 40);
        foreach (var (arm, i) in arms.Select((x, i) => (x, i)))
        {
            charts.Add(Line(cs, cs.Select(c => EfficiencyLeverageLaw.PaperTable2.Leverage(arm.ActivationRatio, arm.Granularity, c)).ToList(),
                $"paper's law, {arm.MoeArm} (A={arm.ActivationRatio:G3}, G={arm.Granularity})", Colour(i), dashed: true));
            var ours = a.Measured.Where(m => m.Run.MoeArm == arm.MoeArm).ToList();
            charts.Add(Points(ours.Select(m => m.Run.Compute).ToList(), ours.Select(m => m.Leverage).ToList(), $"ours, {arm.MoeArm}", Colour(i), ours.Select(m => m.Run.Name).ToList()));
        }
        var ling = cs.Select(c => EfficiencyLeverageLaw.PaperTable2.Leverage(0.03125, 12, c)).ToList();
        charts.Add(Line(cs, ling, "paper's law, Ling-mini-beta (A=3.1 %, G=12)", "#000000", dashed: true));
        charts.Add(Line([1e10, 1e23], [1, 1], "EL = 1", "#999999"));
        return Charts.Style(CSharpChart.Combine(NonEmpty(charts)), "EL vs compute: the paper's law (dashed) and our measurements (points)",
            "training compute C (FLOPs)", "efficiency leverage EL", xType: "log", yType: "log", height: 640);
    }

    /// <summary>Median measured EL per compute budget and MoE arm.</summary>
    public static GenericChart LeverageVsCompute(ElAnalysis a)
    {
        var charts = new List<GenericChart>();
        foreach (var (g, i) in a.Measured.GroupBy(m => m.Run.MoeArm).OrderBy(g => g.Key).Select((g, i) => (g, i)))
        {
            var pts = g.GroupBy(m => m.Run.Budget).OrderBy(b => b.Key)
                .Select(b => (C: b.Average(m => m.Run.Compute), El: SampleStatistics.Median(b.Select(m => m.Leverage)))).ToList();
            charts.Add(CSharpChart.Line<double, double, string>(pts.Select(p => p.C).ToArray(), pts.Select(p => p.El).ToArray(), Name: g.Key,
                ShowMarkers: true, LineColor: Color.fromString(Colour(i)), UseDefaults: false));
        }
        return Charts.Style(CSharpChart.Combine(NonEmpty(charts)), "Our measured EL vs compute (median over seeds)", "training compute C (FLOPs)",
            "efficiency leverage EL", xType: "log");
    }
}
