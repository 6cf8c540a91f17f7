using System.Globalization;
using Microsoft.Data.Analysis;
using Microsoft.FSharp.Core;
using MoeLab.Experiments.Results;
using Plotly.NET;
using CSharpChart = Plotly.NET.CSharp.Chart;
using CSharpExt = Plotly.NET.CSharp.GenericChartExtensions;

namespace MoeLab.Experiments.Plotting;

/// <summary>One line with its spread: x, mean and (optional) standard deviation per point.</summary>
public sealed record BandSeries(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Mean, IReadOnlyList<double>? Std = null);

/// <summary>One bar series: categories, heights and (optional) symmetric error bars.</summary>
public sealed record BarSeries(string Name, IReadOnlyList<string> Categories, IReadOnlyList<double> Values, IReadOnlyList<double>? Errors = null);

/// <summary>The charts MoE papers draw, in the lab's house style (<see cref="FigureStyle"/>): lines with a
/// mean ± spread band over seeds, bars and point-ranges with error bars, heatmaps (expert × task,
/// expert × layer) and histograms (experts per token). Every chart gets a title that fits its width,
/// axis titles, a legend naming its series (the legend title says what bands and error bars are),
/// a style per series that never repeats within the figure (<see cref="FigureStyle.Series"/>), and a
/// visible note when a linear y-axis does not start at 0.
/// Traces are built as plain Plotly trace objects (no Plotly.NET template: it adds ~9 KB of JSON per
/// figure and ≈ 1 s of CPU per serialisation here).</summary>
public static class Charts
{
    /// <summary>Series colours (<see cref="FigureStyle.Palette"/>, Okabe–Ito, colour-blind safe).</summary>
    public static IReadOnlyList<string> Palette => FigureStyle.Palette;

    /// <summary>Size of a figure when none is given: <see cref="FigureSize.FullPage"/>.</summary>
    public static int DefaultWidth => FigureStyle.Width(FigureSize.FullPage);
    public static int DefaultHeight => FigureStyle.Height(FigureSize.FullPage);

    /// <summary>Applies the house style (<see cref="FigureStyle"/>): title fitted to the width (wrapped,
    /// then shortened with "…"), axis titles, white background with a light grid, legend (titled with
    /// <paramref name="legendTitle"/> when given), margins and size. Axis types "-" (auto), "linear",
    /// "log" or "category" (<paramref name="categoricalX"/>).</summary>
    public static GenericChart Style(GenericChart chart, string title, string? xTitle = null, string? yTitle = null,
        int width = 0, int height = 0, string xType = "-", string yType = "-", bool categoricalX = false,
        string? legendTitle = null, FigureSize size = FigureSize.FullPage)
    {
        if (width <= 0) width = FigureStyle.Width(size);
        if (height <= 0) height = FigureStyle.Height(size);
        return Chart.withLayout(FigureStyle.Layout(title, xTitle, yTitle, width, height, xType, yType, categoricalX, legendTitle)).Invoke(chart);
    }

    /// <summary>Adds layout properties (a shallow merge: each given key replaces the chart's).</summary>
    public static GenericChart WithLayout(GenericChart chart, IReadOnlyDictionary<string, object> properties)
    {
        var layout = new Layout();
        foreach (var (k, v) in properties) layout.SetProperty(k, v);
        return Chart.withLayout(layout).Invoke(chart);
    }

    /// <summary>A chart of raw Plotly traces (each a dictionary of trace attributes).</summary>
    public static GenericChart FromTraces(IEnumerable<IReadOnlyDictionary<string, object>> traces)
    {
        var charts = traces.Select(t =>
        {
            var trace = new Trace((string)t["type"]);
            foreach (var (k, v) in t) if (k != "type") trace.SetProperty(k, v);
            return GenericChart.ofTraceObject(false, trace);
        }).ToList();
        if (charts.Count == 0) throw new ArgumentException("no traces to plot");
        return charts.Count == 1 ? charts[0] : CSharpChart.Combine(charts);
    }

