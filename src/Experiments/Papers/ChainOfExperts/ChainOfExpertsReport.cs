using Microsoft.Data.Analysis;
using MoeLab.Experiments.Plotting;
using MoeLab.Experiments.Results;
using MoeLab.Metrics.Statistics;
using Plotly.NET;
using CSharpChart = Plotly.NET.CSharp.Chart;

namespace MoeLab.Experiments.Papers.ChainOfExperts;

/// <summary>One arm of one run, as read from its summary.</summary>
public sealed record CoeRunRow(string Corpus, string Arm, long Seed, IReadOnlyDictionary<string, double> Values);

/// <summary>Mean ± sd over seeds of one arm on one corpus (95 % CI half-width from Student's t).</summary>
public sealed record CoeArmAggregate(string Corpus, string Arm, int Seeds, double ValLossMean, double ValLossStd, double ValLossCi95,
    double FfnFlopsPerToken, double FlopsPerToken, double TotalParams, double ParamMiB, double PeakRssMiB, double TokensPerSecond,
    double OverlapJaccard, double OverlapChance);

/// <summary>Tables and figures of Chain-of-Experts runs (loaded through <see cref="ResultSet"/>), and the
/// paper's own numbers (Wang et al. 2025, single runs, validation loss at step 1,000), kept apart from ours.</summary>
public static class ChainOfExpertsReport
{
    /// <summary>The paper's published validation losses (their Table/figures; single seed each), keyed by
    /// our arm names. NOT our results.</summary>
    public static readonly IReadOnlyDictionary<string, double> PaperValidationLoss = new Dictionary<string, double>
    {
        ["moe-k"] = 1.196, ["coe-c2-half-k"] = 1.121, ["coe-c2-k"] = 1.120, ["moe-2k"] = 1.166, ["moe-3k"] = 1.175,
        ["coe-c2-half-k-fewer-experts"] = 1.210, ["moe-k-2x-layers"] = 1.109, ["moe-k-3x-layers"] = 1.070,
        ["coe-c2-k-shared-router"] = 1.244, ["coe-c2-k-outer-residual"] = 1.176, ["dense-c1"] = 1.232, ["dense-c2"] = 1.293,
    };

    /// <summary>Every completed arm of every run in <paramref name="results"/>.</summary>
    public static List<CoeRunRow> Rows(ResultSet results)
    {
        var s = results.Summaries;
        if (s.Rows.Count == 0) return [];
        var arm = FrameColumns.Get(s, "arm");
        var seed = FrameColumns.Get(s, "seed");
        var status = FrameColumns.Get(s, "status");
        var corpus = s.Columns.Any(c => c.Name == "corpus") ? FrameColumns.Get(s, "corpus") : null;
        var metrics = results.MetricColumns.Select(n => (n, FrameColumns.Get(s, n))).ToList();
        var rows = new List<CoeRunRow>();
        for (long r = 0; r < s.Rows.Count; r++)
        {
            if ((string?)status[r] != "completed") continue;
            var values = new Dictionary<string, double>();
            foreach (var (name, col) in metrics)
                if (FrameColumns.AsDouble(col[r]) is double v) values[name] = v;
            rows.Add(new CoeRunRow((string?)corpus?[r] ?? "Arithmetic", (string)arm[r]!, Convert.ToInt64(seed[r]), values));
        }
        return rows;
    }

    private static double Get(IReadOnlyDictionary<string, double> v, string k) => v.TryGetValue(k, out double x) ? x : double.NaN;

    /// <summary>Per (corpus, arm), in <see cref="ChainOfExpertsArm.AllNames"/> order.</summary>
    public static List<CoeArmAggregate> Aggregate(IEnumerable<CoeRunRow> rows)
    {
        var order = ChainOfExpertsArm.AllNames.Select((a, i) => (a, i)).ToDictionary(p => p.a, p => p.i);
        return rows.GroupBy(r => (r.Corpus, r.Arm))
            .OrderBy(g => g.Key.Corpus == "Arithmetic" ? 0 : 1).ThenBy(g => order.GetValueOrDefault(g.Key.Arm, 99))
            .Select(g =>
            {
                var loss = g.Select(r => Get(r.Values, "val_loss")).ToList();
                double sd = SampleStatistics.Std(loss);
                double ci = loss.Count > 1 ? MathNet.Numerics.Distributions.StudentT.InvCDF(0, 1, loss.Count - 1, 0.975) * sd / Math.Sqrt(loss.Count) : double.NaN;
                double Mean(string k) => SampleStatistics.Mean(g.Select(r => Get(r.Values, k)));
                return new CoeArmAggregate(g.Key.Corpus, g.Key.Arm, g.Count(), SampleStatistics.Mean(loss), sd, ci,
                    Mean("ffn_flops_per_token"), Mean("flops_per_token"), Mean("total_params"), Mean("param_mib"), Mean("peak_rss_mib"),
                    Mean("tokens_per_second"), Mean("overlap_jaccard"), Mean("overlap_chance_jaccard"));
            }).ToList();
    }

