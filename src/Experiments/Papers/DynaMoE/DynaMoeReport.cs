using System.Globalization;
using Microsoft.Data.Analysis;
using MoeLab.Experiments.Plotting;
using MoeLab.Experiments.Results;
using MoeLab.Experiments.Runtime;
using Plotly.NET;

namespace MoeLab.Experiments.Papers.DynaMoE;

/// <summary>The schedule chosen on validation across seeds.</summary>
/// <param name="Arm">The dynamic (batch-percentile) schedule arm with the best mean validation metric over seeds.</param>
/// <param name="Seeds">Completed runs (seeds) of that arm.</param>
public sealed record ScheduleChoice(string Arm, double ValidationMean, double TestMean, double TestStd, int Seeds);

/// <summary>DynaMoE's tables and charts, read from completed runs through <see cref="ResultSet"/> (the
/// runtime's reader: manifests, summaries, seed aggregation), so a notebook, <c>moelab report</c> and
/// the tests see the same numbers.
/// <para>One selection rule, stated: the schedule is the dynamic (batch-percentile) arm with the best
/// <b>mean validation</b> metric over seeds (highest accuracy, lowest perplexity); its test metric is
/// then reported as mean ± sample std over the same seeds. Test numbers never take part in the choice.</para></summary>
public static class DynaMoeReport
{
    /// <summary>Label columns of a DynaMoE summary row (<see cref="DynaMoeRunner.Labels"/>).</summary>
    public static readonly IReadOnlyList<string> LabelKeys = ["kind", "routing", "schedule", "budget", "experts_per_layer"];

    /// <summary>Per arm, in the runs' arm order: the labels, seeds (n) and, for each measured value,
    /// mean, std, 95 % CI and n over completed runs (<see cref="SeedAggregation"/> columns
    /// "&lt;value&gt;.mean" …). Values: test and validation metric, parameters, experts per token and its
    /// spread, gradient-norm statistics, wall time.</summary>
    public static DataFrame Aggregate(ResultSet results, string metric)
    {
        var metrics = new[]
        {
            $"test_{metric}", $"val_{metric}", "total_params", "active_params", "experts_per_token_mean", "experts_per_token_std",
            "grad_relvar_init", "grad_relvar_final", "wall_seconds",
        }.Where(results.MetricColumns.Contains).ToList();
        var keys = new[] { "arm" }.Concat(LabelKeys.Where(results.LabelColumns.Contains)).ToList();
        var table = results.Aggregate(keys, metrics);
        // Back into the order the arms ran in (the seed aggregation sorts by key).
        var order = ArmOrder(results);
        var arm = FrameColumns.Get(table, "arm");
        var rows = Enumerable.Range(0, (int)table.Rows.Count).Select(r => (long)r)
            .OrderBy(r => order.TryGetValue(FrameColumns.Format(arm[r]), out int i) ? i : int.MaxValue).ToList();
        return FrameColumns.Take(table, rows);
    }

    /// <summary>The selection rule of this class (see its summary); null when the runs hold no dynamic schedule arm.</summary>
    public static ScheduleChoice? SelectSchedule(ResultSet results, string metric)
    {
        bool lower = metric == "perplexity";
        var candidates = Rows(Aggregate(results, metric))
            .Where(r => r.Label("kind") == nameof(ArmKind.Percentile) && r.Label("routing") == "dynamic" && double.IsFinite(r.Mean($"val_{metric}")))
            .ToList();
        if (candidates.Count == 0) return null;
        var best = lower ? candidates.MinBy(r => r.Mean($"val_{metric}"))! : candidates.MaxBy(r => r.Mean($"val_{metric}"))!;
        return new ScheduleChoice(best.Arm, best.Mean($"val_{metric}"), best.Mean($"test_{metric}"), best.Std($"test_{metric}"), best.Seeds);
    }