    // ------------------------------------------------------------ lines with bands

    /// <summary>Lines of the mean with a shaded spread band (no band where the spread is missing/NaN or
    /// when a series has none). All bands are drawn first, light, and all lines on top with their own
    /// colour/dash, so overlapping bands stay readable. <paramref name="spread"/> says what the band is
    /// ("± 1 sd over 3 seeds"); it goes into the legend title. <paramref name="lowerBound"/> clips the band's
    /// lower edge (e.g. 0 for an error that cannot be negative). A linear y-axis whose data stay well
    /// above 0 is zoomed to the data with a visible note (<see cref="FigureStyle.AxisNote"/>).</summary>
    public static GenericChart LineWithBand(IEnumerable<BandSeries> series, string title, string xTitle, string yTitle, string yType = "-",
        string? spread = null, string? legendTitle = null, bool integerX = false, FigureSize size = FigureSize.FullPage, double? lowerBound = null)
    {
        var list = series.ToList();
        var bands = new List<IReadOnlyDictionary<string, object>>();
        var lines = new List<IReadOnlyDictionary<string, object>>();
        var ys = new List<double>();
        for (int i = 0; i < list.Count; i++)
        {
            var s = list[i];
            if (s.X.Count != s.Mean.Count || (s.Std is not null && s.Std.Count != s.Mean.Count))
                throw new ArgumentException($"series '{s.Name}': x, mean and std must have the same length ({s.X.Count}, {s.Mean.Count}, {s.Std?.Count})");
            var style = FigureStyle.Series(i);
            ys.AddRange(s.Mean.Where(double.IsFinite));
            if (s.Std is not null && s.Std.Any(v => !double.IsNaN(v)))
            {
                var std = s.Std.Select(v => double.IsNaN(v) ? 0 : v).ToArray();
                var upper = s.Mean.Zip(std, (m, d) => m + d).ToArray();
                var lower = s.Mean.Zip(std, (m, d) => m - d).ToArray();
                if (lowerBound is double floor) lower = lower.Select(l => Math.Max(floor, l)).ToArray();
                if (yType == "log") lower = lower.Zip(s.Mean, (l, m) => l > 0 ? l : m / 10).ToArray(); // a log axis cannot show ≤ 0
                ys.AddRange(upper.Where(double.IsFinite));
                ys.AddRange(lower.Where(double.IsFinite));
                bands.Add(new Dictionary<string, object>
                {
                    ["type"] = "scatter", ["mode"] = "lines", ["x"] = s.X.ToArray(), ["y"] = upper, ["name"] = s.Name + " +sd",
                    ["showlegend"] = false, ["hoverinfo"] = "skip", ["legendgroup"] = s.Name,
                    ["line"] = new Dictionary<string, object> { ["width"] = 0, ["color"] = style.Color },
                });
                bands.Add(new Dictionary<string, object>
                {
                    ["type"] = "scatter", ["mode"] = "lines", ["x"] = s.X.ToArray(), ["y"] = lower, ["name"] = s.Name + " −sd",
                    ["showlegend"] = false, ["hoverinfo"] = "skip", ["legendgroup"] = s.Name, ["fill"] = "tonexty",
                    ["fillcolor"] = FigureStyle.Rgba(style.Color, BandAlpha(list.Count(x => x.Std is not null))),
                    ["line"] = new Dictionary<string, object> { ["width"] = 0, ["color"] = style.Color },
                });
            }
            lines.Add(new Dictionary<string, object>
            {
                ["type"] = "scatter", ["mode"] = s.X.Count <= 12 ? "lines+markers" : "lines", ["x"] = s.X.ToArray(), ["y"] = s.Mean.ToArray(),
                ["name"] = s.Name, ["legendgroup"] = s.Name,
                ["line"] = new Dictionary<string, object> { ["width"] = 2.2, ["color"] = style.Color, ["dash"] = style.Dash },
                ["marker"] = new Dictionary<string, object> { ["color"] = style.Color, ["symbol"] = style.Symbol, ["size"] = 7 },
            });
        }
        if (lines.Count == 0) throw new ArgumentException("no series to plot");
        var chart = Style(FromTraces(bands.Concat(lines)), title, xTitle, yTitle, yType: yType,
            legendTitle: LegendTitle(legendTitle, spread), size: size);
        chart = WithLayout(chart, FigureStyle.ShowLegend(lines.Count));
        if (integerX) chart = WithLayout(chart, FigureStyle.IntegerAxis("xaxis", list.SelectMany(s => s.X), xTitle));
        return yType is "-" or "linear" ? FigureStyle.FitValueAxis(chart, ys, yTitle, FigureStyle.Height(size)) : chart;
    }

