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

/// <summary>The charts MoE papers draw, with one consistent style: lines with a mean ± std band over
/// seeds, bars with error bars, heatmaps (expert × task, expert × layer) and histograms (experts per
/// token). Built with Plotly.NET.CSharp; layout styling through Plotly.NET's layout object.
/// Every chart is built with <c>UseDefaults: false</c>: Plotly.NET's default template adds ~9 KB of
/// JSON per figure and makes each serialisation cost ≈ 1 s of CPU here; our own style replaces it.</summary>
public static class Charts
{
    /// <summary>Series colours (Plotly's default qualitative palette).</summary>
    public static readonly IReadOnlyList<string> Palette = new[]
    {
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    };

    public const int DefaultWidth = 900, DefaultHeight = 560;

    static string Rgba(string hex, double alpha)
    {
        int r = int.Parse(hex.AsSpan(1, 2), NumberStyles.HexNumber), g = int.Parse(hex.AsSpan(3, 2), NumberStyles.HexNumber), b = int.Parse(hex.AsSpan(5, 2), NumberStyles.HexNumber);
        return $"rgba({r},{g},{b},{alpha.ToString(CultureInfo.InvariantCulture)})";
    }

    /// <summary>Applies the MoeLab style: title, axis titles, white background with light grid, legend,
    /// margins and size. Axis types "linear" (default) or "log".</summary>
    public static GenericChart Style(GenericChart chart, string title, string? xTitle = null, string? yTitle = null,
        int width = DefaultWidth, int height = DefaultHeight, string xType = "-", string yType = "-", bool categoricalX = false)
    {
        Dictionary<string, object> Axis(string? text, string type, bool categorical)
        {
            var axis = new Dictionary<string, object>
            {
                ["title"] = new Dictionary<string, object> { ["text"] = text ?? "" },
                ["showgrid"] = true, ["gridcolor"] = "#e5e5e5", ["zeroline"] = false,
                ["showline"] = true, ["linecolor"] = "#444", ["mirror"] = true, ["ticks"] = "outside", ["automargin"] = true,
            };
            if (categorical) axis["type"] = "category";
            else if (type != "-") axis["type"] = type;
            return axis;
        }
        var layout = new Layout();
        layout.SetProperty("title", new Dictionary<string, object> { ["text"] = title, ["x"] = 0.02, ["xanchor"] = "left" });
        layout.SetProperty("font", new Dictionary<string, object> { ["family"] = "Helvetica, Arial, sans-serif", ["size"] = 14, ["color"] = "#222" });
        layout.SetProperty("paper_bgcolor", "white");
        layout.SetProperty("plot_bgcolor", "white");
        layout.SetProperty("xaxis", Axis(xTitle, xType, categoricalX));
        layout.SetProperty("yaxis", Axis(yTitle, yType, false));
        layout.SetProperty("legend", new Dictionary<string, object> { ["bgcolor"] = "rgba(255,255,255,0.8)", ["bordercolor"] = "#ccc", ["borderwidth"] = 1 });
        layout.SetProperty("margin", new Dictionary<string, object> { ["l"] = 70, ["r"] = 30, ["t"] = 60, ["b"] = 60 });
        layout.SetProperty("width", width);
        layout.SetProperty("height", height);
        return Chart.withLayout(layout).Invoke(chart);
    }

    // ------------------------------------------------------------ lines with bands