    /// <summary>The paper's key comparison: test metric (mean ± std over seeds) per capacity schedule, one
    /// series per budget mode of the batch-percentile arms (uniform belongs to both), and the baselines
    /// (dense, top-k, per-token percentile, top-p) as their own series. Points with error bars on an
    /// axis that fits the values (log for perplexity).</summary>
    public static GenericChart ScheduleChart(ResultSet results, string metric)
    {
        var rows = Rows(Aggregate(results, metric));
        string value = $"test_{metric}";
        double scale = metric == "accuracy" ? 100 : 1;
        var series = new List<BarSeries>();
        foreach (string budget in new[] { "matched", "published" })
        {
            var arms = rows.Where(r => r.Label("kind") == nameof(ArmKind.Percentile) && r.Label("routing") == "dynamic"
                && (r.Label("budget") == budget || r.Label("schedule") == "uniform")).ToList();
            if (!arms.Any(r => r.Label("budget") == budget)) continue;
            series.Add(new BarSeries($"batch percentile, {budget} budget", arms.Select(r => r.Label("schedule")).ToList(),
                arms.Select(r => r.Mean(value) * scale).ToList(), arms.Select(r => r.Std(value) * scale).ToList()));
        }
        var baselines = rows.Where(r => !(r.Label("kind") == nameof(ArmKind.Percentile) && r.Label("routing") == "dynamic")).ToList();
        if (baselines.Count > 0)
            series.Add(new BarSeries("baselines (uniform capacity)", baselines.Select(r => r.Arm).ToList(),
                baselines.Select(r => r.Mean(value) * scale).ToList(), baselines.Select(r => r.Std(value) * scale).ToList()));
        int seeds = rows.Count == 0 ? 0 : rows.Max(r => r.Seeds);
        string yTitle = metric == "accuracy" ? "test accuracy (%), mean ± std" : "test perplexity, mean ± std (log scale)";
        return Charts.PointRange(series, $"DynaMoE: test {metric} by capacity schedule ({seeds} seed{(seeds == 1 ? "" : "s")})",
            "capacity schedule / arm", yTitle, yType: metric == "perplexity" ? "log" : "-",
            legendTitle: seeds < 2 ? "one seed: no spread" : $"mean ± 1 sd, n = {seeds} seeds");
    }