    /// <summary>Fill opacity of one band: light enough that where all bands overlap the stack stays below ≈ 0.35
    /// (five bands of 0.10 turn into a muddy brown), never above 0.16.</summary>
    public static double BandAlpha(int bands) => Math.Round(Math.Min(0.16, 0.35 / Math.Max(1, bands)), 3);

    static string? LegendTitle(string? legendTitle, string? spread) =>
        spread is null ? legendTitle : (legendTitle is null ? "band: " + spread : legendTitle + "<br>band: " + spread);

    /// <summary>Mean ± std bands of one metric over steps, one line per group, from a
    /// <see cref="ResultSet.History"/>-shaped frame (columns step, metric, value and the group
    /// columns). Seeds (runs) within a group are averaged at each step; the legend title says
    /// "± 1 sd over n seeds".</summary>
    public static GenericChart HistoryBands(DataFrame history, string metric, IReadOnlyList<string> seriesBy, string? title = null, string xTitle = "step", string yType = "-",
        string? yTitle = null)
    {
        var metricCol = FrameColumns.Get(history, "metric");
        var rows = FrameColumns.Filter(history, r => (string?)metricCol[r] == metric);
        if (rows.Rows.Count == 0) throw new ArgumentException($"no history rows for metric '{metric}'");
        var agg = SeedAggregation.Aggregate(rows, seriesBy.Concat(new[] { "step" }).ToList(), new[] { "value" });
        var counts = FrameColumns.Get(agg, "value" + SeedAggregation.Count).Cast<object?>().Select(v => FrameColumns.AsDouble(v) ?? 0).ToList();
        int nMin = counts.Count == 0 ? 0 : (int)counts.Min(), nMax = counts.Count == 0 ? 0 : (int)counts.Max();
        string n = nMin == nMax ? $"n = {nMax} seed{(nMax == 1 ? "" : "s")}" : $"n = {nMin}–{nMax} seeds";
        string? spread = nMax >= 2 ? $"mean ± 1 sd, {n}" : null;
        string legend = seriesBy.Count == 1 ? ShortName(seriesBy[0]) : string.Join(", ", seriesBy.Select(ShortName));
        return LineWithBand(BandsFromAggregate(agg, seriesBy, "step", "value"), title ?? metric + (nMax < 2 ? $" ({n})" : ""), xTitle, yTitle ?? metric, yType,
            spread: spread, legendTitle: legend, integerX: xTitle == "step");
    }