    /// <summary>Lines of the mean with a shaded mean ± std band (no band where std is missing/NaN or
    /// when a series has no std).</summary>
    public static GenericChart LineWithBand(IEnumerable<BandSeries> series, string title, string xTitle, string yTitle, string yType = "-")
    {
        var parts = new List<GenericChart>();
        int i = 0;
        foreach (var s in series)
        {
            if (s.X.Count != s.Mean.Count || (s.Std is not null && s.Std.Count != s.Mean.Count))
                throw new ArgumentException($"series '{s.Name}': x, mean and std must have the same length ({s.X.Count}, {s.Mean.Count}, {s.Std?.Count})");
            string color = Palette[i++ % Palette.Count];
            if (s.Std is not null && s.Std.Any(v => !double.IsNaN(v)))
            {
                var std = s.Std.Select(v => double.IsNaN(v) ? 0 : v).ToArray();
                var upper = s.Mean.Zip(std, (m, d) => m + d).ToArray();
                var lower = s.Mean.Zip(std, (m, d) => m - d).ToArray();
                parts.Add(CSharpExt.WithTraceInfo(CSharpChart.Line<double, double, string>(x: s.X, y: upper, Name: s.Name + " +std", ShowLegend: false,
                    LineColor: Color.fromString(color), LineWidth: 0.0, UseDefaults: false), LegendGroup: s.Name));
                parts.Add(CSharpExt.WithTraceInfo(CSharpChart.Line<double, double, string>(x: s.X, y: lower, Name: s.Name + " −std", ShowLegend: false,
                    LineColor: Color.fromString(color), LineWidth: 0.0, Fill: StyleParam.Fill.ToNext_y,
                    FillColor: Color.fromString(Rgba(color, 0.2)), UseDefaults: false), LegendGroup: s.Name));
            }
            parts.Add(CSharpExt.WithTraceInfo(CSharpChart.Line<double, double, string>(x: s.X, y: s.Mean, Name: s.Name, LineColor: Color.fromString(color), LineWidth: 2.0, UseDefaults: false), LegendGroup: s.Name));
        }
        if (parts.Count == 0) throw new ArgumentException("no series to plot");
        return Style(CSharpChart.Combine(parts), title, xTitle, yTitle, yType: yType);
    }

