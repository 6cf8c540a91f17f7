using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.Data.Analysis;
using Microsoft.DotNet.Interactive.Formatting;
using MoeLab.Experiments.Plotting;
using Plotly.NET;

namespace MoeLab.Experiments.Notebooks;

/// <summary>Notebook renderings of MoeLab's result types, registered with
/// Microsoft.DotNet.Interactive.Formatting so any .NET notebook host (the MoeLab runner, a Polyglot /
/// .NET Interactive kernel) shows them: a <see cref="DataFrame"/> as an HTML table (first
/// <see cref="MaxRows"/> rows, column names with their element types, the row count), a Plotly.NET
/// <see cref="GenericChart"/> as an inline chart, each with a text/plain fallback.
/// Call <see cref="Register"/> once (calling it again does nothing).</summary>
public static class NotebookFormatters
{
    static readonly object gate = new();
    static bool registered;
    static bool plotlyEmitted;

    /// <summary>Rows of a DataFrame shown in HTML and text (the row count is always given).</summary>
    public static int MaxRows { get; set; } = 25;

    /// <summary>When true (the default, for live notebook hosts), the first chart this process
    /// formats carries the plotly.js bundle, later charts only their div and script. The MoeLab
    /// runner strips and re-places the bundle itself so each notebook it writes holds exactly one copy.</summary>
    public static bool EmbedPlotlyOnce { get; set; } = true;

    /// <summary>Marks the HTML of a chart output (a CSS class on its div).</summary>
    public const string ChartMarker = "class=\"moelab-chart\"";

    /// <summary>Registers the formatters with Microsoft.DotNet.Interactive.Formatting.</summary>
    public static void Register()
    {
        lock (gate)
        {
            if (registered) return;
            Formatter.Register<DataFrame>(df => DataFrameHtml(df), "text/html");
            Formatter.Register<DataFrame>(df => DataFramePlainText(df), "text/plain");
            Formatter.Register<GenericChart>(chart => ChartHtml(chart), "text/html");
            Formatter.Register<GenericChart>(chart => ChartPlainText(chart), "text/plain");
            Formatter.SetPreferredMimeTypesFor(typeof(DataFrame), "text/html", "text/plain");
            Formatter.SetPreferredMimeTypesFor(typeof(GenericChart), "text/html", "text/plain");
            registered = true;
        }
    }

    /// <summary>Whether <paramref name="value"/> is a type these formatters render as HTML.</summary>
    public static bool HasHtmlFormatter(object value) => value is DataFrame or GenericChart;

    /// <summary>An HTML table of the first <see cref="MaxRows"/> rows; each header cell holds the
    /// column name and its element type; a caption gives rows × columns.</summary>
    public static string DataFrameHtml(DataFrame df)
    {
        long rows = df.Rows.Count;
        int shown = (int)Math.Min(rows, Math.Max(0, MaxRows));
        var sb = new StringBuilder();
        sb.Append("<table class=\"moelab-dataframe\">\n<caption>DataFrame: ")
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
        sb.Append("</tbody>\n</table>");
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

    /// <summary>The chart's div and drawing script (<see cref="ChartPage.Fragment"/>); the first
    /// chart of a process also carries plotly.js when <see cref="EmbedPlotlyOnce"/> is set
    /// (the drawing script needs window.Plotly defined earlier on the page).</summary>
    public static string ChartHtml(GenericChart chart)
    {
        string fragment = ChartPage.Fragment(chart);
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