    /// <summary>Band series from an aggregated frame (columns x, &lt;y&gt;.mean, &lt;y&gt;.std and the group
    /// columns): one series per distinct group, named "col=value, …" (or just the value for one column).</summary>
    public static IReadOnlyList<BandSeries> BandsFromAggregate(DataFrame aggregated, IReadOnlyList<string> seriesBy, string xColumn, string yColumn)
    {
        var x = FrameColumns.Get(aggregated, xColumn);
        var mean = FrameColumns.Get(aggregated, yColumn + SeedAggregation.Mean);
        var std = FrameColumns.Get(aggregated, yColumn + SeedAggregation.Std);
        var keys = seriesBy.Select(k => FrameColumns.Get(aggregated, k)).ToList();
        var groups = new Dictionary<string, (List<double> X, List<double> M, List<double> S)>();
        var order = new List<string>();
        for (long r = 0; r < aggregated.Rows.Count; r++)
        {
            string name = SeriesName(keys, r);
            if (!groups.TryGetValue(name, out var g)) { groups[name] = g = (new(), new(), new()); order.Add(name); }
            double? m = FrameColumns.AsDouble(mean[r]);
            if (m is null) continue;
            g.X.Add(FrameColumns.AsDouble(x[r]) ?? double.NaN);
            g.M.Add(m.Value);
            g.S.Add(FrameColumns.AsDouble(std[r]) ?? double.NaN);
        }
        return order.Select(n =>
        {
            var g = groups[n];
            var idx = Enumerable.Range(0, g.X.Count).OrderBy(i => g.X[i]).ToList();
            return new BandSeries(n, idx.Select(i => g.X[i]).ToList(), idx.Select(i => g.M[i]).ToList(), idx.Select(i => g.S[i]).ToList());
        }).ToList();
    }

    /// <summary>"value" for one key column, "a=1, b=x" for several, "all" for none.</summary>
    public static string SeriesName(IReadOnlyList<DataFrameColumn> keys, long row)
    {
        if (keys.Count == 0) return "all";
        if (keys.Count == 1) return FrameColumns.Format(keys[0][row]);
        return string.Join(", ", keys.Select(k => ShortName(k.Name) + "=" + FrameColumns.Format(k[row])));
    }

    static string ShortName(string column) => column.StartsWith(ResultSet.ConfigPrefix, StringComparison.Ordinal) ? column[ResultSet.ConfigPrefix.Length..] : column;

    // ------------------------------------------------------------ bars

    /// <summary>Grouped bars with symmetric error bars (e.g. mean ± std or ± 95 % CI over seeds): say
    /// which in <paramref name="yTitle"/> or <paramref name="legendTitle"/>. Bars start at 0; for values
    /// far from 0 use <see cref="PointRange"/>. Past the palette's length bars get fill patterns.</summary>
    public static GenericChart Bars(IEnumerable<BarSeries> series, string title, string xTitle, string yTitle, string? legendTitle = null,
        FigureSize size = FigureSize.FullPage)
    {
        var list = series.ToList();
        var traces = new List<IReadOnlyDictionary<string, object>>();
        for (int i = 0; i < list.Count; i++)
        {
            var s = list[i];
            if (s.Categories.Count != s.Values.Count || (s.Errors is not null && s.Errors.Count != s.Values.Count))
                throw new ArgumentException($"bar series '{s.Name}': categories, values and errors must have the same length");
            var style = FigureStyle.Series(i);
            var marker = new Dictionary<string, object> { ["color"] = style.Color };
            if (style.Pattern != "") marker["pattern"] = new Dictionary<string, object> { ["shape"] = style.Pattern, ["fgcolor"] = "#ffffff", ["size"] = 6 };
            var trace = new Dictionary<string, object>
            {
                ["type"] = "bar", ["x"] = s.Categories.ToArray(), ["y"] = s.Values.ToArray(), ["name"] = s.Name, ["marker"] = marker,
            };
            if (s.Errors is not null)
                trace["error_y"] = new Dictionary<string, object>
                {
                    ["type"] = "data", ["symmetric"] = true, ["array"] = s.Errors.Select(e => double.IsNaN(e) ? 0 : e).ToArray(), ["visible"] = true,
                    ["color"] = "#333", ["thickness"] = 1.5, ["width"] = 6,
                };
            traces.Add(trace);
        }
        if (traces.Count == 0) throw new ArgumentException("no bar series to plot");
        var chart = Style(FromTraces(traces), title, xTitle, yTitle, categoricalX: true, legendTitle: legendTitle, size: size);
        return WithLayout(chart, new Dictionary<string, object>(FigureStyle.ShowLegend(traces.Count)) { ["barmode"] = "group" });
    }