    /// <summary>The aggregate as a table, with the paper's value beside ours (labelled as theirs).</summary>
    public static DataFrame Table(IReadOnlyList<CoeArmAggregate> a) => new(
        new StringDataFrameColumn("corpus", a.Select(x => x.Corpus)),
        new StringDataFrameColumn("arm", a.Select(x => x.Arm)),
        new PrimitiveDataFrameColumn<int>("seeds", a.Select(x => x.Seeds)),
        new PrimitiveDataFrameColumn<double>("val_loss_mean", a.Select(x => Math.Round(x.ValLossMean, 4))),
        new PrimitiveDataFrameColumn<double>("val_loss_sd", a.Select(x => Math.Round(x.ValLossStd, 4))),
        new PrimitiveDataFrameColumn<double>("val_loss_ci95", a.Select(x => Math.Round(x.ValLossCi95, 4))),
        new PrimitiveDataFrameColumn<double>("ffn_mflops_per_token", a.Select(x => Math.Round(x.FfnFlopsPerToken / 1e6, 3))),
        new PrimitiveDataFrameColumn<double>("mflops_per_token", a.Select(x => Math.Round(x.FlopsPerToken / 1e6, 3))),
        new PrimitiveDataFrameColumn<double>("params_m", a.Select(x => Math.Round(x.TotalParams / 1e6, 3))),
        new PrimitiveDataFrameColumn<double>("peak_rss_mib", a.Select(x => Math.Round(x.PeakRssMiB, 0))),
        new PrimitiveDataFrameColumn<double>("tokens_per_s", a.Select(x => Math.Round(x.TokensPerSecond, 0))),
        new PrimitiveDataFrameColumn<double>("jaccard_it1_it2", a.Select(x => Math.Round(x.OverlapJaccard, 3))),
        new PrimitiveDataFrameColumn<double>("jaccard_chance", a.Select(x => Math.Round(x.OverlapChance, 3))),
        new PrimitiveDataFrameColumn<double>("paper_val_loss_single_seed", a.Select(x => x.Corpus == "Arithmetic" && PaperValidationLoss.TryGetValue(x.Arm, out double p) ? p : double.NaN)));

    /// <summary>Held-out loss vs step, mean ± sd over seeds, one line per arm (one corpus).</summary>
    public static GenericChart LossCurves(ResultSet results, string corpus = "Arithmetic")
    {
        var h = results.History;
        var metric = FrameColumns.Get(h, "metric");
        var corpusCol = h.Columns.Any(c => c.Name == "config.data.corpus") ? FrameColumns.Get(h, "config.data.corpus") : null;
        var rows = FrameColumns.Filter(h, r => (string?)metric[r] == "val_loss" && (corpusCol is null || ((string?)corpusCol[r] ?? "Arithmetic") == corpus));
        var agg = SeedAggregation.Aggregate(rows, new[] { "arm", "step" }, new[] { "value" });
        return Charts.LineWithBand(Charts.BandsFromAggregate(agg, new[] { "arm" }, "step", "value"),
            $"Held-out loss vs steps ({corpus}; mean ± sd over seeds)", "step", "held-out next-token loss");
    }

    /// <summary>Final held-out loss (mean, error bar = sd) against <paramref name="x"/> per arm.</summary>
    public static GenericChart LossVs(IReadOnlyList<CoeArmAggregate> aggregates, Func<CoeArmAggregate, double> x, string xTitle, string corpus = "Arithmetic")
    {
        var parts = new List<GenericChart>();
        int i = 0;
        foreach (var a in aggregates.Where(a => a.Corpus == corpus))
        {
            string color = Charts.Palette[i++ % Charts.Palette.Count];
            var point = CSharpChart.Point<double, double, string>(x: new[] { x(a) }, y: new[] { a.ValLossMean }, Name: $"{a.Arm} (n={a.Seeds})",
                MarkerColor: Color.fromString(color), UseDefaults: false);
            if (!double.IsNaN(a.ValLossStd))
                point = GenericChart.mapTrace(Microsoft.FSharp.Core.FuncConvert.FromFunc<Trace, Trace>(t =>
                {
                    t.SetProperty("error_y", new Dictionary<string, object>
                    {
                        ["type"] = "data", ["symmetric"] = true, ["array"] = new[] { a.ValLossStd }, ["visible"] = true, ["color"] = color,
                    });
                    return t;
                }), point);
            parts.Add(point);
        }
        if (parts.Count == 0) throw new ArgumentException($"no {corpus} runs to plot");
        return Charts.Style(CSharpChart.Combine(parts), $"Final held-out loss vs {xTitle} ({corpus})", xTitle, "held-out loss (mean ± sd)");
    }

