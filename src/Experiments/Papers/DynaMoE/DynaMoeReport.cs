using MoeLab.Experiments.Results;
using MoeLab.Metrics.Statistics;
using System.Globalization;
using Microsoft.Data.Analysis;
using MoeLab.Experiments.Runtime;
using Plotly.NET;

namespace MoeLab.Experiments.Papers.DynaMoE;

/// <summary>One arm's summary row of one run (one seed).</summary>
public sealed record DynaMoeSummaryRow(string Run, string Arm, IReadOnlyDictionary<string, string> Labels, IReadOnlyDictionary<string, double> Values)
{
    public double Get(string key) => Values.TryGetValue(key, out double v) ? v : double.NaN;
    public string Label(string key) => Labels.TryGetValue(key, out string? s) ? s : "";
}

/// <summary>Reads DynaMoE runs from disk (summary.csv and tables/ of each run directory, the
/// layout of <see cref="RunLayout"/>) and builds the notebook's tables and charts: mean ± std over
/// seeds per arm, the schedule chosen on validation, the schedule comparison chart and the
/// experts-per-token histograms.</summary>
public static class DynaMoeReport
{
    /// <summary>Run directories under <paramref name="root"/> (recursively) holding a summary.csv,
    /// whose folder name starts with <paramref name="prefix"/> (e.g. "cpu-seed").</summary>
    public static IReadOnlyList<string> FindRuns(string root, string prefix = "")
    {
        if (!Directory.Exists(root)) return [];
        return Directory.EnumerateFiles(root, RunLayout.Summary, SearchOption.AllDirectories)
            .Select(Path.GetDirectoryName).OfType<string>()
            .Where(d => Path.GetFileName(d).StartsWith(prefix, StringComparison.Ordinal))
            .OrderBy(d => d, StringComparer.Ordinal).ToList();
    }