    /// <summary>One metric from an aggregated summary (<see cref="ResultSet.Aggregate"/>): one category
    /// per row along <paramref name="categoryBy"/>, one series per distinct <paramref name="seriesBy"/>,
    /// error bars = std (or "ci95"), n in the axis title. Bars from 0 when the values differ by a
    /// large fraction of their size; otherwise a point-range on an axis fitted to the values (five
    /// bars of ≈ 1,110 from 0 look identical).</summary>
    public static GenericChart BarsFromAggregate(DataFrame aggregated, string metric, IReadOnlyList<string> categoryBy,
        IReadOnlyList<string>? seriesBy = null, string error = "std", string? title = null)
    {
        var mean = FrameColumns.Get(aggregated, metric + SeedAggregation.Mean);
        var err = FrameColumns.Get(aggregated, metric + (error == "ci95" ? SeedAggregation.Ci95 : SeedAggregation.Std));
        var count = FrameColumns.Get(aggregated, metric + SeedAggregation.Count);
        var cats = categoryBy.Select(c => FrameColumns.Get(aggregated, c)).ToList();
        var sers = (seriesBy ?? Array.Empty<string>()).Select(c => FrameColumns.Get(aggregated, c)).ToList();
        var groups = new Dictionary<string, (List<string> C, List<double> V, List<double> E)>();
        var order = new List<string>();
        var ns = new List<long>();
        for (long r = 0; r < aggregated.Rows.Count; r++)
        {
            string s = sers.Count == 0 ? metric : SeriesName(sers, r);
            if (!groups.TryGetValue(s, out var g)) { groups[s] = g = (new(), new(), new()); order.Add(s); }
            g.C.Add(SeriesName(cats, r));
            g.V.Add(FrameColumns.AsDouble(mean[r]) ?? double.NaN);
            g.E.Add(FrameColumns.AsDouble(err[r]) ?? double.NaN);
            ns.Add((long)(FrameColumns.AsDouble(count[r]) ?? 0));
        }
        string n = ns.Count == 0 ? "" : ns.Min() == ns.Max() ? $"n = {ns.Max()}" : $"n = {ns.Min()}–{ns.Max()}";
        string yTitle = metric + (error == "ci95" ? $" (mean ± 95% CI, {n})" : $" (mean ± 1 sd, {n})");
        var bars = order.Select(s => new BarSeries(s, groups[s].C, groups[s].V, groups[s].E)).ToList();
        string xTitle = string.Join(", ", categoryBy.Select(ShortName));
        string? legend = seriesBy is { Count: > 0 } ? string.Join(", ", seriesBy.Select(ShortName)) : null;
        var values = bars.SelectMany(b => b.Values).Where(double.IsFinite).ToList();
        bool nearZeroMatters = values.Count == 0 || values.Min() <= 0 || values.Min() < 0.5 * values.Max();
        return nearZeroMatters
            ? Bars(bars, title ?? metric, xTitle, yTitle, legendTitle: legend)
            : PointRange(bars, title ?? metric, xTitle, yTitle, legendTitle: legend);
    }

