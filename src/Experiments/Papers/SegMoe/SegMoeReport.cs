using System.Globalization;
using Microsoft.Data.Analysis;
using MoeLab.Experiments.Plotting;
using MoeLab.Experiments.Reproductions;
using MoeLab.Experiments.Results;
using MoeLab.Metrics.Statistics;
using Plotly.NET;

namespace MoeLab.Experiments.Papers.SegMoe;

/// <summary>Tables and figures of the Seg-MoE reproduction, from saved runs.</summary>
public static class SegMoeReport
{
    /// <summary>Display order of the arms.</summary>
    public static readonly string[] ArmOrder = SegMoeArms.AllNames;

    /// <summary>The data source of a run ("regimes" when the config has none).</summary>
    public static string SourceOf(RunRecord r) => r.Config.TryGetValue("data.source", out var v) && v is string s ? s : "regimes";

    /// <summary>The completed runs of one data source, one config (the largest preset, then most seeds, then
    /// newest: <see cref="PaperReproductions.MainConfigRuns"/>), or null when there are none.</summary>
    public static ResultSet? Source(ResultSet runs, string source)
    {
        var dirs = runs.Records.Where(r => r.IsCompleted && SourceOf(r) == source).Select(r => r.Directory).ToList();
        return dirs.Count == 0 ? null : PaperReproductions.MainConfigRuns(ResultSet.Load(dirs));
    }

    /// <summary>As <see cref="Source"/>, or an error naming the missing source (claims turn it into "not tested").</summary>
    public static ResultSet Require(ResultSet runs, string source) =>
        Source(runs, source) ?? throw new InvalidOperationException($"no completed seg-moe run on data source '{source}' (run: moelab run seg-moe --preset cpu --seeds 3 --set data.source={source}).");

    /// <summary>Per arm and metric: the per-seed values of a summary metric.</summary>
    public static Dictionary<string, List<double>> PerArm(ResultSet runs, string metric)
    {
        var s = runs.Summaries;
        var arm = FrameColumns.Get(s, "arm");
        var value = FrameColumns.Get(s, metric);
        var result = new Dictionary<string, List<double>>();
        for (long r = 0; r < s.Rows.Count; r++)
        {
            double v = FrameColumns.AsDouble(value[r]) ?? double.NaN;
            if (double.IsNaN(v)) continue;
            string a = FrameColumns.Format(arm[r]);
            (result.TryGetValue(a, out var list) ? list : result[a] = []).Add(v);
        }
        return result;
    }

    private static IEnumerable<string> Ordered(IEnumerable<string> arms) => arms.OrderBy(a => Array.IndexOf(ArmOrder, a) is int i && i >= 0 ? i : 99).ThenBy(a => a);

    /// <summary>The error table: one row per arm, columns "MSE H" and "MAE H" per horizon and their average,
    /// each "mean ± sd (n)" over seeds, in standardised units.</summary>
    public static DataFrame ErrorTable(ResultSet runs)
    {
        var horizons = runs.MetricColumns.Where(m => m.StartsWith("test_mse_", StringComparison.Ordinal) && m != "test_mse_avg")
            .Select(m => int.Parse(m["test_mse_".Length..], CultureInfo.InvariantCulture)).OrderBy(h => h).ToList();
        var columns = horizons.SelectMany(h => new[] { ($"MSE {h}", $"test_mse_{h}"), ($"MAE {h}", $"test_mae_{h}") })
            .Append(("MSE avg", "test_mse_avg")).Append(("MAE avg", "test_mae_avg")).ToList();
        var perMetric = columns.ToDictionary(c => c.Item2, c => PerArm(runs, c.Item2));
        var arms = Ordered(perMetric["test_mse_avg"].Keys).ToList();
        var frame = new DataFrame(new StringDataFrameColumn("arm", arms));
        foreach (var (title, metric) in columns)
            frame.Columns.Add(new StringDataFrameColumn(title, arms.Select(a => Cell(perMetric[metric].GetValueOrDefault(a)))));
        return frame;
    }

    /// <summary>The claims as a table (the columns of <see cref="ClaimsTable.Header"/>; the paper's number prefixed
    /// "paper:"), so it renders as a table in every notebook front end.</summary>
    public static DataFrame ClaimsFrame(IEnumerable<PaperClaim> claims)
    {
        var list = claims.ToList();
        return new DataFrame(
            new StringDataFrameColumn(ClaimsTable.Header[0], list.Select(c => c.Claim)),
            new StringDataFrameColumn(ClaimsTable.Header[1], list.Select(c => "paper: " + c.PaperNumber)),
            new StringDataFrameColumn(ClaimsTable.Header[2], list.Select(c => c.OurMeasure)),
            new StringDataFrameColumn(ClaimsTable.Header[3], list.Select(c => c.OurNumber)),
            new StringDataFrameColumn(ClaimsTable.Header[4], list.Select(c => c.VerdictText)),
            new StringDataFrameColumn(ClaimsTable.Header[5], list.Select(c => c.Note)));
    }