    /// <summary>Summary rows of the given runs. Columns: arm, then label columns (non-numeric), then metrics.</summary>
    public static List<DynaMoeSummaryRow> LoadSummaries(IEnumerable<string> runDirectories)
    {
        var rows = new List<DynaMoeSummaryRow>();
        foreach (string dir in runDirectories)
        {
            string path = Path.Combine(dir, RunLayout.Summary);
            var lines = Csv.Parse(File.ReadAllText(path), path);
            if (lines.Count == 0) throw new InvalidDataException($"{path}: empty summary.");
            string[] header = lines[0].Select(f => f.Text).ToArray();
            if (header[0] != "arm") throw new InvalidDataException($"{path}: first column is '{header[0]}', expected 'arm'.");
            foreach (var (row, number) in lines.Skip(1).Select((row, i) => (row, i + 2)))
            {
                string[] cells = row.Select(f => f.Text).ToArray();
                if (cells.Length != header.Length) throw new InvalidDataException($"{path}: row {number} has {cells.Length} cells, header has {header.Length}.");
                var labels = new Dictionary<string, string>();
                var values = new Dictionary<string, double>();
                for (int i = 1; i < header.Length; i++)
                {
                    if (cells[i].Length == 0) continue;
                    if (double.TryParse(cells[i], NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && !IsLabel(header[i])) values[header[i]] = v;
                    else labels[header[i]] = cells[i];
                }
                rows.Add(new DynaMoeSummaryRow(Path.GetFileName(dir), cells[0], labels, values));
            }
        }
        return rows;
    }

    private static bool IsLabel(string column) => column is "kind" or "routing" or "schedule" or "budget" or "experts_per_layer" or "selected_arm";

    /// <summary>Per arm (in first-seen order): seeds, mean ± std (sample std) of the test and validation
    /// metric, parameters, experts per token and its spread, gradient-norm statistics and time.</summary>
    public static DataFrame Aggregate(IReadOnlyList<DynaMoeSummaryRow> rows, string metric)
    {
        var arms = rows.Where(r => r.Arm != "selected-schedule").Select(r => r.Arm).Distinct().ToList();
        var cArm = new StringDataFrameColumn("arm");
        var cRouting = new StringDataFrameColumn("routing");
        var cBudget = new StringDataFrameColumn("budget");
        var cLayers = new StringDataFrameColumn("experts_per_layer");
        var cSeeds = new Int32DataFrameColumn("seeds");
        var numeric = new (string Name, string Key, bool Std)[]
        {
            ($"test_{metric}_mean", $"test_{metric}", false), ($"test_{metric}_std", $"test_{metric}", true),
            ($"val_{metric}_mean", $"val_{metric}", false), ($"val_{metric}_std", $"val_{metric}", true),
            ("total_params", "total_params", false), ("active_params", "active_params", false),
            ("experts_per_token", "experts_per_token_mean", false), ("experts_per_token_spread", "experts_per_token_std", false),
            ("grad_var_init", "grad_var_init", false), ("grad_relvar_init", "grad_relvar_init", false),
            ("grad_var_final", "grad_var_final", false), ("grad_relvar_final", "grad_relvar_final", false),
            ("wall_seconds", "wall_seconds", false),
        };
        var columns = numeric.Select(n => new DoubleDataFrameColumn(n.Name)).ToArray();
        foreach (string arm in arms)
        {
            var mine = rows.Where(r => r.Arm == arm).ToList();
            cArm.Append(arm); cRouting.Append(mine[0].Label("routing")); cBudget.Append(mine[0].Label("budget"));
            cLayers.Append(mine[0].Label("experts_per_layer")); cSeeds.Append(mine.Count);
            for (int i = 0; i < numeric.Length; i++)
            {
                var xs = mine.Select(r => r.Get(numeric[i].Key)).Where(double.IsFinite).ToArray();
                columns[i].Append(xs.Length == 0 ? null : numeric[i].Std ? SampleStatistics.Std(xs) : xs.Average());
            }
        }
        return new DataFrame(new DataFrameColumn[] { cArm, cRouting, cBudget, cLayers, cSeeds }.Concat(columns));
    }

    /// <summary>The dynamic schedule arm with the best MEAN validation metric over seeds (never test),
    /// and its test mean ± std. Null when no such arm was run.</summary>
    public static (string Arm, double TestMean, double TestStd, double ValidationMean)? SelectSchedule(IReadOnlyList<DynaMoeSummaryRow> rows, string metric)
    {
        bool lower = metric == "perplexity";
        var groups = rows.Where(r => r.Label("kind") == nameof(ArmKind.Percentile) && r.Label("routing") == "dynamic")
            .GroupBy(r => r.Arm).Select(g => (Arm: g.Key, Val: g.Average(r => r.Get($"val_{metric}")),
                Tests: g.Select(r => r.Get($"test_{metric}")).ToArray())).ToList();
        if (groups.Count == 0) return null;
        var best = lower ? groups.MinBy(g => g.Val) : groups.MaxBy(g => g.Val);
        return (best.Arm, best.Tests.Average(), SampleStatistics.Std(best.Tests), best.Val);
    }

    /// <summary>Grouped bars: test metric mean per schedule (x), one series per budget mode of the
    /// dynamic schedule arms, plus the uniform top-k and dense baselines as their own bars.</summary>
    public static GenericChart ScheduleChart(IReadOnlyList<DynaMoeSummaryRow> rows, string metric)
    {
        var charts = new List<GenericChart>();
        foreach (string budget in new[] { "matched", "published" })
        {
            var arms = rows.Where(r => r.Label("kind") == nameof(ArmKind.Percentile) && r.Label("routing") == "dynamic" && r.Label("budget") == budget)
                .GroupBy(r => r.Label("schedule")).ToList();
            if (budget == "published")  // uniform is trained once and belongs to both comparisons
                arms.AddRange(rows.Where(r => r.Arm.StartsWith("uniform-batch-", StringComparison.Ordinal)).GroupBy(r => r.Label("schedule")));
            if (arms.Count == 0) continue;
            charts.Add(Plotly.NET.CSharp.Chart.Column<double, string, string>(
                values: arms.Select(g => g.Average(r => r.Get($"test_{metric}"))).ToArray(),
                Keys: arms.Select(g => g.Key).ToArray(),
                Name: $"percentile (batch), {budget}"));
        }
        var baselines = rows.Where(r => r.Label("kind") is "Dense" or "TopK" or "TopP" || r.Label("routing").StartsWith("fixed (", StringComparison.Ordinal))
            .GroupBy(r => r.Arm).ToList();
        if (baselines.Count > 0)
            charts.Add(Plotly.NET.CSharp.Chart.Column<double, string, string>(
                values: baselines.Select(g => g.Average(r => r.Get($"test_{metric}"))).ToArray(),
                Keys: baselines.Select(g => g.Key).ToArray(),
                Name: "baselines"));
        return Plotly.NET.CSharp.Chart.Combine(charts);
    }

    /// <summary>Share of test tokens using j experts, one series per layer, for one arm of one run
    /// (tables/experts_per_token.csv).</summary>
    public static GenericChart HistogramChart(string runDirectory, string arm)
    {
        string path = Path.Combine(runDirectory, RunLayout.Tables, "experts_per_token.csv");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path} not found: is {runDirectory} a DynaMoE run?", path);
        var rows = Csv.Parse(File.ReadAllText(path), path).Skip(1).Select(r => r.Select(f => f.Text).ToArray())
            .Where(c => c[0] == arm).ToList();
        if (rows.Count == 0) throw new ArgumentException($"arm '{arm}' has no experts-per-token histogram in {path}.");
        var charts = rows.GroupBy(c => int.Parse(c[1], CultureInfo.InvariantCulture)).Select(g =>
            Plotly.NET.CSharp.Chart.Column<double, int, string>(
                values: g.Select(c => double.Parse(c[3], CultureInfo.InvariantCulture)).ToArray(),
                Keys: g.Select(c => int.Parse(c[2], CultureInfo.InvariantCulture)).ToArray(),
                Name: $"{arm} layer {g.Key}")).ToList();
        return Plotly.NET.CSharp.Chart.Combine(charts);
    }
}