    /// <summary>Point-range chart: one marker per category at the mean with a symmetric error bar (e.g.
    /// ± std over seeds), one series per name, dodged side by side. Use it instead of bars when every
    /// value lies far from zero (accuracies of 82–83 %, perplexities of ≈1,100): the y-axis fits the
    /// data, with a visible note that it does not start at 0.</summary>
    public static GenericChart PointRange(IEnumerable<BarSeries> series, string title, string xTitle, string yTitle, string yType = "-",
        string? legendTitle = null, FigureSize size = FigureSize.FullPage)
    {
        var list = series.ToList();
        if (list.Count == 0) throw new ArgumentException("no series to plot");
        var traces = new List<IReadOnlyDictionary<string, object>>();
        var ys = new List<double>();
        for (int i = 0; i < list.Count; i++)
        {
            var s = list[i];
            if (s.Categories.Count != s.Values.Count || (s.Errors is not null && s.Errors.Count != s.Values.Count))
                throw new ArgumentException($"series '{s.Name}': categories, values and errors must have the same length");
            var style = FigureStyle.Series(i);
            var errors = s.Errors?.Select(e => double.IsNaN(e) ? 0 : e).ToArray();
            for (int k = 0; k < s.Values.Count; k++)
            {
                if (!double.IsFinite(s.Values[k])) continue;
                double e = errors?[k] ?? 0;
                ys.Add(s.Values[k] - e);
                ys.Add(s.Values[k] + e);
            }
            var trace = new Dictionary<string, object>
            {
                ["type"] = "scatter", ["mode"] = "markers", ["x"] = s.Categories.ToArray(), ["y"] = s.Values.ToArray(), ["name"] = s.Name,
                ["marker"] = new Dictionary<string, object> { ["color"] = style.Color, ["size"] = 10, ["symbol"] = style.Symbol },
            };
            if (errors is not null)
                trace["error_y"] = new Dictionary<string, object>
                {
                    ["type"] = "data", ["symmetric"] = true, ["array"] = errors, ["visible"] = true,
                    ["color"] = style.Color, ["thickness"] = 1.8, ["width"] = 6,
                };
            if (list.Count > 1) trace["offsetgroup"] = i.ToString(CultureInfo.InvariantCulture);
            traces.Add(trace);
        }
        var chart = Style(FromTraces(traces), title, xTitle, yTitle, categoricalX: true, yType: yType, legendTitle: legendTitle, size: size);
        chart = WithLayout(chart, new Dictionary<string, object>(FigureStyle.ShowLegend(traces.Count)) { ["scattermode"] = "group", ["scattergap"] = 0.5 });
        return yType is "-" or "linear" ? FigureStyle.FitValueAxis(chart, ys, yTitle, FigureStyle.Height(size)) : chart;
    }

    // ------------------------------------------------------------ heatmaps

    /// <summary>Heatmap of <paramref name="z"/>[row][column] with labelled rows and columns, e.g. expert
    /// × task routing frequencies or expert × layer load; rows top to bottom, a colour bar titled with
    /// <paramref name="colorTitle"/> (say the unit: "rounds routed", "share of tokens"). Viridis
    /// (perceptually uniform, colour-blind safe). Each cell shows its value on hover.</summary>
    public static GenericChart Heatmap(IReadOnlyList<IReadOnlyList<double>> z, IReadOnlyList<string> rowLabels, IReadOnlyList<string> columnLabels,
        string title, string rowTitle, string columnTitle, string? colorTitle = null, FigureSize size = FigureSize.FullPage)
    {
        if (z.Count != rowLabels.Count) throw new ArgumentException($"heatmap has {z.Count} rows but {rowLabels.Count} row labels");
        for (int r = 0; r < z.Count; r++)
            if (z[r].Count != columnLabels.Count) throw new ArgumentException($"heatmap row {r} has {z[r].Count} values but {columnLabels.Count} column labels");
        var trace = new Dictionary<string, object>
        {
            ["type"] = "heatmap", ["z"] = z.Select(r => r.ToArray()).ToArray(), ["x"] = columnLabels.ToArray(), ["y"] = rowLabels.ToArray(),
            ["colorscale"] = "Viridis", ["name"] = colorTitle ?? "value",
            ["colorbar"] = new Dictionary<string, object>
            {
                ["title"] = new Dictionary<string, object> { ["text"] = colorTitle ?? "value", ["side"] = "right" },
                ["thickness"] = 16, ["outlinewidth"] = 0,
            },
            ["hovertemplate"] = "%{y}, %{x}: %{z}<extra></extra>",
        };
        var chart = Style(FromTraces(new[] { trace }), title, columnTitle, rowTitle, categoricalX: true, size: size);
        var yaxis = FigureStyle.Axis(rowTitle, "category", categorical: true);
        yaxis["autorange"] = "reversed";
        yaxis["showgrid"] = false;
        var xaxis = FigureStyle.Axis(columnTitle, "category", categorical: true);
        xaxis["showgrid"] = false;
        return WithLayout(chart, new Dictionary<string, object> { ["yaxis"] = yaxis, ["xaxis"] = xaxis });
    }

