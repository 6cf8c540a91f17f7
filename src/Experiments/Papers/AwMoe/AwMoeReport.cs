using Microsoft.Data.Analysis;
using MoeLab.Experiments.Plotting;
using MoeLab.Experiments.Reproductions;
using MoeLab.Experiments.Results;
using MoeLab.Metrics.Statistics;
using Plotly.NET;

namespace MoeLab.Experiments.Papers.AwMoe;

/// <summary>One arm of one completed run: its seed and summary values.</summary>
public sealed record AwMoeRow(long Seed, string Arm, IReadOnlyDictionary<string, double> Values);

/// <summary>One claim of the paper's abstract and its verdict on our reconstruction.</summary>
public sealed record AwMoeClaim(string Claim, string Measure, string Evidence, string Verdict);

/// <summary>Tables, figures and claim verdicts of aw-moe runs (read through <see cref="ResultSet"/>).
/// Differences between arms are paired by seed (same data, order and initialisation stream).</summary>
public static class AwMoeReport
{
    public static readonly string[] ArmOrder = Enum.GetValues<AwMoeArm>().Select(AwMoeExperiment.ArmName).ToArray();

    /// <summary>Summary rows of the completed runs in <paramref name="results"/> (optionally only those whose
    /// seed is listed).</summary>
    public static List<AwMoeRow> Rows(ResultSet results, IReadOnlyCollection<long>? seeds = null)
    {
        var frame = results.Summaries;
        var rows = new List<AwMoeRow>();
        if (frame.Rows.Count == 0) return rows;
        var status = FrameColumns.Get(frame, "status");
        var seed = FrameColumns.Get(frame, "seed");
        var arm = FrameColumns.Get(frame, "arm");
        var metrics = results.MetricColumns.Select(m => (m, FrameColumns.Get(frame, m))).ToList();
        for (long r = 0; r < frame.Rows.Count; r++)
        {
            if ((string?)status[r] != "completed") continue;
            long s = (long)(FrameColumns.AsDouble(seed[r]) ?? -1);
            if (seeds is not null && !seeds.Contains(s)) continue;
            var values = new Dictionary<string, double>();
            foreach (var (name, column) in metrics)
                if (FrameColumns.AsDouble(column[r]) is double v && double.IsFinite(v)) values[name] = v;
            rows.Add(new AwMoeRow(s, (string)arm[r]!, values));
        }
        return rows;
    }

    private static IEnumerable<double> Values(IEnumerable<AwMoeRow> rows, string arm, string metric) =>
        rows.Where(r => r.Arm == arm && r.Values.ContainsKey(metric)).OrderBy(r => r.Seed).Select(r => r.Values[metric]);

    private static string MeanSd(IReadOnlyCollection<double> v) => v.Count == 0 ? "–"
        : v.Count == 1 ? $"{v.First():F4}" : $"{SampleStatistics.Mean(v):F4} ± {SampleStatistics.Std(v):F4}";

    /// <summary>Per arm: mean ± sd over seeds of the test metrics (all users, long-tail, head), NMI, gate
    /// cosine after keeping 1 behaviour, parameters, and the number of seeds.</summary>
    public static DataFrame ArmTable(IReadOnlyList<AwMoeRow> rows, int ndcgK = 5)
    {
        string[] metrics =
        [
            "test_auc", "test_gauc", $"test_ndcg{ndcgK}", "test_auc_longtail", "test_gauc_longtail", $"test_ndcg{ndcgK}_longtail",
            "test_auc_head", "test_gauc_head", "val_auc", "test_nmi_expert_persona", "test_gate_cosine_keep1",
        ];
        var arms = ArmOrder.Where(a => rows.Any(r => r.Arm == a)).ToList();
        var columns = new List<DataFrameColumn>
        {
            new StringDataFrameColumn("arm", arms),
            new PrimitiveDataFrameColumn<int>("seeds", arms.Select(a => rows.Count(r => r.Arm == a))),
            new PrimitiveDataFrameColumn<long>("parameters", arms.Select(a => (long)Values(rows, a, "parameters").FirstOrDefault())),
        };
        foreach (string m in metrics)
            columns.Add(new StringDataFrameColumn(m, arms.Select(a => MeanSd(Values(rows, a, m).ToList()))));
        return new DataFrame(columns);
    }

    /// <summary>Paired difference (arm a − arm b) of a metric over the seeds both have: the differences, their
    /// mean, sd and n (pairing by <see cref="PairedComparison"/>, as every reproduction does).</summary>
    public static Paired PairedDifference(IReadOnlyList<AwMoeRow> rows, string a, string b, string metric)
    {
        Dictionary<long, double> Of(string arm) =>
            rows.Where(r => r.Arm == arm && r.Values.ContainsKey(metric)).ToDictionary(r => r.Seed, r => r.Values[metric]);
        return new Paired(PairedComparison.PairedDifferences(Of(a), Of(b)));
    }