    /// <summary>"mean ± sd (n)" with three decimals.</summary>
    public static string Cell(IReadOnlyList<double>? values)
    {
        if (values is null || values.Count == 0) return "–";
        double mean = values.Average(), sd = SampleStatistics.Std(values);
        return values.Count < 2 ? mean.ToString("F3", CultureInfo.InvariantCulture)
            : $"{mean.ToString("F3", CultureInfo.InvariantCulture)} ± {sd.ToString("F3", CultureInfo.InvariantCulture)} ({values.Count})";
    }

    /// <summary>Test MSE by horizon, one line per arm (mean ± sd over seeds).</summary>
    public static GenericChart? ErrorByHorizon(ResultSet runs, string source)
    {
        var r = Source(runs, source);
        if (r is null) return null;
        var horizons = r.MetricColumns.Where(m => m.StartsWith("test_mse_", StringComparison.Ordinal) && m != "test_mse_avg")
            .Select(m => int.Parse(m["test_mse_".Length..], CultureInfo.InvariantCulture)).OrderBy(h => h).ToList();
        var per = horizons.Select(h => PerArm(r, $"test_mse_{h}")).ToList();
        var arms = Ordered(per[0].Keys).ToList();
        int n = per[0].Values.Max(v => v.Count);
        var series = arms.Select(a => new BandSeries(a, horizons.Select(h => (double)h).ToList(),
            per.Select(p => p[a].Average()).ToList(), per.Select(p => p[a].Count < 2 ? double.NaN : SampleStatistics.Std(p[a])).ToList()));
        return Charts.LineWithBand(series, $"Seg-MoE reproduction ({source}): test MSE by forecast horizon", "forecast horizon H (steps)",
            "test MSE (standardised units)", spread: $"mean ± 1 sd, n = {n} seeds", legendTitle: "arm", lowerBound: 0);
    }

    /// <summary>Average test MSE per arm on each data source (mean ± sd over seeds): whether Seg-MoE's edge
    /// appears on regime data and vanishes on the negative control.</summary>
    public static GenericChart? SourcesComparison(ResultSet runs)
    {
        var sources = new[] { "regimes", "regimes-iid", "weather" }.Where(s => Source(runs, s) is not null).ToList();
        if (sources.Count == 0) return null;
        var per = sources.ToDictionary(s => s, s => PerArm(Source(runs, s)!, "test_mse_avg"));
        var arms = Ordered(per.Values.SelectMany(p => p.Keys).Distinct()).ToList();
        int n = per.Values.SelectMany(p => p.Values).Max(v => v.Count);
        // relative to token-moe on the same source, so sources of different difficulty share one axis
        var series = arms.Select(a => new BarSeries(a, sources,
            sources.Select(s => per[s].TryGetValue(a, out var v) && per[s].TryGetValue("token-moe", out var t) ? 100 * (v.Average() / t.Average() - 1) : double.NaN).ToList(),
            sources.Select(s => per[s].TryGetValue(a, out var v) && per[s].TryGetValue("token-moe", out var t) && v.Count > 1 ? 100 * SampleStatistics.Std(v) / t.Average() : double.NaN).ToList()));
        return Charts.Bars(series, "Seg-MoE reproduction: average test MSE relative to token-wise MoE, per data source",
            "data source", $"test MSE vs token-moe (%, mean ± 1 sd, n = {n} seeds)", legendTitle: "arm");
    }

    /// <summary>Routing–regime agreement (normalised mutual information between each token's expert and the
    /// true regime, mean over MoE layers) per arm, on the regime data and on the negative control.</summary>
    public static GenericChart? RegimeAgreement(ResultSet runs)
    {
        var sources = new[] { "regimes", "regimes-iid" }.Where(s => Source(runs, s) is not null).ToList();
        if (sources.Count == 0) return null;
        var per = sources.ToDictionary(s => s, s => PerArm(Source(runs, s)!, "regime_nmi"));
        var arms = Ordered(per.Values.SelectMany(p => p.Keys).Distinct()).ToList();
        if (arms.Count == 0) return null;
        int n = per.Values.SelectMany(p => p.Values).Max(v => v.Count);
        var series = sources.Select(s => new BarSeries(s, arms,
            arms.Select(a => per[s].TryGetValue(a, out var v) ? v.Average() : double.NaN).ToList(),
            arms.Select(a => per[s].TryGetValue(a, out var v) && v.Count > 1 ? SampleStatistics.Std(v) : double.NaN).ToList()));
        return Charts.Bars(series, "Do experts specialise by regime? Expert–regime mutual information per arm",
            "arm", $"normalised mutual information (mean ± 1 sd, n = {n} seeds)", legendTitle: "data source");
    }