    /// <summary>Heatmap of a table saved with <c>SaveTable</c>: the first string column labels rows,
    /// every numeric column is a heatmap column.</summary>
    public static GenericChart Heatmap(DataFrame table, string title, string rowTitle, string columnTitle, string? rowLabelColumn = null)
    {
        var labelCol = rowLabelColumn is not null ? FrameColumns.Get(table, rowLabelColumn)
            : table.Columns.FirstOrDefault(c => c.DataType == typeof(string)) ?? table.Columns[0];
        var valueCols = table.Columns.Where(c => c != labelCol && FrameColumns.IsNumeric(c.DataType)).ToList();
        var rows = new List<IReadOnlyList<double>>();
        var labels = new List<string>();
        for (long r = 0; r < table.Rows.Count; r++)
        {
            labels.Add(FrameColumns.Format(labelCol[r]));
            rows.Add(valueCols.Select(c => FrameColumns.AsDouble(c[r]) ?? double.NaN).ToList());
        }
        return Heatmap(rows, labels, valueCols.Select(c => c.Name).ToList(), title, rowTitle, columnTitle);
    }

    // ------------------------------------------------------------ histograms

    /// <summary>Histogram of continuous values (overlaid, semi-transparent when several series).</summary>
    public static GenericChart Histogram(IEnumerable<(string Name, IReadOnlyList<double> Values)> series, string title, string xTitle,
        string yTitle = "count", int? bins = null)
    {
        var list = series.ToList();
        var traces = new List<IReadOnlyDictionary<string, object>>();
        for (int i = 0; i < list.Count; i++)
        {
            var style = FigureStyle.Series(i);
            var marker = new Dictionary<string, object> { ["color"] = style.Color, ["line"] = new Dictionary<string, object> { ["color"] = style.Color, ["width"] = 1 } };
            if (style.Pattern != "") marker["pattern"] = new Dictionary<string, object> { ["shape"] = style.Pattern, ["fgcolor"] = "#ffffff" };
            var trace = new Dictionary<string, object>
            {
                ["type"] = "histogram", ["x"] = list[i].Values.ToArray(), ["name"] = list[i].Name, ["opacity"] = list.Count > 1 ? 0.6 : 0.85, ["marker"] = marker,
            };
            if (bins is int n) trace["nbinsx"] = n;
            traces.Add(trace);
        }
        if (traces.Count == 0) throw new ArgumentException("no histogram series to plot");
        var chart = Style(FromTraces(traces), title, xTitle, yTitle);
        return WithLayout(chart, new Dictionary<string, object>(FigureStyle.ShowLegend(traces.Count)) { ["barmode"] = "overlay" });
    }

    /// <summary>Distribution of a count per token (e.g. experts activated per token): exact bars at each
    /// integer, as a fraction of tokens, one series per name.</summary>
    public static GenericChart CountHistogram(IEnumerable<(string Name, IReadOnlyList<int> Counts)> series, string title, string xTitle = "experts per token",
        string yTitle = "fraction of tokens")
    {
        var list = series.ToList();
        if (list.Count == 0 || list.All(s => s.Counts.Count == 0)) throw new ArgumentException("no counts to plot");
        int lo = list.Where(s => s.Counts.Count > 0).Min(s => s.Counts.Min()), hi = list.Where(s => s.Counts.Count > 0).Max(s => s.Counts.Max());
        var categories = Enumerable.Range(lo, hi - lo + 1).Select(k => k.ToString(CultureInfo.InvariantCulture)).ToList();
        var bars = list.Select(s =>
        {
            var freq = new double[hi - lo + 1];
            foreach (int c in s.Counts) freq[c - lo] += 1.0 / s.Counts.Count;
            return new BarSeries(s.Name, categories, freq);
        });
        return Bars(bars, title, xTitle, yTitle, legendTitle: list.Count > 1 ? "series" : null);
    }
}
