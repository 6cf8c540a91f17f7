using System.Globalization;
using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Data.Analysis;
using Microsoft.DotNet.Interactive.Formatting;
using MoeLab.Experiments.Plotting;
using Plotly.NET;

namespace MoeLab.Experiments.Notebooks;

/// <summary>Notebook renderings of MoeLab's result types as MIME bundles (<see cref="Format"/>),
/// the one representation every host uses: the headless runner writes a bundle as an output, the
/// MoeLab kernel sends it as display_data, and <see cref="Register"/> registers the same renderings
/// with Microsoft.DotNet.Interactive.Formatting for .NET Interactive / Polyglot kernels.
/// <list type="bullet">
/// <item><see cref="DataFrame"/>: <c>text/html</c> table (first <see cref="MaxRows"/> rows, column
/// types, row count) in a scroll box, and a <c>text/plain</c> table.</item>
/// <item>Plotly.NET <see cref="GenericChart"/>: <c>application/vnd.plotly.v1+json</c> (figure JSON
/// that plotly.js 3.x draws, see <see cref="PlotlyFigure"/>), a <c>text/html</c> fallback (div +
/// script; plotly.js embedded once per notebook), <c>image/png</c> where headless Chromium is
/// installed (<see cref="ChartImages"/>), and a <c>text/plain</c> summary.</item>
/// </list>
/// Call <see cref="Register"/> once (calling it again does nothing).</summary>
public static class NotebookFormatters
{
    static readonly object gate = new();
    static bool registered;
    static bool plotlyEmitted;
    static readonly AsyncLocal<bool> deferChartImages = new();

    /// <summary>Rows of a DataFrame shown in HTML and text (the row count is always given).</summary>
    public static int MaxRows { get; set; } = 25;

    /// <summary>Height of the scroll box around a DataFrame's HTML table (CSS length).</summary>
    public static string TableMaxHeight { get; set; } = "28em";

    /// <summary>When true (the default, for live notebook hosts), the first chart this process
    /// formats carries the plotly.js bundle in its HTML, later charts only their div and script. The
    /// MoeLab runner strips and re-places the bundle itself so each notebook it writes holds exactly one copy.</summary>
    public static bool EmbedPlotlyOnce { get; set; } = true;

    /// <summary>When charts also carry a PNG (for GitHub and other static viewers), see
    /// <see cref="ChartImageMode"/>. Default from <c>MOELAB_NOTEBOOK_PNG</c>: <c>0</c>/<c>off</c> →
    /// Off, <c>1</c>/<c>always</c> → Always, unset → Auto.</summary>
    public static ChartImageMode ChartImages { get; set; } =
        Environment.GetEnvironmentVariable("MOELAB_NOTEBOOK_PNG")?.Trim().ToLowerInvariant() switch
        {
            "0" or "off" or "false" or "no" => ChartImageMode.Off,
            "1" or "on" or "always" or "true" or "yes" => ChartImageMode.Always,
            _ => ChartImageMode.Auto,
        };

    /// <summary>Pixel size of chart PNGs when the figure sets no width/height, and their scale.</summary>
    public static (int Width, int Height, double Scale) ChartImageSize { get; set; } = (900, 560, 1.5);

    /// <summary>Marks the HTML of a chart output (a CSS class on its div).</summary>
    public const string ChartMarker = "class=\"moelab-chart\"";

    /// <summary>True when the headless runner adds chart PNGs (one Chromium session per notebook):
    /// <see cref="ChartImages"/> is not Off and Chromium is installed.</summary>
    public static bool ChartImagesInRunner => ChartImages != ChartImageMode.Off && ChromiumExporter.FindChromium() is not null;

    /// <summary>True when a chart displayed in a live kernel gets a PNG (one Chromium start per
    /// chart, seconds each): <see cref="ChartImages"/> is Always and Chromium is installed.</summary>
    public static bool ChartImagesLive => ChartImages == ChartImageMode.Always && ChromiumExporter.FindChromium() is not null;

    /// <summary>While set (in the current async flow), <see cref="Format"/> leaves PNGs out of chart
    /// bundles; the headless runner adds them for a whole notebook in one Chromium session
    /// (<see cref="AddChartImages"/>) instead of one per chart.</summary>
    internal static bool DeferChartImages
    {
        get => deferChartImages.Value;
        set => deferChartImages.Value = value;
    }