    /// <summary>Paired differences and their mean, sd (NaN below 2) and count.</summary>
    public sealed record Paired(IReadOnlyList<double> Differences)
    {
        public int N => Differences.Count;
        public double Mean => N == 0 ? double.NaN : Differences.Average();
        public double Sd => N < 2 ? double.NaN : SampleStatistics.Std(Differences);
    }

    private static string Diff(Paired d) =>
        d.N == 0 ? "–" : d.N == 1 ? $"{d.Mean:+0.0000;-0.0000} (1 seed)" : $"{d.Mean:+0.0000;-0.0000} ± {d.Sd:F4} (n = {d.N})";

    /// <summary>The lab's rule (<see cref="PairedComparison.Judge"/>: the mean favours aw-moe by more than two
    /// standard errors of the paired differences) in this table's words: "supported", "inconclusive (within
    /// noise)" when it favours aw-moe by less, "not supported" when it does not favour aw-moe.</summary>
    private static string Verdict(Paired d) =>
        d.N < 2 ? "inconclusive (fewer than 2 seeds)" : PairedComparison.Judge(d.Differences, higherIsBetter: true) switch
        {
            Reproductions.Verdict.Reproduced => "supported",
            Reproductions.Verdict.NotReproduced => "not supported",
            _ => "inconclusive (within noise)",
        };

    /// <summary>Below this NMI between arg-max expert and persona we do not call experts aligned with
    /// personas, whatever the differences between arms (our bar: 0 = independent, 1 = one expert per persona).</summary>
    public const double AlignmentThreshold = 0.1;

    /// <summary>The four claims of the task, each judged on our runs by paired differences.</summary>
    public static DataFrame Claims(IReadOnlyList<AwMoeRow> rows)
    {
        var claims = new List<AwMoeClaim>();
        foreach (string metric in new[] { "test_auc", "test_gauc" })
            foreach (string baseline in new[] { "moe-feature-gate", "moe-meanpool-gate" })
            {
                var d = PairedDifference(rows, "aw-moe", baseline, metric);
                claims.Add(new AwMoeClaim("AW-MoE beats the MoE baselines", $"{metric}: aw-moe − {baseline}", Diff(d), Verdict(d)));
            }
        foreach (string metric in new[] { "test_auc", "test_gauc" })
        {
            var tail = PairedDifference(rows, "aw-moe", "aw-moe-no-cl", metric + "_longtail");
            var head = PairedDifference(rows, "aw-moe", "aw-moe-no-cl", metric + "_head");
            var gap = PairedGap(rows, metric);
            claims.Add(new AwMoeClaim("The contrastive loss helps long-tail users more than head users",
                $"{metric}: (aw-moe − aw-moe-no-cl) on long-tail minus the same on head",
                $"long-tail {Diff(tail)}; head {Diff(head)}; gap {Diff(gap)}", Verdict(gap)));
        }
        foreach (string baseline in new[] { "aw-moe-no-cl", "moe-meanpool-gate" })
        {
            var d = PairedDifference(rows, "aw-moe", baseline, "test_gate_cosine_keep1");
            claims.Add(new AwMoeClaim("Gates of truncated sequences stay close to the full-sequence gate",
                $"cosine(gate of 1 most recent behaviour, full gate): aw-moe − {baseline}", Diff(d), Verdict(d)));
        }
        var level = Values(rows, "aw-moe", "test_nmi_expert_persona").ToList();
        bool weak = level.Count > 0 && SampleStatistics.Mean(level) < AlignmentThreshold;
        foreach (string baseline in new[] { "aw-moe-no-cl", "moe-meanpool-gate", "moe-feature-gate" })
        {
            var d = PairedDifference(rows, "aw-moe", baseline, "test_nmi_expert_persona");
            string verdict = Verdict(d);
            if (weak) verdict = $"not supported in absolute terms (aw-moe's NMI < {AlignmentThreshold}); relative to {baseline}: {verdict}";
            claims.Add(new AwMoeClaim("Experts align with personas",
                $"NMI(arg-max expert, persona): aw-moe − {baseline} (aw-moe's own NMI {MeanSd(level)})", Diff(d), verdict));
        }
        return new DataFrame(
            new StringDataFrameColumn("claim (paper's abstract)", claims.Select(c => c.Claim)),
            new StringDataFrameColumn("measure on our reconstruction", claims.Select(c => c.Measure)),
            new StringDataFrameColumn("paired difference, mean ± sd over seeds", claims.Select(c => c.Evidence)),
            new StringDataFrameColumn("verdict (our reconstruction)", claims.Select(c => c.Verdict)));
    }

    /// <summary>Per seed: [(aw-moe − no-cl) on long-tail] − [(aw-moe − no-cl) on head].</summary>
    private static Paired PairedGap(IReadOnlyList<AwMoeRow> rows, string metric)
    {
        var gaps = new List<double>();
        foreach (long seed in rows.Select(r => r.Seed).Distinct())
        {
            var aw = rows.FirstOrDefault(r => r.Seed == seed && r.Arm == "aw-moe");
            var no = rows.FirstOrDefault(r => r.Seed == seed && r.Arm == "aw-moe-no-cl");
            if (aw is null || no is null) continue;
            string t = metric + "_longtail", h = metric + "_head";
            if (!(aw.Values.ContainsKey(t) && aw.Values.ContainsKey(h) && no.Values.ContainsKey(t) && no.Values.ContainsKey(h))) continue;
            gaps.Add(aw.Values[t] - no.Values[t] - (aw.Values[h] - no.Values[h]));
        }
        return new Paired(gaps);
    }