    /// <summary>The true regime of each token and the expert each arm's last MoE layer chose for it, for a
    /// stretch of back-to-back test windows of the regime data (seed with the lowest number).</summary>
    public static GenericChart? RoutingVersusRegime(ResultSet runs, string source = "regimes")
    {
        var r = Source(runs, source);
        if (r is null) return null;
        var table = PaperReproductions.Tables(r, "routing_example").OrderBy(t => t.Run.Seed ?? 0).FirstOrDefault().Table;
        if (table is null || table.Rows.Count == 0) return null;
        var arm = FrameColumns.Get(table, "arm");
        var layer = FrameColumns.Get(table, "layer");
        var token = FrameColumns.Get(table, "token");
        var expert = FrameColumns.Get(table, "expert");
        var regime = FrameColumns.Get(table, "regime");
        var rows = Enumerable.Range(0, (int)table.Rows.Count).Select(i => (Arm: FrameColumns.Format(arm[i]), Layer: (int)FrameColumns.AsDouble(layer[i])!,
            Token: (int)FrameColumns.AsDouble(token[i])!, Expert: (int)FrameColumns.AsDouble(expert[i])!, Regime: (int)FrameColumns.AsDouble(regime[i])!)).ToList();
        var series = new List<BandSeries>();
        var reference = rows.Where(x => x.Arm == rows[0].Arm && x.Layer == rows.Where(y => y.Arm == rows[0].Arm).Max(y => y.Layer)).OrderBy(x => x.Token).ToList();
        series.Add(new BandSeries("true regime", reference.Select(x => (double)x.Token).ToList(), reference.Select(x => (double)x.Regime).ToList()));
        foreach (var a in Ordered(rows.Select(x => x.Arm).Distinct()).Where(a => a is "seg-moe" or "token-moe" or "token-route-seg-shared"))
        {
            int last = rows.Where(x => x.Arm == a).Max(x => x.Layer);
            var pts = rows.Where(x => x.Arm == a && x.Layer == last).OrderBy(x => x.Token).ToList();
            series.Add(new BandSeries($"{a}: expert (layer {last})", pts.Select(x => (double)x.Token).ToList(), pts.Select(x => (double)x.Expert).ToList()));
        }
        return Charts.LineWithBand(series, $"Routing vs regime ({source}, test windows, channel 0): true regime and chosen expert per token",
            "token (patch index along time)", "regime id / expert id (labels, not ordered)", legendTitle: "series", integerX: true);
    }

    /// <summary>History, truth and each arm's forecast for one test window (channel: the last column; seed with the lowest number).</summary>
    public static GenericChart? ForecastExample(ResultSet runs, string source)
    {
        var r = Source(runs, source);
        if (r is null) return null;
        var table = PaperReproductions.Tables(r, "forecast_example").OrderBy(t => t.Run.Seed ?? 0).FirstOrDefault().Table;
        if (table is null || table.Rows.Count == 0) return null;
        var arm = FrameColumns.Get(table, "arm");
        var kind = FrameColumns.Get(table, "series");
        var t = FrameColumns.Get(table, "t");
        var value = FrameColumns.Get(table, "value");
        var rows = Enumerable.Range(0, (int)table.Rows.Count).Select(i => (Arm: FrameColumns.Format(arm[i]), Kind: FrameColumns.Format(kind[i]),
            T: FrameColumns.AsDouble(t[i])!.Value, V: FrameColumns.AsDouble(value[i])!.Value)).ToList();
        string first = rows[0].Arm;
        var series = new List<BandSeries>();
        foreach (var k in new[] { "history", "truth" })
        {
            var pts = rows.Where(x => x.Arm == first && x.Kind == k).OrderBy(x => x.T).ToList();
            series.Add(new BandSeries(k, pts.Select(x => x.T).ToList(), pts.Select(x => x.V).ToList()));
        }
        foreach (var a in Ordered(rows.Select(x => x.Arm).Distinct()))
        {
            var pts = rows.Where(x => x.Arm == a && x.Kind == "forecast").OrderBy(x => x.T).ToList();
            series.Add(new BandSeries($"forecast: {a}", pts.Select(x => x.T).ToList(), pts.Select(x => x.V).ToList()));
        }
        return Charts.LineWithBand(series, $"Seg-MoE reproduction ({source}): one test window, history, truth and forecasts",
            "time step relative to the forecast origin", "value (standardised units)", legendTitle: "series");
    }
}