    /// <summary>Mean ± std bands of one metric over steps, one line per group, from a
    /// <see cref="ResultSet.History"/>-shaped frame (columns step, metric, value and the group
    /// columns). Seeds (runs) within a group are averaged at each step.</summary>
    public static GenericChart HistoryBands(DataFrame history, string metric, IReadOnlyList<string> seriesBy, string? title = null, string xTitle = "step", string yType = "-")
    {
        var metricCol = FrameColumns.Get(history, "metric");
        var rows = FrameColumns.Filter(history, r => (string?)metricCol[r] == metric);
        if (rows.Rows.Count == 0) throw new ArgumentException($"no history rows for metric '{metric}'");
        var agg = SeedAggregation.Aggregate(rows, seriesBy.Concat(new[] { "step" }).ToList(), new[] { "value" });
        return LineWithBand(BandsFromAggregate(agg, seriesBy, "step", "value"), title ?? metric, xTitle, metric, yType);
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

    /// <summary>Grouped bars with symmetric error bars (e.g. mean ± std or ± 95 % CI over seeds).</summary>
    public static GenericChart Bars(IEnumerable<BarSeries> series, string title, string xTitle, string yTitle)
    {
        var parts = new List<GenericChart>();
        int i = 0;
        foreach (var s in series)
        {
            if (s.Categories.Count != s.Values.Count || (s.Errors is not null && s.Errors.Count != s.Values.Count))
                throw new ArgumentException($"bar series '{s.Name}': categories, values and errors must have the same length");
            string color = Palette[i++ % Palette.Count];
            var bar = CSharpChart.Column<double, string, string>(values: s.Values, Keys: s.Categories.ToArray(), Name: s.Name, MarkerColor: Color.fromString(color), UseDefaults: false);
            if (s.Errors is not null)
            {
                var errors = s.Errors.Select(e => double.IsNaN(e) ? 0 : e).ToArray();
                bar = GenericChart.mapTrace(FuncConvert.FromFunc<Trace, Trace>(t =>
                {
                    t.SetProperty("error_y", new Dictionary<string, object>
                    {
                        ["type"] = "data", ["symmetric"] = true, ["array"] = errors, ["visible"] = true,
                        ["color"] = "#333", ["thickness"] = 1.5, ["width"] = 6,
                    });
                    return t;
                }), bar);
            }
            parts.Add(bar);
        }
        if (parts.Count == 0) throw new ArgumentException("no bar series to plot");
        var chart = Style(CSharpChart.Combine(parts), title, xTitle, yTitle, categoricalX: true);
        var layout = new Layout();
        layout.SetProperty("barmode", "group");
        return Chart.withLayout(layout).Invoke(chart);
    }

    /// <summary>Bars of one metric from an aggregated summary (<see cref="ResultSet.Aggregate"/>): one bar
    /// per row along <paramref name="categoryBy"/>, one series per distinct <paramref name="seriesBy"/>,
    /// error bars = std (or "ci95").</summary>
    public static GenericChart BarsFromAggregate(DataFrame aggregated, string metric, IReadOnlyList<string> categoryBy,
        IReadOnlyList<string>? seriesBy = null, string error = "std", string? title = null)
    {
        var mean = FrameColumns.Get(aggregated, metric + SeedAggregation.Mean);
        var err = FrameColumns.Get(aggregated, metric + (error == "ci95" ? SeedAggregation.Ci95 : SeedAggregation.Std));
        var cats = categoryBy.Select(c => FrameColumns.Get(aggregated, c)).ToList();
        var sers = (seriesBy ?? Array.Empty<string>()).Select(c => FrameColumns.Get(aggregated, c)).ToList();
        var groups = new Dictionary<string, (List<string> C, List<double> V, List<double> E)>();
        var order = new List<string>();
        for (long r = 0; r < aggregated.Rows.Count; r++)
        {
            string s = sers.Count == 0 ? metric : SeriesName(sers, r);
            if (!groups.TryGetValue(s, out var g)) { groups[s] = g = (new(), new(), new()); order.Add(s); }
            g.C.Add(SeriesName(cats, r));
            g.V.Add(FrameColumns.AsDouble(mean[r]) ?? double.NaN);
            g.E.Add(FrameColumns.AsDouble(err[r]) ?? double.NaN);
        }
        string yTitle = metric + (error == "ci95" ? " (mean ± 95% CI)" : " (mean ± std)");
        return Bars(order.Select(s => new BarSeries(s, groups[s].C, groups[s].V, groups[s].E)), title ?? metric,
            string.Join(", ", categoryBy.Select(ShortName)), yTitle);
    }

    /// <summary>Point-range chart: one marker per category at the mean with a symmetric error bar (e.g.
    /// ± std over seeds), one series per name, dodged side by side. Use it instead of bars when every
    /// value lies far from zero (accuracies of 82–83 %, perplexities of ≈1,100): the y-axis fits the
    /// data, which a bar chart from zero cannot do honestly.</summary>
    public static GenericChart PointRange(IEnumerable<BarSeries> series, string title, string xTitle, string yTitle, string yType = "-")
    {
        var list = series.ToList();
        if (list.Count == 0) throw new ArgumentException("no series to plot");
        var parts = new List<GenericChart>();
        for (int i = 0; i < list.Count; i++)
        {
            var s = list[i];
            if (s.Categories.Count != s.Values.Count || (s.Errors is not null && s.Errors.Count != s.Values.Count))
                throw new ArgumentException($"series '{s.Name}': categories, values and errors must have the same length");
            string color = Palette[i % Palette.Count];
            var points = CSharpChart.Point<string, double, string>(x: s.Categories.ToArray(), y: s.Values.ToArray(), Name: s.Name,
                MarkerColor: Color.fromString(color), UseDefaults: false);
            var errors = s.Errors?.Select(e => double.IsNaN(e) ? 0 : e).ToArray();
            int index = i, count = list.Count;
            points = GenericChart.mapTrace(FuncConvert.FromFunc<Trace, Trace>(t =>
            {
                t.SetProperty("marker", new Dictionary<string, object> { ["color"] = color, ["size"] = 9, ["symbol"] = SymbolOf(index) });
                if (errors is not null)
                    t.SetProperty("error_y", new Dictionary<string, object>
                    {
                        ["type"] = "data", ["symmetric"] = true, ["array"] = errors, ["visible"] = true,
                        ["color"] = color, ["thickness"] = 1.5, ["width"] = 5,
                    });
                if (count > 1) { t.SetProperty("offsetgroup", index.ToString(CultureInfo.InvariantCulture)); }
                return t;
            }), points);
            parts.Add(points);
        }
        var chart = Style(CSharpChart.Combine(parts), title, xTitle, yTitle, categoricalX: true, yType: yType);
        var layout = new Layout();
        layout.SetProperty("scattermode", "group");
        layout.SetProperty("scattergap", 0.5);
        return Chart.withLayout(layout).Invoke(chart);
    }

    static string SymbolOf(int i) => new[] { "circle", "square", "diamond", "triangle-up", "x", "cross", "star", "hexagon" }[i % 8];

    // ------------------------------------------------------------ heatmaps

    /// <summary>Heatmap of <paramref name="z"/>[row][column] with labelled rows and columns, e.g. expert
    /// × task routing frequencies or expert × layer load. Each cell shows its value on hover.</summary>
    public static GenericChart Heatmap(IReadOnlyList<IReadOnlyList<double>> z, IReadOnlyList<string> rowLabels, IReadOnlyList<string> columnLabels,
        string title, string rowTitle, string columnTitle, string? colorTitle = null)
    {
        if (z.Count != rowLabels.Count) throw new ArgumentException($"heatmap has {z.Count} rows but {rowLabels.Count} row labels");
        for (int r = 0; r < z.Count; r++)
            if (z[r].Count != columnLabels.Count) throw new ArgumentException($"heatmap row {r} has {z[r].Count} values but {columnLabels.Count} column labels");
        var colorBar = new ColorBar();
        if (colorTitle is not null) colorBar.SetProperty("title", new Dictionary<string, object> { ["text"] = colorTitle, ["side"] = "right" });
        var chart = CSharpChart.Heatmap<double, string, string, string>(zData: z, X: columnLabels.ToArray(), Y: rowLabels.ToArray(),
            ColorScale: StyleParam.Colorscale.Viridis, ColorBar: colorBar, UseDefaults: false);
        chart = Style(chart, title, columnTitle, rowTitle, categoricalX: true);
        var layout = new Layout();
        layout.SetProperty("yaxis", new Dictionary<string, object> { ["title"] = new Dictionary<string, object> { ["text"] = rowTitle }, ["type"] = "category", ["autorange"] = "reversed", ["automargin"] = true, ["ticks"] = "outside" });
        return Chart.withLayout(layout).Invoke(chart);
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
        var parts = new List<GenericChart>();
        int i = 0;
        foreach (var (name, values) in series)
        {
            string color = Palette[i++ % Palette.Count];
            parts.Add(bins is int n
                ? CSharpChart.Histogram<double, double, string>(X: values.ToArray(), Name: name, MarkerColor: Color.fromString(color), Opacity: 0.75, NBinsX: n, UseDefaults: false)
                : CSharpChart.Histogram<double, double, string>(X: values.ToArray(), Name: name, MarkerColor: Color.fromString(color), Opacity: 0.75, UseDefaults: false));
        }
        if (parts.Count == 0) throw new ArgumentException("no histogram series to plot");
        var chart = Style(CSharpChart.Combine(parts), title, xTitle, yTitle);
        var layout = new Layout();
        layout.SetProperty("barmode", "overlay");
        return Chart.withLayout(layout).Invoke(chart);
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
        return Bars(bars, title, xTitle, yTitle);
    }
}