    /// <summary>Registers the renderings with Microsoft.DotNet.Interactive.Formatting (for .NET
    /// Interactive / Polyglot kernels and any host that formats through it).</summary>
    public static void Register()
    {
        FSharpCoreBinding.Install();
        RegisterFormatters();
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static void RegisterFormatters()
    {
        lock (gate)
        {
            if (registered) return;
            Formatter.Register<DataFrame>(df => DataFrameHtml(df), MimeTypes.Html);
            Formatter.Register<DataFrame>(df => DataFramePlainText(df), MimeTypes.PlainText);
            Formatter.SetPreferredMimeTypesFor(typeof(DataFrame), MimeTypes.Html, MimeTypes.PlainText);
            // A kernel asks for each preferred MIME type in turn; all come from one bundle per display.
            foreach (string mime in new[] { MimeTypes.PlotlyJson, MimeTypes.Html, MimeTypes.Png, MimeTypes.PlainText })
                Formatter.Register<GenericChart>((chart, writer) => writer.Write(LiveChartBundle(chart, mime).TryGet(mime, out var data) ? data : ""), mime);
            var chartMimes = new List<string> { MimeTypes.PlotlyJson, MimeTypes.Html };
            if (ChartImagesLive) chartMimes.Add(MimeTypes.Png);
            chartMimes.Add(MimeTypes.PlainText);
            Formatter.SetPreferredMimeTypesFor(typeof(GenericChart), chartMimes.ToArray());
            registered = true;
        }
    }

    // The bundle of the chart being displayed: built at the first MIME type a kernel asks for and
    // reused for the others; asking again for a MIME type already served starts a new display.
    static readonly ConditionalWeakTable<GenericChart, LiveBundle> live = new();

    sealed class LiveBundle(MimeBundle bundle)
    {
        public MimeBundle Bundle { get; } = bundle;
        public HashSet<string> Served { get; } = new();
    }

    static MimeBundle LiveChartBundle(GenericChart chart, string mime)
    {
        lock (gate)
        {
            if (!live.TryGetValue(chart, out var entry) || !entry.Served.Add(mime))
            {
                live.AddOrUpdate(chart, entry = new LiveBundle(ChartBundle(chart, ChartImagesLive)));
                entry.Served.Add(mime);
            }
            return entry.Bundle;
        }
    }

    /// <summary>Whether <paramref name="value"/> is a type these formatters render as HTML.</summary>
    public static bool HasHtmlFormatter(object value) => value is DataFrame or GenericChart;

    /// <summary>The MIME bundle of any value: DataFrames and charts as described on the class, a
    /// string as itself, null as <c>&lt;null&gt;</c>, anything else as its
    /// Microsoft.DotNet.Interactive.Formatting plain text.</summary>
    public static MimeBundle Format(object? value)
    {
        Register();
        switch (value)
        {
            case null:
                return new MimeBundle().Set(MimeTypes.PlainText, "<null>");
            case string s:
                return new MimeBundle().Set(MimeTypes.PlainText, s);
            case DataFrame df:
                return new MimeBundle().Set(MimeTypes.Html, DataFrameHtml(df)).Set(MimeTypes.PlainText, DataFramePlainText(df));
            case GenericChart chart:
                return ChartBundle(chart, !DeferChartImages && ChartImagesLive);
            default:
                // The formatting library's generic HTML for arbitrary objects carries its own style
                // sheets and adds little to text, so other values are text only.
                return new MimeBundle().Set(MimeTypes.PlainText, value.ToDisplayString(MimeTypes.PlainText));
        }
    }

    /// <summary>A chart's bundle: plotly figure JSON (plotly.js 3.x form), HTML fallback, PNG when
    /// <paramref name="withImage"/> (left out, with a warning on stderr, when Chromium fails), text.</summary>
    public static MimeBundle ChartBundle(GenericChart chart, bool withImage)
    {
        string figure = PlotlyFigure.ForPlotlyJs3(ChartPage.FigureJson(chart));
        var bundle = new MimeBundle()
            .Set(MimeTypes.PlotlyJson, figure)
            .Set(MimeTypes.Html, ChartHtmlFromFigure(figure));
        if (withImage)
        {
            try
            {
                bundle.Set(MimeTypes.Png, Convert.ToBase64String(RenderPng(new[] { figure })[0]));
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or ChromiumNotFoundException)
            {
                Console.Error.WriteLine($"MoeLab: chart PNG left out ({e.Message.Split('\n')[0]})");
            }
        }
        return bundle.Set(MimeTypes.PlainText, ChartPlainText(chart));
    }

    /// <summary>PNGs of figures (figure JSON each), rendered in one headless Chromium session, in a
    /// temporary folder that is removed again.</summary>
    public static IReadOnlyList<byte[]> RenderPng(IReadOnlyList<string> figures)
    {
        string work = Path.Combine(Path.GetTempPath(), "moelab-png-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(work);
        try
        {
            var (defaultWidth, defaultHeight, scale) = ChartImageSize;
            var jobs = figures.Select((figure, i) =>
            {
                var (w, h) = PlotlyFigure.Size(figure);
                return new ImageJob(figure, Path.Combine(work, $"figure-{i}.png"), ImageFormat.Png, w ?? defaultWidth, h ?? defaultHeight, scale);
            }).ToList();
            ChromiumExporter.Export(jobs);
            return jobs.Select(j => File.ReadAllBytes(j.OutputPath)).ToList();
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Adds <c>image/png</c> to every chart output (one with plotly JSON) of
    /// <paramref name="notebook"/> that lacks one, all in one Chromium session; does nothing when
    /// <see cref="ChartImagesInRunner"/> is false. Returns the number of PNGs added; a failure is
    /// reported on <paramref name="log"/> and leaves the outputs without PNGs.</summary>
    public static int AddChartImages(Notebook notebook, TextWriter? log = null)
    {
        var charts = notebook.Cells.Where(c => c.IsCode).SelectMany(c => c.Outputs)
            .Where(o => o.Data.ContainsKey(MimeTypes.PlotlyJson) && !o.Data.ContainsKey(MimeTypes.Png)).ToList();
        if (charts.Count == 0 || !ChartImagesInRunner) return 0;
        try
        {
            var images = RenderPng(charts.Select(o => o.Data[MimeTypes.PlotlyJson]).ToList());
            for (int i = 0; i < charts.Count; i++) charts[i].Data[MimeTypes.Png] = Convert.ToBase64String(images[i]);
            return charts.Count;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or ChromiumNotFoundException)
        {
            log?.WriteLine($"warning: chart PNGs left out: {e.Message.Split('\n')[0]}");
            return 0;
        }
    }

    /// <summary>An HTML table of the first <see cref="MaxRows"/> rows inside a scroll box (wide or
    /// long tables scroll instead of overflowing the page); each header cell holds the column name
    /// and its element type; a caption gives rows × columns.</summary>
    public static string DataFrameHtml(DataFrame df)
    {
        long rows = df.Rows.Count;
        int shown = (int)Math.Min(rows, Math.Max(0, MaxRows));
        var sb = new StringBuilder();
        sb.Append("<div class=\"moelab-dataframe-scroll\" style=\"max-height:").Append(WebUtility.HtmlEncode(TableMaxHeight))
          .Append(";max-width:100%;overflow:auto\">\n");
        sb.Append("<table class=\"moelab-dataframe\">\n<caption style=\"text-align:left\">DataFrame: ")
          .Append(rows.ToString(CultureInfo.InvariantCulture)).Append(rows == 1 ? " row" : " rows").Append(" × ")
          .Append(df.Columns.Count.ToString(CultureInfo.InvariantCulture)).Append(df.Columns.Count == 1 ? " column" : " columns");
        if (shown < rows) sb.Append($" (first {shown} shown)");
        sb.Append("</caption>\n<thead><tr><th></th>");
        foreach (var col in df.Columns)
            sb.Append("<th>").Append(WebUtility.HtmlEncode(col.Name)).Append("<br/><small>")
              .Append(WebUtility.HtmlEncode(TypeName(col.DataType))).Append("</small></th>");
        sb.Append("</tr></thead>\n<tbody>\n");
        for (int r = 0; r < shown; r++)
        {
            sb.Append("<tr><th>").Append(r.ToString(CultureInfo.InvariantCulture)).Append("</th>");
            foreach (var col in df.Columns)
                sb.Append("<td>").Append(WebUtility.HtmlEncode(Cell(col[r]))).Append("</td>");
            sb.Append("</tr>\n");
        }
        sb.Append("</tbody>\n</table>\n</div>");
        return sb.ToString();
    }

    /// <summary>A fixed-width text table of the first <see cref="MaxRows"/> rows with a row count.</summary>
    public static string DataFramePlainText(DataFrame df)
    {
        long rows = df.Rows.Count;
        int shown = (int)Math.Min(rows, Math.Max(0, MaxRows));
        var header = df.Columns.Select(c => $"{c.Name} ({TypeName(c.DataType)})").ToArray();
        var cells = new string[shown][];
        for (int r = 0; r < shown; r++) cells[r] = df.Columns.Select(c => Cell(c[r])).ToArray();
        var widths = header.Select((h, j) => Math.Max(h.Length, cells.Length == 0 ? 0 : cells.Max(row => row[j].Length))).ToArray();
        var sb = new StringBuilder();
        sb.AppendLine(string.Join("  ", header.Select((h, j) => h.PadRight(widths[j]))).TrimEnd());
        foreach (var row in cells) sb.AppendLine(string.Join("  ", row.Select((v, j) => v.PadRight(widths[j]))).TrimEnd());
        sb.Append($"DataFrame: {rows} rows × {df.Columns.Count} columns");
        if (shown < rows) sb.Append($" (first {shown} shown)");
        return sb.ToString();
    }

    /// <summary>The chart's HTML fallback: its div and drawing script (<see cref="ChartPage.Fragment"/>);
    /// the first chart of a process also carries plotly.js when <see cref="EmbedPlotlyOnce"/> is set
    /// (the drawing script needs window.Plotly defined earlier on the page).</summary>
    public static string ChartHtml(GenericChart chart) => ChartHtmlFromFigure(PlotlyFigure.ForPlotlyJs3(ChartPage.FigureJson(chart)));

    static string ChartHtmlFromFigure(string figureJson)
    {
        string fragment = ChartPage.FragmentFromJson(figureJson);
        if (!EmbedPlotlyOnce) return fragment;
        lock (gate)
        {
            if (plotlyEmitted) return fragment;
            plotlyEmitted = true;
        }
        return PlotlyAssets.ScriptTag + "\n" + fragment;
    }

    /// <summary>Forget that plotly.js was emitted (the next chart carries it again).</summary>
    public static void ResetPlotlyEmbedding()
    {
        lock (gate) plotlyEmitted = false;
    }

    /// <summary>Text fallback for a chart: trace count and types, title when set.</summary>
    public static string ChartPlainText(GenericChart chart)
    {
        var traces = GenericChart.getTraces(chart).ToList();
        string kinds = string.Join(", ", traces.Select(t => t.type).Distinct());
        return $"Plotly chart: {traces.Count} trace(s) ({kinds})";
    }

    static string Cell(object? value) => value switch
    {
        null => "null",
        double d => d.ToString("G6", CultureInfo.InvariantCulture),
        float f => f.ToString("G6", CultureInfo.InvariantCulture),
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };

    static string TypeName(Type t) => t switch
    {
        _ when t == typeof(double) => "double",
        _ when t == typeof(float) => "float",
        _ when t == typeof(int) => "int",
        _ when t == typeof(long) => "long",
        _ when t == typeof(bool) => "bool",
        _ when t == typeof(string) => "string",
        _ when t == typeof(short) => "short",
        _ when t == typeof(byte) => "byte",
        _ when t == typeof(decimal) => "decimal",
        _ => t.Name,
    };
}

/// <summary>Whether charts in notebook outputs also carry a PNG.</summary>
public enum ChartImageMode
{
    /// <summary>Where headless Chromium is installed, in headless runs (`moelab notebook run`: all
    /// charts of a notebook in one browser session at the end); not in live kernels, where each
    /// chart would start a browser (seconds per chart).</summary>
    Auto,
    /// <summary>Also in live kernels (.NET Interactive, the MoeLab kernel), one browser start per chart.</summary>
    Always,
    /// <summary>Never (plotly JSON, HTML and text only).</summary>
    Off,
}