    /// <summary>One row per completed AW-MoE run of a sensitivity sweep: its unknowns (K, ρ, τ, λ, views) and
    /// validation metrics (selection reads validation only), sorted by validation AUC.</summary>
    public static DataFrame Sensitivity(ResultSet results)
    {
        var rows = new List<(AwMoeConfig Config, AwMoeRow Row)>();
        foreach (var record in results.Records.Where(r => r.IsCompleted && r.ConfigJson is not null))
        {
            var config = System.Text.Json.JsonSerializer.Deserialize<AwMoeConfig>(record.ConfigJson!, MoeLab.Experiments.Runtime.ConfigJson.Options)!;
            if (Rows(ResultSet.Load(record.Directory)).FirstOrDefault(x => x.Arm == "aw-moe") is { } own) rows.Add((config, own));
        }
        rows = rows.OrderByDescending(r => r.Row.Values.GetValueOrDefault("val_auc")).ToList();
        double V(AwMoeRow r, string k) => r.Values.TryGetValue(k, out var v) ? v : double.NaN;
        return new DataFrame(
            new PrimitiveDataFrameColumn<int>("experts K", rows.Select(r => r.Config.Model.Experts)),
            new PrimitiveDataFrameColumn<double>("mask ratio ρ", rows.Select(r => r.Config.Contrastive.MaskRatio)),
            new PrimitiveDataFrameColumn<double>("temperature τ", rows.Select(r => r.Config.Contrastive.Temperature)),
            new PrimitiveDataFrameColumn<double>("weight λ", rows.Select(r => r.Config.Contrastive.Weight)),
            new StringDataFrameColumn("views", rows.Select(r => r.Config.Contrastive.Views.ToString())),
            new PrimitiveDataFrameColumn<long>("seed", rows.Select(r => r.Row.Seed)),
            new PrimitiveDataFrameColumn<double>("val_auc", rows.Select(r => V(r.Row, "val_auc"))),
            new PrimitiveDataFrameColumn<double>("val_gauc", rows.Select(r => V(r.Row, "val_gauc"))),
            new PrimitiveDataFrameColumn<double>("val_auc_longtail", rows.Select(r => V(r.Row, "val_auc_longtail"))),
            new PrimitiveDataFrameColumn<double>("val_gauc_longtail", rows.Select(r => V(r.Row, "val_gauc_longtail"))));
    }

    /// <summary>Grouped bars: test AUC and GAUC per arm for all, long-tail and head users (mean ± sd).</summary>
    public static GenericChart AucByArmChart(IReadOnlyList<AwMoeRow> rows, string metric = "test_auc")
    {
        var arms = ArmOrder.Where(a => rows.Any(r => r.Arm == a)).ToList();
        var series = new[] { ("all users", metric), ("long-tail users", metric + "_longtail"), ("head users", metric + "_head") }
            .Select(s => new BarSeries(s.Item1, arms,
                arms.Select(a => SampleStatistics.Mean(Values(rows, a, s.Item2))).ToList(),
                arms.Select(a => SampleStatistics.Std(Values(rows, a, s.Item2))).ToList()));
        return Charts.Bars(series, $"{metric} by arm (mean ± sd over seeds; our reconstruction)", "arm", metric);
    }

    /// <summary>Mean cosine between the gate of the m most recent behaviours and the full-sequence gate,
    /// against m, one line per MoE arm (mean ± sd over seeds).</summary>
    public static GenericChart GateSimilarityChart(IReadOnlyList<AwMoeRow> rows)
    {
        var keys = rows.SelectMany(r => r.Values.Keys).Where(k => k.StartsWith("test_gate_cosine_keep", StringComparison.Ordinal)).Distinct()
            .Select(k => (Key: k, M: double.Parse(k["test_gate_cosine_keep".Length..], System.Globalization.CultureInfo.InvariantCulture))).OrderBy(k => k.M).ToList();
        var series = ArmOrder.Where(a => rows.Any(r => r.Arm == a && r.Values.Keys.Any(k => k.StartsWith("test_gate_cosine", StringComparison.Ordinal))))
            .Select(a => new BandSeries(a, keys.Select(k => k.M).ToList(),
                keys.Select(k => SampleStatistics.Mean(Values(rows, a, k.Key))).ToList(),
                keys.Select(k => SampleStatistics.Std(Values(rows, a, k.Key))).ToList()));
        return Charts.LineWithBand(series, "Gate similarity vs behaviours kept (test users with long histories)", "most recent behaviours kept (m)", "mean cosine to full-sequence gate");
    }
}