    /// <summary>Share of test tokens that used j experts, one series per layer, for one arm of one run
    /// (its tables/experts_per_token.csv).</summary>
    public static GenericChart HistogramChart(string runDirectory, string arm)
    {
        string path = Path.Combine(runDirectory, RunLayout.Tables, "experts_per_token.csv");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} not found: is {runDirectory} a DynaMoE run?", path);
        var table = FrameIO.LoadCsv(path);
        var arms = FrameColumns.Get(table, "arm");
        var layer = FrameColumns.Get(table, "layer");
        var experts = FrameColumns.Get(table, "experts");
        var share = FrameColumns.Get(table, "share");
        var mine = Enumerable.Range(0, (int)table.Rows.Count).Where(r => FrameColumns.Format(arms[r]) == arm).ToList();
        if (mine.Count == 0) throw new ArgumentException($"arm '{arm}' has no experts-per-token histogram in {path}.");
        var series = mine.GroupBy(r => Convert.ToInt32(layer[r], CultureInfo.InvariantCulture)).Select(g => new BarSeries($"layer {g.Key}",
            g.Select(r => FrameColumns.Format(experts[r])).ToList(), g.Select(r => FrameColumns.AsDouble(share[r]) ?? double.NaN).ToList()));
        return Charts.Bars(series, $"Experts per token: {arm}", "experts activated per token", "share of test tokens", legendTitle: "layer");
    }

    /// <summary>Share of test tokens that activated j experts, pooled over layers and seeds (each run's
    /// tables/experts_per_token.csv, layers weighted equally), one series per arm in <paramref name="arms"/>
    /// (arms the runs lack are left out). Fixed routers give a single bar; dynamic ones spread.</summary>
    public static GenericChart ExpertsPerTokenChart(ResultSet results, IReadOnlyList<string> arms)
    {
        var shares = arms.ToDictionary(a => a, _ => new SortedDictionary<int, double>());
        var tables = new Dictionary<string, int>(); // arm → (run, layer) tables pooled
        foreach (var run in results.Records.Where(r => r.IsCompleted))
        {
            string path = Path.Combine(run.TablesDirectory, "experts_per_token.csv");
            if (!File.Exists(path)) throw new FileNotFoundException($"{path} not found: is {run.Directory} a DynaMoE run?", path);
            var t = FrameIO.LoadCsv(path);
            var arm = FrameColumns.Get(t, "arm");
            var experts = FrameColumns.Get(t, "experts");
            var share = FrameColumns.Get(t, "share");
            var layer = FrameColumns.Get(t, "layer");
            var seen = new HashSet<(string, string)>();
            for (long r = 0; r < t.Rows.Count; r++)
            {
                string a = FrameColumns.Format(arm[r]);
                if (!shares.TryGetValue(a, out var bins)) continue;
                int j = Convert.ToInt32(experts[r], CultureInfo.InvariantCulture);
                bins[j] = bins.GetValueOrDefault(j) + (FrameColumns.AsDouble(share[r]) ?? 0);
                if (seen.Add((a, FrameColumns.Format(layer[r])))) tables[a] = tables.GetValueOrDefault(a) + 1;
            }
        }
        var present = arms.Where(a => tables.GetValueOrDefault(a) > 0).ToList();
        if (present.Count == 0) throw new ArgumentException($"none of the arms {string.Join(", ", arms)} has an experts-per-token table in these runs.");
        int lo = present.SelectMany(a => shares[a].Where(kv => kv.Value > 0).Select(kv => kv.Key)).DefaultIfEmpty(0).Min();
        int hi = present.SelectMany(a => shares[a].Where(kv => kv.Value > 0).Select(kv => kv.Key)).DefaultIfEmpty(0).Max();
        var categories = Enumerable.Range(lo, hi - lo + 1).Select(j => j.ToString(CultureInfo.InvariantCulture)).ToList();
        var series = present.Select(a => new BarSeries(a, categories,
            Enumerable.Range(lo, hi - lo + 1).Select(j => 100 * shares[a].GetValueOrDefault(j) / tables[a]).ToList()));
        int runs = results.Records.Count(r => r.IsCompleted);
        return Charts.Bars(series, $"Experts activated per test token (all layers, {runs} run{(runs == 1 ? "" : "s")} pooled)",
            "experts activated per token", "share of test tokens (%)", legendTitle: "arm (router)");
    }

    private static Dictionary<string, int> ArmOrder(ResultSet results)
    {
        var order = new Dictionary<string, int>();
        var arm = FrameColumns.Get(results.Summaries, "arm");
        for (long r = 0; r < arm.Length; r++) order.TryAdd(FrameColumns.Format(arm[r]), order.Count);
        return order;
    }

    private sealed record Row(string Arm, int Seeds, Func<string, string> Label, Func<string, double> Mean, Func<string, double> Std);

    private static List<Row> Rows(DataFrame aggregated)
    {
        var list = new List<Row>();
        var arm = FrameColumns.Get(aggregated, "arm");
        var n = FrameColumns.Get(aggregated, SeedAggregation.Rows);
        for (long r = 0; r < aggregated.Rows.Count; r++)
        {
            long row = r;
            string Label(string key) => FrameColumns.Has(aggregated, key) ? FrameColumns.Format(FrameColumns.Get(aggregated, key)[row]) : "";
            double Get(string column) => FrameColumns.Has(aggregated, column) ? FrameColumns.AsDouble(FrameColumns.Get(aggregated, column)[row]) ?? double.NaN : double.NaN;
            list.Add(new Row(FrameColumns.Format(arm[row]), (int)(FrameColumns.AsDouble(n[row]) ?? 0), Label,
                key => Get(key + SeedAggregation.Mean), key => Get(key + SeedAggregation.Std)));
        }
        return list;
    }
}