    /// <summary>A claim of the paper as "arm A has lower held-out loss than arm B" (or, with
    /// <paramref name="ExpectLower"/> false, "A is not better than B").</summary>
    public sealed record Claim(string Text, string A, string B, bool ExpectLower = true);

    /// <summary>The claims the issue lists, in the paper's words (ours) and as arm comparisons.</summary>
    public static readonly IReadOnlyList<Claim> Claims =
    [
        new("CoE below MoE at equal routed compute (C=2, K/2 vs C=1, K)", "coe-c2-half-k", "moe-k"),
        new("More iterations beat more experts per token (C=2, K vs C=1, 2K: same routed compute)", "coe-c2-k", "moe-2k"),
        new("CoE with 25 % fewer experts (less memory) no worse than MoE(K)", "coe-c2-half-k-fewer-experts", "moe-k"),
        new("A shared router hurts (one router vs one per iteration)", "coe-c2-k", "coe-c2-k-shared-router"),
        new("The outer residual hurts", "coe-c2-k", "coe-c2-k-outer-residual"),
        new("Iterating a dense layer gains nothing (C=2 not better than C=1)", "dense-c2", "dense-c1", ExpectLower: false),
        new("CoE C=2 vs MoE with 2× layers (the paper: deeper MoE is better)", "coe-c2-k", "moe-k-2x-layers"),
    ];

    /// <summary>Each claim on one corpus: our means ± sd (n seeds), the difference A − B paired by seed (every
    /// arm of a seed shares the data order and initialisation stream), its standard error, the lab's verdict
    /// (<see cref="Reproductions.PairedComparison.Judge"/>: the mean favours the claim by more than two standard
    /// errors; fewer than 2 paired seeds: no verdict), and the paper's single-seed numbers, labelled as the paper's.</summary>
    public static DataFrame ClaimsTable(IReadOnlyList<CoeRunRow> rows, IReadOnlyList<CoeArmAggregate> aggregates, string corpus = "Arithmetic")
    {
        var byArm = aggregates.Where(a => a.Corpus == corpus).ToDictionary(a => a.Arm);
        Dictionary<long, double> Loss(string arm) => rows.Where(r => r.Corpus == corpus && r.Arm == arm && r.Values.ContainsKey("val_loss"))
            .GroupBy(r => r.Seed).ToDictionary(g => g.Key, g => g.First().Values["val_loss"]);
        var text = new List<string>(); var ours = new List<string>(); var diff = new List<double>(); var se = new List<double>();
        var pairs = new List<int>(); var verdict = new List<string>(); var paper = new List<string>();
        foreach (var c in Claims)
        {
            if (!byArm.TryGetValue(c.A, out var a) || !byArm.TryGetValue(c.B, out var b)) continue;
            var d = Reproductions.PairedComparison.PairedDifferences(Loss(c.A), Loss(c.B));
            double mean = d.Count > 0 ? d.Average() : double.NaN;
            double e = SampleStatistics.StandardError(d);
            string v;
            if (d.Count < 2) v = $"no verdict ({d.Count} paired seed{(d.Count == 1 ? "" : "s")})";
            else if (c.ExpectLower)
                v = Reproductions.PairedComparison.Judge(d, higherIsBetter: false) switch
                {
                    Reproductions.Verdict.Reproduced => "supported",
                    Reproductions.Verdict.NotReproduced => mean > 2 * e ? "contradicted (B lower by > 2 SE)" : "not supported (A not lower)",
                    _ => "not resolved (A lower, within 2 SE)",
                };
            else // "A is not better than B": contradicted only when A is lower by more than two standard errors
                v = Reproductions.PairedComparison.Judge(d, higherIsBetter: false) == Reproductions.Verdict.Reproduced
                    ? "contradicted (iterating helped)" : "supported";
            text.Add(c.Text);
            ours.Add($"{c.A} {a.ValLossMean:F4} ± {a.ValLossStd:F4} (n={a.Seeds}) vs {c.B} {b.ValLossMean:F4} ± {b.ValLossStd:F4} (n={b.Seeds})");
            diff.Add(Math.Round(mean, 4)); se.Add(Math.Round(e, 4)); pairs.Add(d.Count); verdict.Add(v);
            paper.Add(PaperValidationLoss.TryGetValue(c.A, out double pa) && PaperValidationLoss.TryGetValue(c.B, out double pb)
                ? $"paper (single seed): {pa:F3} vs {pb:F3}, diff {pa - pb:+0.000;-0.000}" : "–");
        }
        return new DataFrame(new StringDataFrameColumn("claim", text), new StringDataFrameColumn("ours", ours),
            new PrimitiveDataFrameColumn<double>("paired_diff_A_minus_B", diff), new PrimitiveDataFrameColumn<double>("paired_se", se),
            new PrimitiveDataFrameColumn<int>("paired_seeds", pairs),
            new StringDataFrameColumn("verdict", verdict), new StringDataFrameColumn("paper", paper));
    }
}
